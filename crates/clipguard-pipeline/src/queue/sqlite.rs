//! The embedded durable queue: rows in SQLite with leases.
//!
//! A lease is an `UPDATE … RETURNING` that marks rows `leased`, stamps a fresh lease token and
//! pushes `visible_at` forward by the visibility timeout. If the worker dies, the rows become
//! visible again when that time passes and another worker (or the restarted one) takes them
//! over with a new token; the dead worker's token no longer acks anything. SQLite serialises
//! writers, so two workers can never lease the same row at once.

use crate::sqlite::now_ms;
use async_trait::async_trait;
use clipguard_core::config::QueueConfig;
use clipguard_core::stage::{DeadLetter, Delivery, Queue, QueueError, QueueMessage, RetryOutcome};
use clipguard_core::stats::QueueStats;
use sqlx::{Row, SqlitePool};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SqliteQueue {
    pool: SqlitePool,
    topic: String,
    config: QueueConfig,
}

fn backend(e: sqlx::Error) -> QueueError {
    QueueError::Backend(e.to_string())
}

impl SqliteQueue {
    pub fn new(pool: SqlitePool, topic: impl Into<String>, config: QueueConfig) -> Self {
        SqliteQueue {
            pool,
            topic: topic.into(),
            config,
        }
    }

    /// Exponential backoff for the attempt that just failed, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.config.backoff(attempt)
    }

    fn parse_receipt(receipt: &str) -> Result<(i64, &str), QueueError> {
        let (id, token) = receipt
            .split_once(':')
            .ok_or_else(|| QueueError::Malformed(format!("bad receipt `{receipt}`")))?;
        let id = id
            .parse()
            .map_err(|_| QueueError::Malformed(format!("bad receipt `{receipt}`")))?;
        Ok((id, token))
    }

    /// Dead-letters leased messages whose lease expired after their last allowed attempt: a
    /// message that crashes its worker every time must not loop forever.
    async fn reap_exhausted(&self, now: i64) -> Result<(), QueueError> {
        sqlx::query(
            "UPDATE queue_messages SET state = 'dead', lease_token = NULL, updated_at = ?1,
                 last_error = coalesce(last_error, '') || ' [lease expired on the last attempt: the worker died or hung]'
             WHERE topic = ?2 AND state = 'leased' AND visible_at <= ?1 AND attempts >= ?3",
        )
        .bind(now)
        .bind(&self.topic)
        .bind(i64::from(self.config.max_attempts))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    /// Messages in dead letters, newest first: (key, attempts, last error).
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<(String, u32, String)>, QueueError> {
        let rows = sqlx::query(
            "SELECT msg_key, attempts, coalesce(last_error, '') AS err FROM queue_messages
             WHERE topic = ?1 AND state = 'dead' ORDER BY updated_at DESC LIMIT ?2",
        )
        .bind(&self.topic)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("msg_key"),
                    r.get::<i64, _>("attempts") as u32,
                    r.get::<String, _>("err"),
                )
            })
            .collect())
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn publish(&self, message: QueueMessage) -> Result<bool, QueueError> {
        let now = now_ms();
        let payload = serde_json::to_string(&message.payload)
            .map_err(|e| QueueError::Malformed(e.to_string()))?;
        let done = sqlx::query(
            "INSERT OR IGNORE INTO queue_messages (topic, msg_key, payload, state, attempts, visible_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'ready', 0, ?4, ?4, ?4)",
        )
        .bind(&self.topic)
        .bind(&message.key)
        .bind(payload)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn lease(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let now = now_ms();
        self.reap_exhausted(now).await?;
        let token = format!("{:016x}", rand_token());
        let until = now + (self.config.visibility_timeout_secs as i64) * 1000;
        let rows = sqlx::query(
            "UPDATE queue_messages
                SET state = 'leased', lease_token = ?1, attempts = attempts + 1, visible_at = ?2, updated_at = ?3
              WHERE id IN (SELECT id FROM queue_messages
                            WHERE topic = ?4 AND state IN ('ready', 'leased') AND visible_at <= ?3
                            ORDER BY visible_at, id LIMIT ?5)
             RETURNING id, msg_key, payload, attempts",
        )
        .bind(&token)
        .bind(until)
        .bind(now)
        .bind(&self.topic)
        .bind(max as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.get("id");
            let payload: String = row.get("payload");
            let payload =
                serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
            out.push(Delivery {
                receipt: format!("{id}:{token}"),
                message: QueueMessage {
                    key: row.get("msg_key"),
                    payload,
                },
                attempt: row.get::<i64, _>("attempts") as u32,
            });
        }
        out.sort_by(|a, b| a.receipt.cmp(&b.receipt));
        Ok(out)
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let (id, token) = Self::parse_receipt(&delivery.receipt)?;
        let done = sqlx::query("DELETE FROM queue_messages WHERE id = ?1 AND lease_token = ?2")
            .bind(id)
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::LeaseLost(delivery.receipt.clone()));
        }
        Ok(())
    }

    async fn retry(&self, delivery: &Delivery, error: &str) -> Result<RetryOutcome, QueueError> {
        let (id, token) = Self::parse_receipt(&delivery.receipt)?;
        let now = now_ms();
        if delivery.attempt >= self.config.max_attempts {
            self.dead_letter(delivery, error).await?;
            return Ok(RetryOutcome::DeadLettered);
        }
        let wait = self.backoff(delivery.attempt);
        let done = sqlx::query(
            "UPDATE queue_messages SET state = 'ready', lease_token = NULL, visible_at = ?1,
                    last_error = ?2, updated_at = ?3
              WHERE id = ?4 AND lease_token = ?5",
        )
        .bind(now + wait.as_millis() as i64)
        .bind(error)
        .bind(now)
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::LeaseLost(delivery.receipt.clone()));
        }
        Ok(RetryOutcome::RetryAfter(wait))
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), QueueError> {
        let (id, token) = Self::parse_receipt(&delivery.receipt)?;
        let done = sqlx::query(
            "UPDATE queue_messages SET state = 'dead', lease_token = NULL, last_error = ?1, updated_at = ?2
              WHERE id = ?3 AND lease_token = ?4",
        )
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(QueueError::LeaseLost(delivery.receipt.clone()));
        }
        Ok(())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let row = sqlx::query(
            "SELECT
                coalesce(sum(state IN ('ready', 'leased')), 0) AS depth,
                coalesce(sum(state = 'leased' AND visible_at > ?2), 0) AS in_flight,
                coalesce(sum(state = 'dead'), 0) AS dead,
                min(CASE WHEN state IN ('ready', 'leased') THEN created_at END) AS oldest
             FROM queue_messages WHERE topic = ?1",
        )
        .bind(&self.topic)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(QueueStats {
            depth: row.get::<i64, _>("depth") as u64,
            in_flight: row.get::<i64, _>("in_flight") as u64,
            dead_letters: row.get::<i64, _>("dead") as u64,
            lag_secs: row
                .get::<Option<i64>, _>("oldest")
                .map(|oldest| (now_ms() - oldest).max(0) as f64 / 1000.0),
        })
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, QueueError> {
        let rows: Vec<(i64, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT id, msg_key, attempts, last_error, updated_at FROM queue_messages
             WHERE topic = ?1 AND state = 'dead' ORDER BY updated_at DESC LIMIT ?2",
        )
        .bind(&self.topic)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(id, key, attempts, last_error, at)| DeadLetter {
                id: id.to_string(),
                key,
                attempts: attempts as u32,
                last_error,
                dead_since_ms: at,
            })
            .collect())
    }

    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let now = now_ms();
        // The unique live-key index refuses it when the video is already queued again.
        let done = sqlx::query(
            "UPDATE OR IGNORE queue_messages
             SET state = 'ready', attempts = 0, visible_at = ?3, lease_token = NULL, updated_at = ?3
             WHERE id = ?1 AND topic = ?2 AND state = 'dead'",
        )
        .bind(id)
        .bind(&self.topic)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn discard_dead(&self, id: &str) -> Result<bool, QueueError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let done = sqlx::query(
            "DELETE FROM queue_messages WHERE id = ?1 AND topic = ?2 AND state = 'dead'",
        )
        .bind(id)
        .bind(&self.topic)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}

/// A lease token unique enough to tell two leases of the same row apart (time + counter +
/// process id; not a secret).
fn rand_token() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let pid = u64::from(std::process::id());
    t.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (pid << 40)
}
