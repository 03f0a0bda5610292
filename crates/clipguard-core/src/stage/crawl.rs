//! What the dashboard shows about crawl jobs: each job (from the config file or saved from the
//! dashboard as the `crawl_jobs` setting), when it last ran, when it is next due and what its
//! recent runs found. The crawler (`clipguard-pipeline`'s `crawl::jobs`) implements it, since it
//! owns the job format and the schedule.

use super::store::StoreError;
use crate::config::CrawlJob;
use crate::stats::Event;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlJobStatus {
    pub job: CrawlJob,
    /// `config` (the config file's `[[crawl.jobs]]`) or `dashboard` (the saved setting).
    pub source: String,
    /// RFC 3339 UTC; `None`: never ran.
    pub last_run: Option<String>,
    /// When the schedule runs it next (RFC 3339 UTC; a job that never ran is due now).
    pub next_due: String,
    /// The job's latest `crawl` events (one per target and run), newest first.
    pub recent: Vec<Event>,
}

#[async_trait]
pub trait CrawlJobs: Send + Sync {
    /// Every job in force, config ones first. A saved document that no longer parses is an
    /// error (it was checked when saved, so only a config change can cause it).
    async fn crawl_jobs(&self) -> Result<Vec<CrawlJobStatus>, StoreError>;
}
