//! The crawler: discover with yt-dlp, skip what is already known before downloading, download
//! the new items politely (a delay between downloads, at most `max` per target), and hand the
//! downloads to ingest (which dedups again by content hash and queues them).
//!
//! Every address yt-dlp is pointed at passes the SSRF guard first (`ingest/guard.rs`): the
//! target and every discovered entry is resolved and refused when it lands on a non-public
//! address the config does not allow (a clear error before yt-dlp runs). What yt-dlp itself
//! connects to after that (redirects, CDN hosts, re-resolved names) goes through the guard
//! proxy (`proxy.rs`) the run starts on a loopback port, which refuses the same addresses.

pub mod jobs;
pub mod proxy;
pub mod target;
pub mod ytdlp;

use crate::ingest::guard::{GuardError, NetworkGuard};
use crate::topology::Backends;
use clipguard_core::WeakLabel;
use clipguard_core::stage::Store;
use proxy::GuardProxy;
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
    /// Where the target's next run starts reading its listing (entries to skip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<usize>,
}

/// How many listing entries a run reads: twice what it may download, so some known ones
/// ahead of the new ones do not end the run early.
fn window(max_per_target: usize) -> usize {
    max_per_target.max(1) * 2
}

/// Where a run continues after reading `found` of `window` entries from `start`, having looked
/// at `examined` of them: past what it examined; back to the top when the listing ended (so
/// the newest entries are seen again).
fn next_cursor(start: usize, window: usize, found: usize, examined: usize) -> usize {
    if found < window && examined >= found {
        0
    } else {
        start + examined
    }
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

/// Where a job's last run of `target` stopped in its listing (0: the top; also when the store
/// cannot say, which costs a re-read of known entries, never a download).
async fn cursor(backends: &Backends, job: &str, target: &Target) -> usize {
    let events = backends
        .store
        .crawl_events(job, 200)
        .await
        .unwrap_or_default();
    events
        .iter()
        .filter(|e| e.data["target"] == target.label())
        .find_map(|e| e.data["report"]["cursor"].as_u64())
        .unwrap_or(0) as usize
}

/// The shared cache's key of a discovered entry (its URL, hashed to a fixed length).
fn crawl_key(url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(url.as_bytes());
    format!("crawl:{}", hex::encode(&digest[..12]))
}

/// Gives a failed entry's claim back, so the next run (or another crawler) tries again.
async fn release(claim: Option<&crate::cache::DedupCache>, url: &str) {
    if let Some(cache) = claim
        && let Err(e) = cache.release(&crawl_key(url)).await
    {
        tracing::warn!("dedup cache: cannot release {url}: {e}");
    }
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
    run: &Run<'_>,
    target: &Target,
    entry: &Entry,
) -> Result<usize, String> {
    let dir = tempfile::Builder::new()
        .prefix("crawl-")
        .tempdir_in(std::env::temp_dir())
        .map_err(|e| e.to_string())?;
    let ingest = &backends.config.ingest;
    let (max, secs) = (ingest.max_file_bytes, ingest.max_duration_secs);
    run.ytdlp
        .download(&entry.url, dir.path(), (max, secs), run.limit)
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
    let mut ytdlp = YtDlp::locate(&config.crawl.ytdlp, &config.crawl.cookies_file);
    let proxy = GuardProxy::start(guard.clone())
        .await
        .map_err(|e| CrawlError::Other(format!("cannot start the guard proxy: {e}")))?;
    ytdlp.proxy = Some(proxy.url());
    let limit = Duration::from_secs(config.ingest.download_timeout_secs.max(10));
    let mut total = CrawlReport::default();
    let run = Run {
        guard: &guard,
        ytdlp: &ytdlp,
        proxy: &proxy,
        limit,
    };
    for target in &request.targets {
        let start = match &request.job {
            Some(job) => cursor(backends, job, target).await,
            None => 0,
        };
        let report = crawl_one(backends, request, &run, target, start).await;
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

/// What every target of one crawl shares.
struct Run<'a> {
    guard: &'a NetworkGuard,
    ytdlp: &'a YtDlp,
    proxy: &'a GuardProxy,
    limit: Duration,
}

impl Run<'_> {
    /// `reason`, with what the guard proxy refused meanwhile (yt-dlp itself only says 403).
    fn explain(&self, reason: String) -> String {
        let refused = self.proxy.take_refusals();
        if refused.is_empty() {
            reason
        } else {
            format!("{reason} (guard proxy: {})", refused.join("; "))
        }
    }
}

async fn crawl_one(
    backends: &Backends,
    request: &CrawlRequest,
    run: &Run<'_>,
    target: &Target,
    start: usize,
) -> Result<CrawlReport, CrawlError> {
    let url = target.to_url();
    let window = window(request.max_per_target);
    // A search names no host: only the guard proxy can check where it leads.
    if !matches!(target, Target::Search(_)) {
        check_target(run.guard, &url).await?;
    }
    let entries: Vec<Entry> = run
        .ytdlp
        .discover(&url, (start, window), run.limit)
        .await
        .map_err(|e| CrawlError::Other(run.explain(e.to_string())))?;
    let mut report = CrawlReport {
        found: entries.len(),
        ..CrawlReport::default()
    };
    let mut examined = 0;
    for entry in &entries {
        if report.new >= request.max_per_target {
            break;
        }
        examined += 1;
        let known = backends
            .store
            .knows_source_url(&entry.url)
            .await
            .map_err(|e| CrawlError::Other(e.to_string()))?;
        if known {
            continue;
        }
        // With the shared cache, another crawler that took this entry (and may be downloading
        // it right now) makes it known too.
        let claim = match &backends.cache {
            Some(cache) => match cache.claim(&crawl_key(&entry.url)).await {
                Ok(true) => Some(cache),
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!("dedup cache unavailable, using the store alone: {e}");
                    None
                }
            },
            None => None,
        };
        report.new += 1;
        if let Err(e) = check_target(run.guard, &entry.url).await {
            release(claim, &entry.url).await;
            report.failed.push((entry.url.clone(), e.to_string()));
            continue;
        }
        if report.new > 1 {
            tokio::time::sleep(request.pace()).await;
        }
        // Each download is ingested at once: a crawl killed midway has stored everything it
        // finished, and the next run skips those before downloading (resume).
        match fetch_and_ingest(backends, request, run, target, entry).await {
            Ok(queued) => {
                report.downloaded += 1;
                report.queued += queued;
            }
            Err(reason) => {
                release(claim, &entry.url).await;
                report.failed.push((entry.url.clone(), run.explain(reason)));
            }
        }
    }
    report.cursor = Some(next_cursor(start, window, entries.len(), examined));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_walks_the_listing_and_wraps_at_its_end() {
        assert_eq!(window(20), 40);
        // Stopped by the download cap after 5 of 40: continue after those 5.
        assert_eq!(next_cursor(0, 40, 40, 5), 5);
        assert_eq!(next_cursor(5, 40, 40, 40), 45);
        // The listing ended inside the window and all of it was examined: back to the top.
        assert_eq!(next_cursor(45, 40, 12, 12), 0);
        assert_eq!(next_cursor(45, 40, 0, 0), 0);
        // Ended, but the cap stopped the run first: the rest is read next time.
        assert_eq!(next_cursor(45, 40, 12, 3), 48);
    }
}
