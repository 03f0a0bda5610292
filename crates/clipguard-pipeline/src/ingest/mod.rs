//! Ingest: candidates from sources → deduplicated, stored videos with a queue message each.
//!
//! Order matters for "nothing lost, nothing twice":
//! 1. a known platform id is skipped before any download (dedup #1);
//! 2. media is fetched (URLs, with caps), hashed and stored content-addressed;
//! 3. the video row is inserted — refused if the same bytes are already known (dedup #2);
//! 4. a message is published (the queue refuses a second live message for the same video).
//!
//! A crash between 3 and 4 leaves a video without a message; [`Ingestor::requeue_orphans`],
//! run at every worker start, publishes those again. Media that cannot be had (download error,
//! over the size cap) is stored as a video with a `failed` verdict saying why — never dropped
//! silently, never "safe".

pub mod download;
pub mod guard;
pub mod normalise;

use crate::media::media_key;
use crate::queue::VideoMessage;
use crate::sources::{Candidate, MediaRef};
use clipguard_core::config::Config;
use clipguard_core::error::Classify;
use clipguard_core::stage::{
    InsertOutcome, MediaStore, Queue, QueueError, QueueMessage, Store, StoreError,
};
use clipguard_core::{ErrorClass, Verdict, Video};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The pipeline version recorded on verdicts written at ingest (before any analyser ran).
pub const INGEST_PIPELINE_VERSION: &str = "ingest";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Queued(String),
    DuplicateId(String),
    DuplicateContent {
        id: String,
        existing: String,
    },
    /// Stored with a `failed` verdict (the reason is in the verdict).
    Failed {
        id: String,
        reason: String,
    },
    /// Not ingested at all, e.g. a page link only the crawler can download.
    Skipped {
        origin: String,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("media store: {0}")]
    Media(String),
}

impl Classify for IngestError {
    fn class(&self) -> ErrorClass {
        match self {
            IngestError::Store(e) => e.class(),
            IngestError::Queue(e) => e.class(),
            IngestError::Media(_) => ErrorClass::External,
        }
    }
}

#[derive(Clone)]
pub struct Ingestor {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    media: Arc<dyn MediaStore>,
    config: Config,
    tmp_dir: PathBuf,
    /// The shared dedup cache (`[cache] url`), in front of the store's own check.
    cache: Option<crate::cache::DedupCache>,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("media", &self.media.describe())
            .finish()
    }
}

/// A media file resolved to a local path (a download is removed when this is dropped).
struct Fetched {
    path: PathBuf,
    _temp: Option<tempfile::TempPath>,
}

