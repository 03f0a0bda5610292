//! The embedded media store: `object_store`'s `LocalFileSystem` rooted in `<data>/media`.
//! Files are written through multipart uploads in chunks, so a large video never sits in memory
//! whole, and ffmpeg reads the stored file in place (no temporary copy).

use super::backend;
use async_trait::async_trait;
use clipguard_core::stage::{LocalMedia, MediaError, MediaStore};
use object_store::local::LocalFileSystem;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct LocalMediaStore {
    root: PathBuf,
    store: LocalFileSystem,
}

impl LocalMediaStore {
    pub fn open(root: &Path) -> Result<Self, MediaError> {
        std::fs::create_dir_all(root)
            .map_err(|e| MediaError::Backend(format!("{}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(backend)?
            .with_automatic_cleanup(true);
        Ok(LocalMediaStore {
            root: root.to_path_buf(),
            store,
        })
    }
}

#[async_trait]
impl MediaStore for LocalMediaStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, MediaError> {
        super::upload(&self.store, key, path).await
    }

    async fn exists(&self, key: &str) -> Result<bool, MediaError> {
        super::exists(&self.store, key).await
    }

    async fn local_copy(&self, key: &str) -> Result<LocalMedia, MediaError> {
        let location = super::object_path(key)?;
        let path = self.store.path_to_filesystem(&location).map_err(backend)?;
        if !path.is_file() {
            return Err(MediaError::NotFound(key.to_string()));
        }
        Ok(LocalMedia { path, guard: None })
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}
