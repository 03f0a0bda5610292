//! Crawl jobs: the config file's `[[crawl.jobs]]` and the ones saved from the dashboard (the
//! `crawl_jobs` setting, same fields, read again before every round so a running crawler picks
//! up a saved change without a restart). Each runs every `every_minutes`; a run where every
//! target failed is retried sooner, with exponential backoff (1, 2, 4 … minutes, never later
//! than the schedule). When a job last ran is read from its `crawl` events in the store, so a
//! restarted crawler resumes the schedule instead of starting every job again; within a run,
//! what was already stored is skipped before download, so a killed run resumes where it
//! stopped.

use super::{CrawlReport, CrawlRequest, Target, crawl};
use crate::store::SqlStore;
use crate::topology::Backends;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use clipguard_core::config::{Config, CrawlJob};
use clipguard_core::stage::settings::kinds;
use clipguard_core::stage::{CrawlJobStatus, CrawlJobs, Settings, StoreError};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the dashboard's editor starts from when nothing was saved yet.
pub const SAVED_TEMPLATE: &str = r#"# Crawl jobs added here run next to the config file's [[crawl.jobs]], with the same fields.
# Names must be unique (and differ from the config's). Example:
#
# [[jobs]]
# name = "risky-hashtags"
# hashtags = ["boc_phot", "review_phim_18"]   # without '#'
# users = []                                  # TikTok user names, without '@'
# urls = []                                   # any page yt-dlp can list
# searches = []                               # yt-dlp searches, e.g. "ytsearch20:review phim"
# label = "harmful"                           # weak label: harmful, safe or ""
# every_minutes = 120
# max_per_run = 20
# delay_ms = 5000
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedJobs {
    #[serde(default)]
    jobs: Vec<CrawlJob>,
}

/// Parses and checks a saved `crawl_jobs` document: every job must make a valid request
/// (targets, label), names must be unique and not taken by the config file's jobs.
pub fn parse_saved(config: &Config, body: &str) -> Result<Vec<CrawlJob>, String> {
    let saved: SavedJobs = toml::from_str(body).map_err(|e| format!("crawl jobs TOML: {e}"))?;
    let mut names: BTreeSet<&str> = config.crawl.jobs.iter().map(|j| j.name.as_str()).collect();
    for job in &saved.jobs {
        if job.name.trim().is_empty() {
            return Err("a crawl job needs a name".into());
        }
        if !names.insert(&job.name) {
            return Err(format!(
                "job name `{}` is used twice (or by the config file)",
                job.name
            ));
        }
        let r = request(config, job)?;
        if r.targets.is_empty() {
            return Err(format!("job {}: no hashtag, user, URL or search", job.name));
        }
        if job.every_minutes.is_nan() || job.every_minutes <= 0.0 {
            return Err(format!("job {}: every_minutes must be > 0", job.name));
        }
    }
    Ok(saved.jobs)
}

/// The config file's jobs, marked as such.
fn config_jobs(config: &Config) -> Vec<(CrawlJob, &'static str)> {
    config
        .crawl
        .jobs
        .iter()
        .map(|j| (j.clone(), "config"))
        .collect()
}

/// The jobs in force and where each comes from: the config's, then the saved ones.
pub async fn all_jobs(
    config: &Config,
    store: &SqlStore,
) -> Result<Vec<(CrawlJob, &'static str)>, String> {
    let mut jobs = config_jobs(config);
    let saved = store
        .latest_setting(kinds::CRAWL_JOBS)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(v) = saved {
        let parsed =
            parse_saved(config, &v.body).map_err(|e| format!("saved crawl jobs #{}: {e}", v.id))?;
        jobs.extend(parsed.into_iter().map(|j| (j, "dashboard")));
    }
    Ok(jobs)
}

/// The request a job makes.
pub fn request(config: &Config, job: &CrawlJob) -> Result<CrawlRequest, String> {
    let named = |e: super::target::TargetError| format!("job {}: {e}", job.name);
    let targets =
        Target::all(&job.hashtags, &job.users, &job.urls, &job.searches).map_err(named)?;
    let label = super::target::weak_label(&job.label).map_err(named)?;
    Ok(CrawlRequest {
        targets,
        label,
        max_per_target: job.max_per_run.unwrap_or(config.crawl.max_per_run),
        delay: Duration::from_millis(job.delay_ms.unwrap_or(config.crawl.delay_ms)),
        jitter: Duration::from_millis(config.crawl.jitter_ms),
        job: Some(job.name.clone()),
    })
}

