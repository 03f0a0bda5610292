//! The review queue, claims and reviewers' decisions in the store.
//!
//! The queue is computed, not stored: every video whose latest verdict is `ok` and that no one
//! has reviewed, kept when its score is inside the review band (`uncertain`) or when its id
//! falls in the audit sample (`audit`: sha256 of the id below `audit_rate`, so the sample is
//! stable across calls and machines). Claims live in `review_claims`; taking one happens in a
//! transaction that SQLite serialises (it writes first) and PostgreSQL serialises with an
//! advisory lock, so two reviewers never claim the same video.

use super::sql::{SqlStore, backend, from_json, to_json};
use crate::sql::now_text;
use async_trait::async_trait;
use chrono::{Duration, SecondsFormat, Utc};
use clipguard_core::stage::{NewReview, Review, ReviewItem, ReviewPolicy, Reviews, StoreError};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// The advisory-lock key that serialises claims (PostgreSQL).
const CLAIM_LOCK: i64 = 0x0063_6c61_696d;

/// How many recent unreviewed verdicts the queue looks at.
const SCAN_LIMIT: i64 = 20_000;

/// Whether `video_id` is in the audit sample at `rate`.
fn in_audit_sample(video_id: &str, rate: f32) -> bool {
    let digest = Sha256::digest(video_id.as_bytes());
    let x = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (x as f64) < rate.clamp(0.0, 1.0) as f64 * u32::MAX as f64
}

/// The queue, most uncertain first, then the audit sample (newest first).
async fn queue(
    conn: &mut AnyConnection,
    policy: &ReviewPolicy,
) -> Result<Vec<ReviewItem>, StoreError> {
    let rows: Vec<(String, String, f64, Option<String>)> = sqlx::query_as(
        "SELECT v.id, v.caption, vd.harmful_score, c.reviewer
         FROM verdicts vd
         JOIN videos v ON v.id = vd.video_id
         LEFT JOIN review_claims c ON c.video_id = v.id AND c.expires_at > $1
         WHERE vd.status = 'ok' AND vd.harmful_score IS NOT NULL
           AND vd.decided_at = (SELECT max(decided_at) FROM verdicts WHERE video_id = vd.video_id)
           AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.video_id = v.id)
         ORDER BY vd.decided_at DESC
         LIMIT $2",
    )
    .bind(now_text())
    .bind(SCAN_LIMIT)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    let middle = (policy.band_low + policy.band_high) / 2.0;
    let mut uncertain = Vec::new();
    let mut audit = Vec::new();
    for (video_id, caption, score, claimed_by) in rows {
        let score = score as f32;
        let reason = if (policy.band_low..policy.band_high).contains(&score) {
            "uncertain"
        } else if in_audit_sample(&video_id, policy.audit_rate) {
            "audit"
        } else {
            continue;
        };
        let item = ReviewItem {
            video_id,
            caption,
            harmful_score: score,
            reason: reason.to_string(),
            claimed_by,
        };
        if reason == "uncertain" {
            uncertain.push(item);
        } else {
            audit.push(item);
        }
    }
    uncertain.sort_by(|a, b| {
        (a.harmful_score - middle)
            .abs()
            .total_cmp(&(b.harmful_score - middle).abs())
    });
    uncertain.extend(audit);
    Ok(uncertain)
}

#[async_trait]
impl Reviews for SqlStore {
    async fn add_review(&self, r: &NewReview) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM videos WHERE id = $1")
            .bind(&r.video_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("video `{}`", r.video_id)));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reviews (video_id, reviewer, decision, categories, note, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&r.video_id)
        .bind(&r.reviewer)
        .bind(if r.harmful { "harmful" } else { "safe" })
        .bind(to_json(&r.categories)?)
        .bind(&r.note)
        .bind(now_text())
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("DELETE FROM review_claims WHERE video_id = $1")
            .bind(&r.video_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(id)
    }

    async fn reviews_of(&self, video_id: &str) -> Result<Vec<Review>, StoreError> {
        let rows: Vec<(i64, String, String, String, String, String)> = sqlx::query_as(
            "SELECT id, reviewer, decision, categories, note, created_at FROM reviews
             WHERE video_id = $1 ORDER BY id",
        )
        .bind(video_id)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, reviewer, decision, categories, note, at)| {
                Ok(Review {
                    id,
                    video_id: video_id.to_string(),
                    reviewer,
                    decision,
                    categories: from_json("reviews.categories", &categories)?,
                    note,
                    created_at: chrono::DateTime::parse_from_rfc3339(&at)
                        .map_err(|e| StoreError::Corrupt(format!("reviews.created_at: {e}")))?
                        .with_timezone(&Utc),
                })
            })
            .collect()
    }

    async fn review_queue(
        &self,
        policy: &ReviewPolicy,
        limit: u32,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        let mut items = queue(&mut conn, policy).await?;
        items.truncate(limit as usize);
        Ok(items)
    }

    async fn claim_next(
        &self,
        policy: &ReviewPolicy,
        reviewer: &str,
    ) -> Result<Option<ReviewItem>, StoreError> {
        let mut tx = self.pool().begin().await.map_err(backend)?;
        if let Some(lock) = self.dialect().exclusive(CLAIM_LOCK) {
            sqlx::query(&lock)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        sqlx::query("DELETE FROM review_claims WHERE expires_at <= $1")
            .bind(now_text())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let items = queue(&mut tx, policy).await?;
        let pick = items
            .iter()
            .find(|i| i.claimed_by.as_deref() == Some(reviewer))
            .or_else(|| items.iter().find(|i| i.claimed_by.is_none()))
            .cloned();
        let Some(mut item) = pick else {
            tx.commit().await.map_err(backend)?;
            return Ok(None);
        };
        let expires = (Utc::now() + Duration::seconds(policy.claim_secs as i64))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        sqlx::query(
            "INSERT INTO review_claims (video_id, reviewer, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT(video_id) DO UPDATE SET reviewer = excluded.reviewer, expires_at = excluded.expires_at",
        )
        .bind(&item.video_id)
        .bind(reviewer)
        .bind(expires)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        item.claimed_by = Some(reviewer.to_string());
        Ok(Some(item))
    }

    async fn reviewer_stats(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT reviewer, count(*), sum(CASE WHEN decision = 'harmful' THEN 1 ELSE 0 END) FROM reviews
             GROUP BY reviewer ORDER BY count(*) DESC",
        )
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(name, n, harmful)| (name, n as u64, harmful as u64))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::in_audit_sample;

    #[test]
    fn the_audit_sample_is_stable_and_close_to_its_rate() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("tiktok:{i}")).collect();
        let picked = ids.iter().filter(|id| in_audit_sample(id, 0.05)).count();
        assert!((400..600).contains(&picked), "{picked}");
        assert!(ids.iter().all(|id| !in_audit_sample(id, 0.0)));
        assert!(ids.iter().all(|id| in_audit_sample(id, 1.0)));
        let again = ids.iter().filter(|id| in_audit_sample(id, 0.05)).count();
        assert_eq!(picked, again);
    }
}
