//! The store of videos, verdicts, reviews and events.

use crate::error::{Classify, ErrorClass};
use crate::stats::{Event, VerdictStats, VerdictSummary};
use crate::{Verdict, Video};
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted,
    /// The platform id is already known.
    DuplicateId,
    /// The same bytes were ingested before under this id.
    DuplicateContent(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store backend: {0}")]
    Backend(String),
    /// The database cannot be reached (down, restarting, out of connections): the same work
    /// succeeds later, so callers wait and retry instead of failing the message.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored row is corrupt: {0}")]
    Corrupt(String),
    #[error("not found: {0}")]
    NotFound(String),
}

impl Classify for StoreError {
    fn class(&self) -> ErrorClass {
        match self {
            StoreError::Backend(_) | StoreError::Unavailable(_) => ErrorClass::External,
            StoreError::Corrupt(_) => ErrorClass::Internal,
            StoreError::NotFound(_) => ErrorClass::Input,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Inserts a video unless its id or its content hash is already known.
    async fn insert_video(&self, video: &Video) -> Result<InsertOutcome, StoreError>;
    async fn get_video(&self, id: &str) -> Result<Option<Video>, StoreError>;
    /// Upserts by (video id, pipeline version): storing the same verdict twice keeps one row.
    async fn put_verdict(&self, verdict: &Verdict) -> Result<(), StoreError>;
    /// The most recent verdict for a video, whatever its pipeline version.
    async fn latest_verdict(&self, video_id: &str) -> Result<Option<Verdict>, StoreError>;
    /// Ids of videos that have no verdict yet (used to re-enqueue after a crash).
    async fn videos_without_verdict(&self, limit: u32) -> Result<Vec<String>, StoreError>;
    async fn verdict_stats(&self) -> Result<VerdictStats, StoreError>;
    async fn latest_verdicts(&self, limit: u32) -> Result<Vec<VerdictSummary>, StoreError>;
    /// Verdicts decided since `since` (newest first, at most `limit`), for the live monitor.
    async fn verdict_points(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<crate::monitor::VerdictPoint>, StoreError>;
    /// Videos matching `query`, newest first.
    async fn search_videos(
        &self,
        query: &crate::search::VideoQuery,
    ) -> Result<Vec<crate::search::VideoRow>, StoreError>;
    /// The newest events, optionally only those about one video (`data.video_id`).
    async fn events(&self, video_id: Option<&str>, limit: u32) -> Result<Vec<Event>, StoreError>;
    /// Appends to the system events log (shown by the dashboard).
    async fn log_event(
        &self,
        kind: &str,
        level: &str,
        message: &str,
        data: serde_json::Value,
    ) -> Result<(), StoreError>;
}
