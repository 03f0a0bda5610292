//! The store: videos, verdicts, reviews and events, in the embedded SQLite file (next to the
//! embedded queue) or in PostgreSQL, through one `AnyPool` and one set of queries (`crate::sql`).

use crate::sql::{Dialect, now_text};
use async_trait::async_trait;
use clipguard_core::monitor::VerdictPoint;
use clipguard_core::stage::{InsertOutcome, Store, StoreError};
use clipguard_core::stats::{Event, VerdictStats, VerdictSummary};
use clipguard_core::{Verdict, VerdictStatus, Video, WeakLabel};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

/// Maps a database error, telling an unreachable database (retry the same work later) from an
/// error in the statement or the data.
pub(super) fn backend(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        // SQLSTATE class 08 (connection exception), 57P0x (the server is shutting down or
        // starting up), 53xxx (insufficient resources); SQLite's BUSY/LOCKED (5/6).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("57P")
                || c.starts_with("53")
                || c == "5"
                || c == "6"
        }),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    column: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// An `events.created_at` value as a time.
fn event_time(at: Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    at.map(|t| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| StoreError::Corrupt(format!("events.created_at `{t}`: {e}")))
    })
    .transpose()
}

impl SqlStore {
    pub fn new(pool: AnyPool, dialect: Dialect) -> Self {
        SqlStore { pool, dialect }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn video_from_row(row: &AnyRow) -> Result<Video, StoreError> {
        let ingested: String = row.get("ingested_at");
        Ok(Video {
            id: row.get("id"),
            platform: row.get("platform"),
            platform_id: row.get("platform_id"),
            source_url: row.get("source_url"),
            author: row.get("author"),
            caption: row.get("caption"),
            hashtags: from_json("hashtags", &row.get::<String, _>("hashtags"))?,
            comments: from_json("comments", &row.get::<String, _>("comments"))?,
            duration_s: row.get("duration_s"),
            counts: from_json("counts", &row.get::<String, _>("counts"))?,
            media_key: row.get("media_key"),
            content_hash: row.get("content_hash"),
            media_bytes: row.get::<Option<i64>, _>("media_bytes").map(|b| b as u64),
            weak_label: row
                .get::<Option<String>, _>("weak_label")
                .and_then(|l| WeakLabel::parse(&l)),
            source: row.get("source"),
            ingested_at: chrono::DateTime::parse_from_rfc3339(&ingested)
                .map_err(|e| StoreError::Corrupt(format!("ingested_at: {e}")))?
                .with_timezone(&chrono::Utc),
        })
    }

    fn verdict_from_row(row: &AnyRow) -> Result<Verdict, StoreError> {
        let status = match row.get::<String, _>("status").as_str() {
            "ok" => VerdictStatus::Ok,
            "failed" => VerdictStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("verdict status `{other}`"))),
        };
        let decided: String = row.get("decided_at");
        Ok(Verdict {
            video_id: row.get("video_id"),
            status,
            reason: row.get("reason"),
            harmful_score: row.get::<Option<f64>, _>("harmful_score").map(|s| s as f32),
            harmful: row.get::<Option<i64>, _>("harmful").map(|h| h != 0),
            threshold: row.get::<f64, _>("threshold") as f32,
            categories: from_json("categories", &row.get::<String, _>("categories"))?,
            modalities: from_json("modalities", &row.get::<String, _>("modalities"))?,
            evidence: from_json("evidence", &row.get::<String, _>("evidence"))?,
            texts: from_json("texts", &row.get::<String, _>("texts"))?,
            model_versions: from_json("model_versions", &row.get::<String, _>("model_versions"))?,
            pipeline_version: row.get("pipeline_version"),
            latency_ms: row.get::<i64, _>("latency_ms") as u64,
            decided_at: chrono::DateTime::parse_from_rfc3339(&decided)
                .map_err(|e| StoreError::Corrupt(format!("decided_at: {e}")))?
                .with_timezone(&chrono::Utc),
        })
    }

    /// When the last event of `kind` was logged.
    pub async fn last_event_at(
        &self,
        kind: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let at: Option<String> =
            sqlx::query_scalar("SELECT max(created_at) FROM events WHERE kind = $1")
                .bind(kind)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        event_time(at)
    }

    /// Every reviewed video's latest review decision (`true`: harmful), oldest first.
    pub async fn review_decisions(&self) -> Result<Vec<(String, bool)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.video_id, r.decision FROM reviews r
             WHERE r.id = (SELECT max(id) FROM reviews WHERE video_id = r.video_id)
             ORDER BY r.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(id, decision)| (id, decision == "harmful"))
            .collect())
    }

    /// [`Self::review_decisions`] with the text each video was judged on (caption with
    /// hashtags, then comments, joined by ` [SEP] ` as in the seed's training table):
    /// reviewers' labels as training rows for the text model.
    pub async fn review_labels(&self) -> Result<Vec<(String, String, bool)>, StoreError> {
        let mut out = Vec::new();
        for (id, harmful) in self.review_decisions().await? {
            let Some(video) = self.get_video(&id).await? else {
                continue;
            };
            let mut parts = vec![video.caption_text()];
            parts.extend(video.comments.iter().map(|c| c.text.clone()));
            let text = parts
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" [SEP] ");
            if !text.is_empty() {
                out.push((id, text, harmful));
            }
        }
        Ok(out)
    }

    /// The stored id of a video named by its id or its platform id (labels files use either).
    pub async fn resolve_video_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT id FROM videos WHERE id = $1 OR platform_id = $1 LIMIT 1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)
    }

    /// Review labels recorded after `since`.
    pub async fn reviews_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM reviews WHERE created_at > $1")
            .bind(since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(n as u64)
    }

    /// When crawl job `job` last ran (its newest `crawl` event).
    pub async fn last_crawl_at(
        &self,
        job: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let sql = format!(
            "SELECT max(created_at) FROM events WHERE kind = 'crawl' AND {} = $1",
            self.dialect.json_text("data", "job")
        );
        let at: Option<String> = sqlx::query_scalar(&sql)
            .bind(job)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        event_time(at)
    }

    /// A crawl job's events (one per target and run), newest first.
    pub async fn crawl_events(&self, job: &str, limit: u32) -> Result<Vec<Event>, StoreError> {
        let filter = format!(
            "kind = 'crawl' AND {} = $1",
            self.dialect.json_text("data", "job")
        );
        self.select_events(&filter, Some(job), limit).await
    }

    /// Events matching `filter` (SQL with `$1` = `bind`), newest first.
    async fn select_events(
        &self,
        filter: &str,
        bind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT id, kind, level, message, data, created_at FROM events
             WHERE {filter} ORDER BY id DESC LIMIT $2"
        );
        let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(&sql)
            .bind(bind)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|(id, kind, level, message, data, created_at)| {
                Ok(Event {
                    id,
                    kind,
                    level,
                    message,
                    data: from_json("events.data", &data)?,
                    created_at,
                })
            })
            .collect()
    }

    /// Whether a video with this source URL is stored (the crawler's dedup before download).
    pub async fn knows_source_url(&self, url: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM videos WHERE source_url = $1 LIMIT 1")
                .bind(url)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.is_some())
    }

    /// How many verdict rows exist for a video (tests use this to prove "no duplicates").
    pub async fn verdict_rows(&self, video_id: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM verdicts WHERE video_id = $1")
            .bind(video_id)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(n as u64)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn search_videos(
        &self,
        query: &clipguard_core::search::VideoQuery,
    ) -> Result<Vec<clipguard_core::search::VideoRow>, StoreError> {
        super::search::search(&self.pool, self.dialect, query).await
    }

    async fn verdict_points(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<VerdictPoint>, StoreError> {
        type Row = (
            String,
            String,
            String,
            Option<i64>,
            Option<f64>,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT vd.decided_at, v.ingested_at, vd.status, vd.harmful, vd.harmful_score,
                    vd.categories, vd.modalities
             FROM verdicts vd JOIN videos v ON v.id = vd.video_id
             WHERE vd.decided_at >= $1 ORDER BY vd.decided_at DESC LIMIT $2",
        )
        .bind(since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let time = |column: &str, t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| StoreError::Corrupt(format!("{column} `{t}`: {e}")))
        };
        rows.into_iter()
            .map(
                |(decided, ingested, status, harmful, score, categories, modalities)| {
                    Ok(VerdictPoint {
                        decided_at: time("verdicts.decided_at", &decided)?,
                        ingested_at: time("videos.ingested_at", &ingested)?,
                        harmful: (status == "ok").then_some(harmful == Some(1)),
                        score: score.map(|s| s as f32),
                        categories: from_json("verdicts.categories", &categories)?,
                        modalities: from_json("verdicts.modalities", &modalities)?,
                    })
                },
            )
            .collect()
    }

    async fn events(&self, video_id: Option<&str>, limit: u32) -> Result<Vec<Event>, StoreError> {
        let filter = format!(
            "$1 IS NULL OR {} = $1",
            self.dialect.json_text("data", "video_id")
        );
        self.select_events(&filter, video_id, limit).await
    }

    async fn insert_video(&self, v: &Video) -> Result<InsertOutcome, StoreError> {
        if let Some(hash) = &v.content_hash {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM videos WHERE content_hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
            if let Some(existing) = existing {
                return Ok(if existing == v.id {
                    InsertOutcome::DuplicateId
                } else {
                    InsertOutcome::DuplicateContent(existing)
                });
            }
        }
        let done = sqlx::query(
            "INSERT INTO videos (id, platform, platform_id, source_url, author, caption, hashtags,
                 comments, duration_s, counts, media_key, content_hash, media_bytes, weak_label, source, ingested_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&v.id)
        .bind(&v.platform)
        .bind(&v.platform_id)
        .bind(&v.source_url)
        .bind(&v.author)
        .bind(&v.caption)
        .bind(to_json(&v.hashtags)?)
        .bind(to_json(&v.comments)?)
        .bind(v.duration_s)
        .bind(to_json(&v.counts)?)
        .bind(&v.media_key)
        .bind(&v.content_hash)
        .bind(v.media_bytes.map(|b| b as i64))
        .bind(v.weak_label.map(WeakLabel::as_str))
        .bind(&v.source)
        .bind(v.ingested_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .execute(&self.pool)
        .await;
        match done {
            Ok(d) if d.rows_affected() == 1 => Ok(InsertOutcome::Inserted),
            Ok(_) => Ok(InsertOutcome::DuplicateId),
            // A concurrent ingest of the same bytes won the race on the content-hash index.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(
                InsertOutcome::DuplicateContent(String::from("(concurrent ingest)")),
            ),
            Err(e) => Err(backend(e)),
        }
    }

    async fn get_video(&self, id: &str) -> Result<Option<Video>, StoreError> {
        let row = sqlx::query("SELECT * FROM videos WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(Self::video_from_row).transpose()
    }

    async fn put_verdict(&self, v: &Verdict) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO verdicts (video_id, pipeline_version, status, reason, harmful_score, harmful, threshold,
                 categories, modalities, evidence, model_versions, latency_ms, decided_at, texts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (video_id, pipeline_version) DO UPDATE SET
                 status = excluded.status, reason = excluded.reason, harmful_score = excluded.harmful_score,
                 harmful = excluded.harmful, threshold = excluded.threshold, categories = excluded.categories,
                 modalities = excluded.modalities, evidence = excluded.evidence,
                 model_versions = excluded.model_versions, latency_ms = excluded.latency_ms,
                 decided_at = excluded.decided_at, texts = excluded.texts,
                 writes = verdicts.writes + 1",
        )
        .bind(&v.video_id)
        .bind(&v.pipeline_version)
        .bind(v.status.as_str())
        .bind(&v.reason)
        .bind(v.harmful_score.map(f64::from))
        .bind(v.harmful.map(i64::from))
        .bind(f64::from(v.threshold))
        .bind(to_json(&v.categories)?)
        .bind(to_json(&v.modalities)?)
        .bind(to_json(&v.evidence)?)
        .bind(to_json(&v.model_versions)?)
        .bind(v.latency_ms as i64)
        .bind(v.decided_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(to_json(&v.texts)?)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn latest_verdict(&self, video_id: &str) -> Result<Option<Verdict>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM verdicts WHERE video_id = $1 ORDER BY decided_at DESC LIMIT 1",
        )
        .bind(video_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(Self::verdict_from_row).transpose()
    }

    async fn videos_without_verdict(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT id FROM videos v WHERE NOT EXISTS (SELECT 1 FROM verdicts vd WHERE vd.video_id = v.id)
             ORDER BY ingested_at LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn verdict_stats(&self) -> Result<VerdictStats, StoreError> {
        let videos: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        let row = sqlx::query(
            "SELECT count(*) AS processed,
                    coalesce(sum(CASE WHEN final_decision = 'harmful' THEN 1 ELSE 0 END), 0) AS harmful,
                    coalesce(sum(CASE WHEN final_decision = 'safe' THEN 1 ELSE 0 END), 0) AS safe,
                    coalesce(sum(CASE WHEN final_decision = 'failed' THEN 1 ELSE 0 END), 0) AS failed
             FROM processed_results",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(VerdictStats {
            videos: videos as u64,
            processed: row.get::<i64, _>("processed") as u64,
            harmful: row.get::<i64, _>("harmful") as u64,
            safe: row.get::<i64, _>("safe") as u64,
            failed: row.get::<i64, _>("failed") as u64,
        })
    }

    async fn latest_verdicts(&self, limit: u32) -> Result<Vec<VerdictSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.id, v.caption, vd.* FROM verdicts vd JOIN videos v ON v.id = vd.video_id
             ORDER BY vd.decided_at DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let verdict = Self::verdict_from_row(row)?;
                let top = verdict
                    .evidence
                    .iter()
                    .find(|e| e.kind != clipguard_core::EvidenceKind::Info)
                    .map(|e| match &e.rule_id {
                        Some(rule) => format!("{rule}: {}", e.excerpt),
                        None => e.excerpt.clone(),
                    });
                Ok(VerdictSummary {
                    video_id: verdict.video_id.clone(),
                    caption: row.get("caption"),
                    label: verdict.label().to_string(),
                    harmful_score: verdict.harmful_score,
                    reason: verdict.reason.clone(),
                    top_evidence: top,
                    decided_at: verdict
                        .decided_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                })
            })
            .collect()
    }

    async fn log_event(
        &self,
        kind: &str,
        level: &str,
        message: &str,
        data: serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO events (kind, level, message, data, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kind)
        .bind(level)
        .bind(message)
        .bind(data.to_string())
        .bind(now_text())
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