impl Ingestor {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        media: Arc<dyn MediaStore>,
        config: Config,
    ) -> Self {
        let tmp_dir = config.data.dir.join("tmp");
        Ingestor {
            store,
            queue,
            media,
            config,
            tmp_dir,
            cache: None,
        }
    }

    pub fn with_cache(mut self, cache: Option<crate::cache::DedupCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Ingests one candidate. With a dedup cache, a known platform id is claimed first, so
    /// concurrent ingest processes download it once; the claim is given back if ingest fails
    /// with an error (not with a stored `failed` verdict, which is an outcome).
    pub async fn ingest(&self, candidate: Candidate) -> Result<IngestOutcome, IngestError> {
        // Only with a cache is the id needed here (ingest works it out again after normalising).
        let id = self.cache.as_ref().and_then(|_| known_id(&candidate));
        let claimed = match (&self.cache, id) {
            (Some(cache), Some(id)) => match cache.claim(&id).await {
                Ok(true) => Some((cache, id)),
                Ok(false) => return Ok(IngestOutcome::DuplicateId(id)),
                Err(e) => {
                    tracing::warn!("dedup cache unavailable, using the store alone: {e}");
                    None
                }
            },
            _ => None,
        };
        let outcome = self.ingest_unclaimed(candidate).await;
        if let (Err(_), Some((cache, id))) = (&outcome, claimed)
            && let Err(e) = cache.release(&id).await
        {
            tracing::warn!("dedup cache: cannot release {id}: {e}");
        }
        outcome
    }

    async fn ingest_unclaimed(
        &self,
        mut candidate: Candidate,
    ) -> Result<IngestOutcome, IngestError> {
        normalise::normalise(&mut candidate.meta);
        let known_id = known_id(&candidate);
        if let Some(id) = &known_id
            && self.store.get_video(id).await?.is_some()
        {
            return Ok(IngestOutcome::DuplicateId(id.clone()));
        }
        let fetched = match &candidate.media {
            MediaRef::Unavailable(reason) => {
                return Ok(IngestOutcome::Skipped {
                    origin: candidate.meta.origin.clone(),
                    reason: reason.clone(),
                });
            }
            MediaRef::File(path) => Ok(Fetched {
                path: path.clone(),
                _temp: None,
            }),
            MediaRef::Url(url) => self.fetch(url).await,
            MediaRef::Invalid(reason) => Err(reason.clone()),
        };
        let url_id = || match &candidate.media {
            MediaRef::Url(url) => format!("url:{}", &hex_sha256(url.as_bytes())[..16]),
            _ => String::new(),
        };
        let fetched = match fetched {
            Ok(f) => f,
            Err(reason) => {
                let id = known_id.unwrap_or_else(url_id);
                return self.fail(&candidate, id, reason).await;
            }
        };
        let size = std::fs::metadata(&fetched.path)
            .map(|m| m.len())
            .unwrap_or(0);
        if size > self.config.ingest.max_file_bytes {
            let id = known_id.unwrap_or_else(|| format!("file:{}", path_id(&fetched.path)));
            let reason = format!(
                "media is {size} bytes, over the {}-byte limit (ingest.max_file_bytes)",
                self.config.ingest.max_file_bytes
            );
            return self.fail(&candidate, id, reason).await;
        }
        let hash = match hash_file(&fetched.path).await {
            Ok(h) => h,
            Err(e) => {
                let id = known_id.unwrap_or_else(|| format!("file:{}", path_id(&fetched.path)));
                return self.fail(&candidate, id, e).await;
            }
        };
        let id = known_id.unwrap_or_else(|| match &candidate.media {
            MediaRef::Url(_) => url_id(),
            _ => format!("file:{}", &hash[..16]),
        });
        let ext = fetched
            .path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("bin");
        let key = media_key(&hash, ext);
        if !self
            .media
            .exists(&key)
            .await
            .map_err(|e| IngestError::Media(e.to_string()))?
        {
            self.media
                .put_file(&key, &fetched.path)
                .await
                .map_err(|e| IngestError::Media(e.to_string()))?;
        }
        let mut video = video_from(&candidate, id.clone());
        video.media_key = Some(key);
        video.content_hash = Some(hash);
        video.media_bytes = Some(size);
        match self.store.insert_video(&video).await? {
            InsertOutcome::Inserted => {}
            InsertOutcome::DuplicateId => return Ok(IngestOutcome::DuplicateId(id)),
            InsertOutcome::DuplicateContent(existing) => {
                return Ok(IngestOutcome::DuplicateContent { id, existing });
            }
        }
        self.publish(&id).await?;
        Ok(IngestOutcome::Queued(id))
    }

    /// Publishes a message for every video that has no verdict (after a crash between insert
    /// and publish, or a queue wiped by hand). Returns how many were published.
    pub async fn requeue_orphans(&self) -> Result<usize, IngestError> {
        let mut published = 0;
        for id in self.store.videos_without_verdict(100_000).await? {
            if self.publish(&id).await? {
                published += 1;
            }
        }
        Ok(published)
    }

    async fn publish(&self, id: &str) -> Result<bool, IngestError> {
        let payload = serde_json::to_value(VideoMessage {
            video_id: id.to_string(),
        })
        .map_err(|e| QueueError::Malformed(e.to_string()))?;
        Ok(self
            .queue
            .publish(QueueMessage {
                key: id.to_string(),
                payload,
            })
            .await?)
    }

    async fn fetch(&self, url: &str) -> Result<Fetched, String> {
        std::fs::create_dir_all(&self.tmp_dir).map_err(|e| format!("temp folder: {e}"))?;
        let ext = url::Url::parse(url)
            .ok()
            .and_then(|u| {
                Path::new(u.path())
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_string)
            })
            .filter(|e| crate::sources::MEDIA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            .unwrap_or_else(|| "mp4".into());
        let temp = tempfile::Builder::new()
            .suffix(&format!(".{ext}"))
            .tempfile_in(&self.tmp_dir)
            .map_err(|e| format!("temp file: {e}"))?
            .into_temp_path();
        download::download(url, &temp, &self.config)
            .await
            .map_err(|e| format!("download {url}: {e}"))?;
        Ok(Fetched {
            path: temp.to_path_buf(),
            _temp: Some(temp),
        })
    }

    /// Stores the video without media and a `failed` verdict with the reason.
    async fn fail(
        &self,
        c: &Candidate,
        id: String,
        reason: String,
    ) -> Result<IngestOutcome, IngestError> {
        let video = video_from(c, id.clone());
        match self.store.insert_video(&video).await? {
            InsertOutcome::Inserted => {}
            InsertOutcome::DuplicateId => return Ok(IngestOutcome::DuplicateId(id)),
            InsertOutcome::DuplicateContent(existing) => {
                return Ok(IngestOutcome::DuplicateContent { id, existing });
            }
        }
        let verdict = Verdict::failed(
            &id,
            format!("ingest: {reason}"),
            self.config.decide.threshold,
            INGEST_PIPELINE_VERSION,
        );
        self.store.put_verdict(&verdict).await?;
        self.store
            .log_event(
                "ingest",
                "error",
                &format!("{id}: {reason}"),
                serde_json::json!({ "video_id": id, "origin": c.meta.origin }),
            )
            .await?;
        Ok(IngestOutcome::Failed { id, reason })
    }
}

