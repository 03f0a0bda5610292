//! Crawl jobs from `[[crawl.jobs]]`: each runs every `every_minutes`; a run where every target
//! failed is retried sooner, with exponential backoff (1, 2, 4 … minutes, never later than the
//! schedule). When a job last ran is read from its `crawl` events in the store, so a restarted
//! crawler resumes the schedule instead of starting every job again; within a run, what was
//! already stored is skipped before download, so a killed run resumes where it stopped.

use super::{CrawlReport, CrawlRequest, Target, crawl};
use crate::topology::Backends;
use chrono::{DateTime, Utc};
use clipguard_core::config::{Config, CrawlJob};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;

/// The request a job makes.
pub fn request(config: &Config, job: &CrawlJob) -> Result<CrawlRequest, String> {
    let named = |e: super::target::TargetError| format!("job {}: {e}", job.name);
    let targets = Target::all(&job.hashtags, &job.users, &job.urls).map_err(named)?;
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

/// Runs the due jobs once (`forever` = false), or keeps running them until `stop`.
pub async fn run(
    backends: &Backends,
    forever: bool,
    mut stop: watch::Receiver<bool>,
) -> Result<Vec<(String, Result<CrawlReport, String>)>, String> {
    let jobs = backends.config.crawl.jobs.clone();
    if jobs.is_empty() {
        return Err("no crawl jobs configured ([[crawl.jobs]] in the config file)".into());
    }
    let mut requests = BTreeMap::new();
    for job in &jobs {
        requests.insert(job.name.clone(), request(&backends.config, job)?);
    }
    let mut failures: BTreeMap<String, u32> = BTreeMap::new();
    let mut done = Vec::new();
    loop {
        let mut soonest: Option<DateTime<Utc>> = None;
        for job in &jobs {
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
            let outcome = crawl(backends, &requests[&job.name])
                .await
                .map_err(|e| e.to_string());
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
