//! Sources: turn what the user points at into [`Candidate`]s — metadata plus where the media is.
//!
//! `discover` accepts, and tells apart:
//! - a folder laid out as yt-dlp writes it (`<id>.mp4|.mp3` + `<id>.info.json` +
//!   `<id>.description`, optional `<id>.comments.json`), searched recursively;
//! - the seed's CSV link lists (`hashtag,link,label` or `hashtag,link,description,label`);
//! - a single media file (its yt-dlp sidecars are used when present);
//! - an `http(s)://` URL of a media file.
//!
//! Sources never download or store anything: that is ingest's job, after dedup.

pub mod csv_links;
pub mod folder;
pub mod seed_kafka;
pub mod tiktok;
pub mod xlsx;
pub mod ytdlp;

use clipguard_core::{Comment, Counts, WeakLabel};
use std::path::{Path, PathBuf};

/// File extensions treated as media.
pub const MEDIA_EXTENSIONS: &[&str] = &[
    "mp4", "mov", "m4v", "webm", "mkv", "avi", "mp3", "m4a", "wav", "aac", "ogg", "opus", "flac",
];

pub fn is_media_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Metadata as a source found it, before ingest assigns ids and hashes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// `tiktok`, `youtube`, … (`None`: unknown, ingest uses `file`/`url`).
    pub platform: Option<String>,
    pub platform_id: Option<String>,
    pub source_url: Option<String>,
    pub author: Option<String>,
    pub caption: String,
    pub hashtags: Vec<String>,
    pub comments: Vec<Comment>,
    pub duration_s: Option<f64>,
    pub counts: Counts,
    pub weak_label: Option<WeakLabel>,
    /// Human-readable origin: a path, a CSV row, a URL.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediaRef {
    File(PathBuf),
    Url(String),
    /// No media can be had here (e.g. a TikTok page link: downloading it is the crawler's job).
    Unavailable(String),
    /// The item is broken (e.g. its metadata sidecar is corrupt): stored as a failed video.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub meta: Metadata,
    pub media: MediaRef,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{0}` is neither an existing file or folder nor an http(s) URL")]
    NotFound(String),
    #[error("cannot read `{path}`: {message}")]
    Io { path: String, message: String },
    #[error("{path}: line {line}: {message}")]
    Csv {
        path: String,
        line: u64,
        message: String,
    },
    #[error("unsupported URL `{url}`: {message}")]
    Url { url: String, message: String },
}

impl SourceError {
    pub fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        SourceError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// Finds the candidates behind one source argument.
pub fn discover(spec: &str, allowed_schemes: &[String]) -> Result<Vec<Candidate>, SourceError> {
    if spec.contains("://") {
        let url = url::Url::parse(spec).map_err(|e| SourceError::Url {
            url: spec.to_string(),
            message: e.to_string(),
        })?;
        if !allowed_schemes.iter().any(|s| s == url.scheme()) {
            return Err(SourceError::Url {
                url: spec.to_string(),
                message: format!("scheme `{}` is not in ingest.allowed_schemes", url.scheme()),
            });
        }
        return Ok(vec![url_candidate(spec)]);
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return folder::scan(path);
    }
    if path.is_file() {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("csv") {
            return csv_links::read(path);
        }
        return Ok(vec![folder::file_candidate(path)?]);
    }
    Err(SourceError::NotFound(spec.to_string()))
}

/// A URL given directly: a TikTok page link needs the crawler; anything else is fetched as media.
pub fn url_candidate(link: &str) -> Candidate {
    let mut meta = Metadata {
        source_url: Some(link.to_string()),
        origin: link.to_string(),
        ..Metadata::default()
    };
    if let Some(t) = tiktok::parse_video_url(link) {
        meta.platform = Some("tiktok".into());
        meta.platform_id = Some(t.video_id);
        meta.author = Some(t.user);
        return Candidate {
            meta,
            media: MediaRef::Unavailable(
                "TikTok page links are downloaded by the crawler (`clipguard crawl`, #7); only direct media URLs are fetched here".into(),
            ),
        };
    }
    Candidate {
        meta,
        media: MediaRef::Url(link.to_string()),
    }
}
