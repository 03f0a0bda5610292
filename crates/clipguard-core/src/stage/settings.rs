//! Settings people edit while the platform runs — the keyword rules, the decision thresholds
//! and the dashboard's crawl jobs — kept as versions: every save is a new row with its author and note, the latest
//! is in force, and workers pick it up without a restart. The history is the audit trail.

use super::store::StoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Setting kinds.
pub mod kinds {
    /// The keyword rules, in the rules-file TOML format (`config/rules.toml`).
    pub const RULES: &str = "rules";
    /// The decision thresholds, as JSON `{"threshold": 0.5, "category_thresholds": {…}}`.
    pub const THRESHOLDS: &str = "thresholds";
    /// Crawl jobs added from the dashboard, in the TOML of the config's `[[crawl.jobs]]`
    /// (`[[jobs]]` tables); the crawler runs them next to the config's.
    pub const CRAWL_JOBS: &str = "crawl_jobs";
    /// What workers apply while they run.
    pub const WORKER: [&str; 2] = [RULES, THRESHOLDS];
    pub const ALL: [&str; 3] = [RULES, THRESHOLDS, CRAWL_JOBS];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingVersion {
    pub id: i64,
    pub kind: String,
    pub body: String,
    pub author: String,
    pub note: String,
    pub created_at: String,
}

#[async_trait]
pub trait Settings: Send + Sync {
    /// Stores a new version (the caller validated it); returns its id.
    async fn put_setting(
        &self,
        kind: &str,
        body: &str,
        author: &str,
        note: &str,
    ) -> Result<i64, StoreError>;
    /// The version in force, if any was ever saved.
    async fn latest_setting(&self, kind: &str) -> Result<Option<SettingVersion>, StoreError>;
    /// Newest first.
    async fn setting_history(
        &self,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<SettingVersion>, StoreError>;
}

/// Checks a setting before it is saved, and gives the text in force before any save (the rules
/// file or the built-in rules; the configured thresholds). Implemented where the parsers live.
pub trait SettingsCheck: Send + Sync {
    /// `Ok(summary)` when `body` is a valid `kind`, else the reason.
    fn check(&self, kind: &str, body: &str) -> Result<String, String>;
    fn initial(&self, kind: &str) -> Result<String, String>;
}
