//! Where media bytes live. Keys are content-addressed (`media/<sha256>.<ext>`), never derived
//! from a label (the seed's keys embedded the weak label, so relabelling broke every URL).

use crate::error::{Classify, ErrorClass};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// A media object available as a local file for ffmpeg. For a remote store this is a temporary
/// download that is deleted when the value is dropped.
pub struct LocalMedia {
    pub path: PathBuf,
    /// Keeps a temporary copy alive; `None` when `path` is the store's own file.
    pub guard: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for LocalMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMedia")
            .field("path", &self.path)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media store: {0}")]
    Backend(String),
    #[error("media object `{0}` not found")]
    NotFound(String),
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
}

impl Classify for MediaError {
    fn class(&self) -> ErrorClass {
        match self {
            MediaError::Backend(_) => ErrorClass::External,
            MediaError::NotFound(_) | MediaError::Read { .. } => ErrorClass::Input,
        }
    }
}

#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Copies a local file into the store under `key`; returns the byte count.
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, MediaError>;
    async fn exists(&self, key: &str) -> Result<bool, MediaError>;
    /// Makes the object readable as a local file.
    async fn local_copy(&self, key: &str) -> Result<LocalMedia, MediaError>;
    /// A human-readable location, for `doctor` and logs.
    fn describe(&self) -> String;

    /// Bytes `start..end` (`end` exclusive, clamped to the size; `None`: to the end) and the
    /// object's size — what the dashboard's player asks for with HTTP range requests. The
    /// default reads the local copy; remote stores can fetch just the range.
    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<(Vec<u8>, u64), MediaError> {
        use std::io::{Read, Seek, SeekFrom};
        let local = self.local_copy(key).await?;
        let path = local.path.clone();
        let read = move || -> std::io::Result<(Vec<u8>, u64)> {
            let mut file = std::fs::File::open(&path)?;
            let size = file.metadata()?.len();
            let end = end.unwrap_or(size).min(size);
            let start = start.min(end);
            file.seek(SeekFrom::Start(start))?;
            let mut buf = vec![0u8; (end - start) as usize];
            file.read_exact(&mut buf)?;
            Ok((buf, size))
        };
        let result = read();
        drop(local);
        result.map_err(|e| MediaError::Read {
            path: key.to_string(),
            message: e.to_string(),
        })
    }
}
