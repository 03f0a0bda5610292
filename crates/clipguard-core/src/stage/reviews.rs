//! The review queue and reviewers' decisions: the labels training learns from.
//!
//! The queue holds videos whose latest verdict is uncertain (its harmful score inside the
//! review band), plus a deterministic audit sample of confident ones so confident mistakes get
//! seen too. A reviewer *claims* an item for a while, so two reviewers never take the same one;
//! a decision is a new row (the latest one counts), so an appeal or overturn keeps the history.

use super::store::StoreError;
use crate::Category;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which videos go to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewPolicy {
    /// Verdicts with `band_low <= harmful_score < band_high` are queued.
    pub band_low: f32,
    pub band_high: f32,
    /// Share of the other `ok` verdicts queued as an audit sample (0..=1).
    pub audit_rate: f32,
    /// How long a claim holds.
    pub claim_secs: u64,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReview {
    pub video_id: String,
    pub reviewer: String,
    pub harmful: bool,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub id: i64,
    pub video_id: String,
    pub reviewer: String,
    /// `harmful` or `safe`.
    pub decision: String,
    pub categories: Vec<Category>,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

/// One queued video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    pub video_id: String,
    pub caption: String,
    pub harmful_score: f32,
    /// `uncertain` (inside the band) or `audit` (the sample of confident verdicts).
    pub reason: String,
    /// Who holds it now, if claimed and not expired.
    pub claimed_by: Option<String>,
}

#[async_trait]
pub trait Reviews: Send + Sync {
    /// Stores a decision; the video must exist.
    async fn add_review(&self, review: &NewReview) -> Result<i64, StoreError>;
    /// A video's decisions, oldest first.
    async fn reviews_of(&self, video_id: &str) -> Result<Vec<Review>, StoreError>;
    /// Unreviewed queued videos, most uncertain first.
    async fn review_queue(
        &self,
        policy: &ReviewPolicy,
        limit: u32,
    ) -> Result<Vec<ReviewItem>, StoreError>;
    /// Claims the most uncertain unreviewed item nobody else holds (or renews the one this
    /// reviewer holds); atomic, so two reviewers never get the same video.
    async fn claim_next(
        &self,
        policy: &ReviewPolicy,
        reviewer: &str,
    ) -> Result<Option<ReviewItem>, StoreError>;
    /// Reviews per reviewer: (name, total, harmful).
    async fn reviewer_stats(&self) -> Result<Vec<(String, u64, u64)>, StoreError>;
}
