-- The PostgreSQL store (#6): the same tables, columns and names as migrations/sqlite, so the
-- store's queries are one text for both engines. Timestamps stay RFC 3339 UTC text (sortable,
-- identical across engines); JSON columns stay text holding serde_json (cast to jsonb where a
-- query reads inside). Numbers are BIGINT / DOUBLE PRECISION to decode as i64 / f64.
-- The queue is not here: the scale-out queue is Kafka.

CREATE TABLE videos (
    id            TEXT PRIMARY KEY,          -- `{platform}:{platform_id}`
    platform      TEXT NOT NULL,
    platform_id   TEXT NOT NULL,
    source_url    TEXT,
    author        TEXT,
    caption       TEXT NOT NULL DEFAULT '',
    hashtags      TEXT NOT NULL DEFAULT '[]',
    comments      TEXT NOT NULL DEFAULT '[]',
    duration_s    DOUBLE PRECISION,
    counts        TEXT NOT NULL DEFAULT '{}',
    media_key     TEXT,                      -- content-addressed, never label-based
    content_hash  TEXT,
    media_bytes   BIGINT,
    weak_label    TEXT CHECK (weak_label IN ('harmful', 'safe')),
    source        TEXT NOT NULL,
    ingested_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX videos_content_hash ON videos(content_hash) WHERE content_hash IS NOT NULL;
CREATE INDEX videos_platform_id ON videos(platform_id);

-- One row per (video, pipeline version): re-delivery after a crash upserts the same row.
CREATE TABLE verdicts (
    video_id          TEXT NOT NULL REFERENCES videos(id),
    pipeline_version  TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason            TEXT,
    harmful_score     DOUBLE PRECISION,
    harmful           BIGINT,
    threshold         DOUBLE PRECISION NOT NULL,
    categories        TEXT NOT NULL,
    modalities        TEXT NOT NULL,
    evidence          TEXT NOT NULL,
    model_versions    TEXT NOT NULL,
    latency_ms        BIGINT NOT NULL,
    decided_at        TEXT NOT NULL,
    writes            BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (video_id, pipeline_version),
    CHECK (status = 'ok' OR reason IS NOT NULL)
);
CREATE INDEX verdicts_decided_at ON verdicts(decided_at);

CREATE TABLE reviews (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    video_id    TEXT NOT NULL REFERENCES videos(id),
    reviewer    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('harmful', 'safe')),
    categories  TEXT NOT NULL DEFAULT '[]',
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX events_kind ON events(kind, created_at);

-- The seed's results table, as a view over the latest verdict of each video, with its 11 columns.
CREATE VIEW processed_results AS
SELECT
    v.id AS video_id,
    v.caption AS raw_text,
    v.weak_label AS human_label,
    CASE WHEN s.text_score IS NULL THEN NULL
         WHEN s.text_score >= vd.threshold THEN 'harmful' ELSE 'safe' END AS text_verdict,
    s.text_score,
    CASE WHEN s.video_score IS NULL THEN NULL
         WHEN s.video_score >= vd.threshold THEN 'harmful' ELSE 'safe' END AS video_verdict,
    s.video_score,
    vd.harmful_score AS avg_score,
    vd.threshold,
    CASE WHEN vd.status = 'failed' THEN 'failed'
         WHEN vd.harmful = 1 THEN 'harmful' ELSE 'safe' END AS final_decision,
    vd.decided_at AS processed_at
FROM videos v
JOIN verdicts vd ON vd.video_id = v.id
JOIN (
    SELECT vd2.video_id, vd2.pipeline_version,
        (SELECT max((m ->> 'harmful')::float8) FROM jsonb_array_elements(vd2.modalities::jsonb) m
          WHERE m ->> 'modality' IN ('caption', 'comments', 'speech', 'on_screen_text')) AS text_score,
        (SELECT max((m ->> 'harmful')::float8) FROM jsonb_array_elements(vd2.modalities::jsonb) m
          WHERE m ->> 'modality' = 'frames') AS video_score
    FROM verdicts vd2
) s ON s.video_id = vd.video_id AND s.pipeline_version = vd.pipeline_version
WHERE vd.decided_at = (SELECT max(decided_at) FROM verdicts WHERE video_id = v.id);
