//! The crawler: discover with yt-dlp, skip what is already known before downloading, download
//! the new items politely (a delay between downloads, at most `max` per target), and hand the
//! downloads to ingest (which dedups again by content hash and queues them).
//!
//! Every address yt-dlp is pointed at passes the SSRF guard first (`ingest/guard.rs`): the
//! target and every discovered entry is resolved and refused when it lands on a non-public
//! address the config does not allow. What yt-dlp itself connects to after that (redirects,
//! CDN hosts) is not intercepted yet — see the #7 notes.

pub mod jobs;
pub mod target;
pub mod ytdlp;

use crate::ingest::guard::{GuardError, NetworkGuard};
use crate::topology::Backends;
use clipguard_core::WeakLabel;
use clipguard_core::stage::Store;
use std::path::Path;
use std::time::{Duration, Instant};
pub use target::Target;
use ytdlp::{Entry, YtDlp};

#[derive(Debug, Clone)]
pub struct CrawlRequest {
    pub targets: Vec<Target>,
    /// A weak label for everything found (the seed's risky/safe hashtag lists).
    pub label: Option<WeakLabel>,
    pub max_per_target: usize,
    pub delay: Duration,
    /// Up to this much more, at random, on top of `delay` (so the pace is not a fingerprint).
    pub jitter: Duration,
    /// The crawl job this run belongs to (its events carry the name; schedules resume from
    /// them).
    pub job: Option<String>,
}

impl CrawlRequest {
    /// The pause before the next download: `delay` plus a random part of `jitter`.
    fn pace(&self) -> Duration {
        use std::hash::BuildHasher;
        let jitter = self.jitter.as_millis() as u64;
        let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
        let extra = if jitter == 0 {
            0
        } else {
            random % (jitter + 1)
        };
        self.delay + Duration::from_millis(extra)
    }
}

/// What one crawl did, per target and in total.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CrawlReport {
    pub found: usize,
    /// Not known before (by source URL or id).
    pub new: usize,
    pub downloaded: usize,
    pub queued: usize,
    pub failed: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("{0}")]
    Other(String),
}

/// Resolves `url`'s host and checks every address against the guard.
async fn check_target(guard: &NetworkGuard, url: &str) -> Result<(), CrawlError> {
    let parsed = url::Url::parse(url).map_err(|e| CrawlError::Other(format!("`{url}`: {e}")))?;
    guard.check_url(&parsed)?;
    let host = parsed
        .host_str()
        .ok_or_else(|| CrawlError::Other(format!("`{url}` has no host")))?
        .trim_matches(|c| c == '[' || c == ']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| CrawlError::Other(format!("cannot resolve `{host}`: {e}")))?
        .collect();
    // Every address must pass: yt-dlp may pick any of them.
    for addr in &addrs {
        guard.check(addr.ip())?;
    }
    guard.filter(&host, addrs)?;
    Ok(())
}

fn has_media(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| crate::sources::is_media_path(&e.path()))
}

/// Downloads one entry into its own temporary folder and ingests it; the queued count, or why
/// it failed.
async fn fetch_and_ingest(
    backends: &Backends,
    request: &CrawlRequest,
    ytdlp: &YtDlp,
    target: &Target,
    entry: &Entry,
    limit: Duration,
) -> Result<usize, String> {
    let dir = tempfile::Builder::new()
        .prefix("crawl-")
        .tempdir_in(std::env::temp_dir())
        .map_err(|e| e.to_string())?;
    let ingest = &backends.config.ingest;
    let (max, secs) = (ingest.max_file_bytes, ingest.max_duration_secs);
    ytdlp
        .download(&entry.url, dir.path(), (max, secs), limit)
        .await
        .map_err(|e| e.to_string())?;
    if !has_media(dir.path()) {
        return Err(format!(
            "no media downloaded (over the {max}-byte limit, ingest.max_file_bytes, or the \
             {secs}-second limit, ingest.max_duration_secs, or none offered)"
        ));
    }
    let spec = vec![dir.path().display().to_string()];
    let mut candidates = backends.discover(&spec).map_err(|e| e.to_string())?;
    for c in &mut candidates {
        if request.label.is_some() {
            c.meta.weak_label = request.label;
        }
        c.meta.origin = format!("crawl {}", target.label());
    }
    let ingested = backends
        .ingest_candidates(&spec, candidates, || {})
        .await
        .map_err(|e| e.to_string())?;
    if let Some((id, reason)) = ingested.failed.first() {
        return Err(format!("{id}: {reason}"));
    }
    Ok(ingested.queued as usize)
}

/// Crawls every target; per-item failures are reported, not fatal.
pub async fn crawl(backends: &Backends, request: &CrawlRequest) -> Result<CrawlReport, CrawlError> {
    let config = &backends.config;
    let guard = NetworkGuard::from_config(&config.crawl)?;
    let ytdlp = YtDlp::locate(&config.crawl.ytdlp, &config.crawl.cookies_file);
    let limit = Duration::from_secs(config.ingest.download_timeout_secs.max(10));
    let mut total = CrawlReport::default();
    for target in &request.targets {
        let report = crawl_one(backends, request, &guard, &ytdlp, target, limit).await;
        let report = match report {
            Ok(r) => r,
            Err(e) => CrawlReport {
                failed: vec![(target.label(), e.to_string())],
                ..CrawlReport::default()
            },
        };
        let message = format!(
            "crawl {}: found {}, new {}, downloaded {}, queued {}, failed {}",
            target.label(),
            report.found,
            report.new,
            report.downloaded,
            report.queued,
            report.failed.len()
        );
        let level = if report.failed.is_empty() {
            "info"
        } else {
            "warn"
        };
        let data = serde_json::json!({
            "target": target.label(), "job": request.job, "report": &report
        });
        if let Err(e) = backends
            .store
            .log_event("crawl", level, &message, data)
            .await
        {
            tracing::warn!("cannot log the crawl event: {e}");
        }
        total.found += report.found;
        total.new += report.new;
        total.downloaded += report.downloaded;
        total.queued += report.queued;
        total.failed.extend(report.failed);
    }
    Ok(total)
}

async fn crawl_one(
    backends: &Backends,
    request: &CrawlRequest,
    guard: &NetworkGuard,
    ytdlp: &YtDlp,
    target: &Target,
    limit: Duration,
) -> Result<CrawlReport, CrawlError> {
    let url = target.to_url();
    check_target(guard, &url).await?;
    let entries: Vec<Entry> = ytdlp
        .discover(&url, limit)
        .await
        .map_err(|e| CrawlError::Other(e.to_string()))?;
    let mut report = CrawlReport {
        found: entries.len(),
        ..CrawlReport::default()
    };
    for entry in entries {
        if report.new >= request.max_per_target {
            break;
        }
        let known = backends
            .store
            .knows_source_url(&entry.url)
            .await
            .map_err(|e| CrawlError::Other(e.to_string()))?;
        if known {
            continue;
        }
        report.new += 1;
        if let Err(e) = check_target(guard, &entry.url).await {
            report.failed.push((entry.url.clone(), e.to_string()));
            continue;
        }
        if report.new > 1 {
            tokio::time::sleep(request.pace()).await;
        }
        // Each download is ingested at once: a crawl killed midway has stored everything it
        // finished, and the next run skips those before downloading (resume).
        match fetch_and_ingest(backends, request, ytdlp, target, &entry, limit).await {
            Ok(queued) => {
                report.downloaded += 1;
                report.queued += queued;
            }
            Err(reason) => report.failed.push((entry.url.clone(), reason)),
        }
    }
    Ok(report)
}