/// When a job is next due, after a run at `last` with `failures` failed runs in a row.
pub fn next_due(job: &CrawlJob, last: Option<DateTime<Utc>>, failures: u32) -> DateTime<Utc> {
    let Some(last) = last else {
        return DateTime::<Utc>::MIN_UTC;
    };
    let every = chrono::Duration::seconds((job.every_minutes.max(0.0) * 60.0) as i64);
    let wait = if failures == 0 {
        every
    } else {
        chrono::Duration::minutes(1i64 << failures.saturating_sub(1).min(16)).min(every)
    };
    last + wait
}

/// Runs the due jobs once (`forever` = false), or keeps running them until `stop` (then an
/// empty job list just waits: jobs may be saved from the dashboard meanwhile).
pub async fn run(
    backends: &Backends,
    forever: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<Vec<(String, Result<CrawlReport, String>)>, String> {
    let mut failures: BTreeMap<String, u32> = BTreeMap::new();
    let mut done = Vec::new();
    loop {
        let jobs = match all_jobs(&backends.config, &backends.store).await {
            Ok(jobs) => jobs,
            Err(e) if forever => {
                tracing::warn!("crawl jobs: {e}");
                config_jobs(&backends.config)
            }
            Err(e) => return Err(e),
        };
        if jobs.is_empty() && !forever {
            return Err(
                "no crawl jobs ([[crawl.jobs]] in the config file, or saved from the dashboard's Crawl page)"
                    .into(),
            );
        }
        let mut soonest: Option<DateTime<Utc>> = None;
        for (job, _) in &jobs {
            let last = backends
                .store
                .last_crawl_at(&job.name)
                .await
                .map_err(|e| e.to_string())?;
            let due = next_due(job, last, failures.get(&job.name).copied().unwrap_or(0));
            if due > Utc::now() {
                soonest = Some(soonest.map_or(due, |s| s.min(due)));
                continue;
            }
            let outcome = match request(&backends.config, job) {
                Ok(r) => crawl(backends, &r).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            let failed = match &outcome {
                Ok(r) => r.found == 0 && !r.failed.is_empty(),
                Err(_) => true,
            };
            let count = failures.entry(job.name.clone()).or_insert(0);
            *count = if failed { *count + 1 } else { 0 };
            done.push((job.name.clone(), outcome));
            if *stop.borrow() {
                return Ok(done);
            }
        }
        if !forever {
            return Ok(done);
        }
        let wait = soonest
            .map(|s| (s - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(Duration::from_secs(60))
            .clamp(Duration::from_secs(1), Duration::from_secs(300));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return Ok(done),
        }
    }
}

/// The dashboard's view of the jobs ([`CrawlJobs`]).
#[derive(Clone)]
pub struct JobBoard {
    pub config: Config,
    pub store: Arc<SqlStore>,
}

#[async_trait]
impl CrawlJobs for JobBoard {
    async fn crawl_jobs(&self) -> Result<Vec<CrawlJobStatus>, StoreError> {
        let jobs = all_jobs(&self.config, &self.store)
            .await
            .map_err(StoreError::Corrupt)?;
        let mut out = Vec::with_capacity(jobs.len());
        for (job, source) in jobs {
            let last = self.store.last_crawl_at(&job.name).await?;
            let recent = self.store.crawl_events(&job.name, 10).await?;
            let due = next_due(&job, last, 0).max(Utc::now());
            out.push(CrawlJobStatus {
                source: source.to_string(),
                last_run: last.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                next_due: due.to_rfc3339_opts(SecondsFormat::Secs, true),
                recent,
                job,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clipguard_core::WeakLabel;

    fn job() -> CrawlJob {
        CrawlJob {
            name: "j".into(),
            hashtags: vec!["boc_phot".into()],
            users: vec![],
            urls: vec![],
            searches: vec![],
            label: "harmful".into(),
            every_minutes: 120.0,
            max_per_run: None,
            delay_ms: None,
        }
    }

    #[test]
    fn schedule_backs_off_after_failures_and_never_waits_longer_than_its_period() {
        let at = Utc::now();
        assert!(next_due(&job(), None, 0) < at, "never ran: due now");
        assert_eq!(
            next_due(&job(), Some(at), 0),
            at + chrono::Duration::minutes(120)
        );
        assert_eq!(
            next_due(&job(), Some(at), 1),
            at + chrono::Duration::minutes(1)
        );
        assert_eq!(
            next_due(&job(), Some(at), 3),
            at + chrono::Duration::minutes(4)
        );
        assert_eq!(
            next_due(&job(), Some(at), 30),
            at + chrono::Duration::minutes(120)
        );
        let config = Config::default();
        let r = request(&config, &job()).unwrap();
        assert_eq!(r.job.as_deref(), Some("j"));
        assert_eq!(r.label, Some(WeakLabel::Harmful));
        let mut bad = job();
        bad.label = "maybe".into();
        assert!(request(&config, &bad).is_err());
    }
}
