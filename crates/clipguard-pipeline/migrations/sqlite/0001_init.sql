-- The embedded store and queue share one SQLite file (`<data>/clipguard.db`).
-- Timestamps are RFC 3339 UTC text (sortable); JSON columns hold serde_json of the core types.

CREATE TABLE videos (
    id            TEXT PRIMARY KEY,          -- `{platform}:{platform_id}`
    platform      TEXT NOT NULL,
    platform_id   TEXT NOT NULL,
    source_url    TEXT,
    author        TEXT,
    caption       TEXT NOT NULL DEFAULT '',
    hashtags      TEXT NOT NULL DEFAULT '[]',
    comments      TEXT NOT NULL DEFAULT '[]',
    duration_s    REAL,
    counts        TEXT NOT NULL DEFAULT '{}',
    media_key     TEXT,                      -- content-addressed, never label-based
    content_hash  TEXT,
    media_bytes   INTEGER,
    weak_label    TEXT CHECK (weak_label IN ('harmful', 'safe')),
    source        TEXT NOT NULL,
    ingested_at   TEXT NOT NULL
);
-- Second dedup key: the same bytes under another id are not analysed twice.
CREATE UNIQUE INDEX videos_content_hash ON videos(content_hash) WHERE content_hash IS NOT NULL;

-- One row per (video, pipeline version): re-delivery after a crash upserts the same row.
CREATE TABLE verdicts (
    video_id          TEXT NOT NULL REFERENCES videos(id),
    pipeline_version  TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    reason            TEXT,
    harmful_score     REAL,
    harmful           INTEGER,
    threshold         REAL NOT NULL,
    categories        TEXT NOT NULL,
    modalities        TEXT NOT NULL,
    evidence          TEXT NOT NULL,
    model_versions    TEXT NOT NULL,
    latency_ms        INTEGER NOT NULL,
    decided_at        TEXT NOT NULL,
    writes            INTEGER NOT NULL DEFAULT 1,  -- how many times this row was (re)written
    PRIMARY KEY (video_id, pipeline_version),
    CHECK (status = 'ok' OR reason IS NOT NULL)   -- a failure always says why
);
CREATE INDEX verdicts_decided_at ON verdicts(decided_at);

-- Reviewers' decisions: the labels training (#4) learns from.
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id    TEXT NOT NULL REFERENCES videos(id),
    reviewer    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('harmful', 'safe')),
    categories  TEXT NOT NULL DEFAULT '[]',
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

-- System events log (the seed's `system_logs`, with structured data).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);

-- The durable queue. A message is `ready`, `leased` (invisible until `visible_at`) or `dead`;
-- acknowledged messages are deleted.
CREATE TABLE queue_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    topic        TEXT NOT NULL,
    msg_key      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    visible_at   INTEGER NOT NULL,            -- unix milliseconds
    lease_token  TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- At most one live message per key and topic.
CREATE UNIQUE INDEX queue_live_key ON queue_messages(topic, msg_key) WHERE state IN ('ready', 'leased');
CREATE INDEX queue_ready ON queue_messages(topic, state, visible_at);

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
        (SELECT max(json_extract(m.value, '$.harmful')) FROM json_each(vd2.modalities) m
          WHERE json_extract(m.value, '$.modality') IN ('caption', 'comments', 'speech', 'on_screen_text')) AS text_score,
        (SELECT max(json_extract(m.value, '$.harmful')) FROM json_each(vd2.modalities) m
          WHERE json_extract(m.value, '$.modality') = 'frames') AS video_score
    FROM verdicts vd2
) s ON s.video_id = vd.video_id AND s.pipeline_version = vd.pipeline_version
WHERE vd.decided_at = (SELECT max(decided_at) FROM verdicts WHERE video_id = v.id);
