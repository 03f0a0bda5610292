//! Fetching a media URL over HTTP(S) into a temporary file, with a byte cap checked both against
//! `Content-Length` and while streaming (a server may lie), and a whole-download time limit.

use clipguard_core::config::IngestConfig;
use futures::StreamExt;
use std::path::Path;
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
}

impl clipguard_core::error::Classify for DownloadError {
    fn class(&self) -> clipguard_core::ErrorClass {
        use clipguard_core::ErrorClass;
        match self {
            DownloadError::Status { status } if *status >= 500 => ErrorClass::External,
            DownloadError::Request(_) | DownloadError::Timeout { .. } => ErrorClass::External,
            DownloadError::Io(_) => ErrorClass::External,
            DownloadError::Status { .. } | DownloadError::TooLarge { .. } => ErrorClass::Input,
        }
    }
}

/// Downloads `url` to `dest`, returning the byte count. `dest` is removed on failure.
pub async fn download(url: &str, dest: &Path, config: &IngestConfig) -> Result<u64, DownloadError> {
    let secs = config.download_timeout_secs;
    let result = tokio::time::timeout(Duration::from_secs(secs), fetch(url, dest, config)).await;
    let result = result.unwrap_or(Err(DownloadError::Timeout { secs }));
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

async fn fetch(url: &str, dest: &Path, config: &IngestConfig) -> Result<u64, DownloadError> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(Duration::from_secs(15))
        .user_agent(concat!("clipguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DownloadError::Request(e.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| DownloadError::Request(e.to_string()))?;
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
        let chunk = chunk.map_err(|e| DownloadError::Request(e.to_string()))?;
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