/// `platform:platform_id` when the candidate's metadata names its platform id (after
/// normalising), known before any download.
fn known_id(candidate: &Candidate) -> Option<String> {
    let mut meta = candidate.meta.clone();
    normalise::normalise(&mut meta);
    meta.platform_id.as_ref().map(|pid| {
        let platform = meta.platform.clone().unwrap_or_else(|| "file".into());
        format!("{platform}:{pid}")
    })
}

/// A video from a candidate's metadata under `id` (`platform:platform_id`); media fields empty.
pub fn video_from(c: &Candidate, id: String) -> Video {
    let m = &c.meta;
    let (platform, platform_id) = match id.split_once(':') {
        Some((p, rest)) => (p.to_string(), rest.to_string()),
        None => ("file".to_string(), id.clone()),
    };
    Video {
        id,
        platform,
        platform_id,
        source_url: m.source_url.clone(),
        author: m.author.clone(),
        caption: m.caption.clone(),
        hashtags: m.hashtags.clone(),
        comments: m.comments.clone(),
        duration_s: m.duration_s,
        counts: m.counts.clone(),
        media_key: None,
        content_hash: None,
        media_bytes: None,
        weak_label: m.weak_label,
        source: m.origin.clone(),
        ingested_at: chrono::Utc::now(),
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A stable id for a file we could not hash: its path.
fn path_id(path: &Path) -> String {
    hex_sha256(path.to_string_lossy().as_bytes())[..16].to_string()
}

/// sha256 of a file, streamed on a blocking thread.
pub async fn hash_file(path: &Path) -> Result<String, String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file =
            std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    })
    .await
    .map_err(|e| format!("hashing task: {e}"))?
}
