//! Fetching a media URL over HTTP(S) into a temporary file, with a byte cap checked both against
//! `Content-Length` and while streaming (a server may lie), a whole-download time limit, and
//! the SSRF guard (`guard.rs`) on every address and redirect.

use super::guard::{GuardError, GuardedResolver, NetworkGuard};
use clipguard_core::config::{Config, IngestConfig};
use futures::StreamExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("HTTP request failed: {0}")]
    Request(String),
    #[error("HTTP {status} from the server")]
    Status { status: u16 },
    #[error("media is larger than the {limit}-byte limit (ingest.max_file_bytes)")]
    TooLarge { limit: u64 },
    #[error("download took longer than {secs} s (ingest.download_timeout_secs)")]
    Timeout { secs: u64 },
    #[error("cannot write the download: {0}")]
    Io(String),
    #[error(transparent)]
    Guard(#[from] GuardError),
}

impl clipguard_core::error::Classify for DownloadError {
    fn class(&self) -> clipguard_core::ErrorClass {
        use clipguard_core::ErrorClass;
        match self {
            DownloadError::Status { status } if *status >= 500 => ErrorClass::External,
            DownloadError::Request(_) | DownloadError::Timeout { .. } => ErrorClass::External,
            DownloadError::Io(_) => ErrorClass::External,
            DownloadError::Status { .. }
            | DownloadError::TooLarge { .. }
            | DownloadError::Guard(_) => ErrorClass::Input,
        }
    }
}

/// Downloads `url` to `dest` within `[ingest]`'s limits and `[crawl]`'s guard, returning the
/// byte count. `dest` is removed on failure.
pub async fn download(url: &str, dest: &Path, config: &Config) -> Result<u64, DownloadError> {
    let guard = Arc::new(NetworkGuard::from_config(&config.crawl)?);
    let secs = config.ingest.download_timeout_secs;
    let fetching = fetch(url, dest, &config.ingest, guard);
    let result = tokio::time::timeout(Duration::from_secs(secs), fetching).await;
    let result = result.unwrap_or(Err(DownloadError::Timeout { secs }));
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

async fn fetch(
    url: &str,
    dest: &Path,
    config: &IngestConfig,
    guard: Arc<NetworkGuard>,
) -> Result<u64, DownloadError> {
    let parsed = url::Url::parse(url).map_err(|e| DownloadError::Request(e.to_string()))?;
    guard.check_url(&parsed)?;
    let schemes = config.allowed_schemes.clone();
    let hops = guard.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("more than 5 redirects");
        }
        if !schemes.iter().any(|s| s == attempt.url().scheme()) {
            let scheme = attempt.url().scheme().to_string();
            return attempt.error(format!("redirect to a `{scheme}` URL refused"));
        }
        match hops.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    });
    let client = reqwest::Client::builder()
        .redirect(redirects)
        .dns_resolver(Arc::new(GuardedResolver(guard)))
        // A proxy would resolve and connect for us, out of the guard's sight.
        .no_proxy()
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("clipguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DownloadError::Request(e.to_string()))?;
    let response = client.get(url).send().await.map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(DownloadError::Status {
            status: status.as_u16(),
        });
    }
    let limit = config.max_file_bytes;
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(DownloadError::TooLarge { limit });
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| DownloadError::Io(e.to_string()))?;
    let mut total = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(request_error)?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(DownloadError::TooLarge { limit });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| DownloadError::Io(e.to_string()))?;
    }
    file.sync_all()
        .await
        .map_err(|e| DownloadError::Io(e.to_string()))?;
    Ok(total)
}

/// A request error with its causes spelled out; a refusal by the guard (from the resolver or
/// the redirect policy, deep in the chain) stays a guard error, so it is reported as the
/// input's fault (a `failed` verdict) rather than retried.
fn request_error(e: reqwest::Error) -> DownloadError {
    let mut text = e.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<GuardError>() {
            return DownloadError::Guard(refused.clone());
        }
        source = s.source();
        if let Some(next) = source {
            text.push_str(": ");
            text.push_str(&next.to_string());
        }
    }
    DownloadError::Request(text)
}
