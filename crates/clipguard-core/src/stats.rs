//! Counters the CLI `status` command and the web page show.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Messages waiting (ready or leased but not yet acknowledged).
    pub depth: u64,
    /// Of those, how many are leased by a worker right now.
    pub in_flight: u64,
    pub dead_letters: u64,
    /// Age of the oldest waiting message, in seconds (`None`: nothing waits).
    #[serde(default)]
    pub lag_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictStats {
    pub videos: u64,
    pub processed: u64,
    pub harmful: u64,
    pub safe: u64,
    pub failed: u64,
}

/// A row for "latest verdicts" lists: enough to show without loading the whole verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictSummary {
    pub video_id: String,
    pub caption: String,
    pub label: String,
    pub harmful_score: Option<f32>,
    pub reason: Option<String>,
    pub top_evidence: Option<String>,
    pub decided_at: String,
}

/// One line of the system events log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub level: String,
    pub message: String,
    pub data: serde_json::Value,
    pub created_at: String,
}

/// Event kinds more than one component reads or writes.
pub mod event_kinds {
    /// A finished retraining (the schedule's reference point).
    pub const RETRAIN: &str = "retrain";
    /// A retraining asked for by a person (dashboard); the schedule honours it once.
    pub const RETRAIN_REQUEST: &str = "retrain-request";
}
