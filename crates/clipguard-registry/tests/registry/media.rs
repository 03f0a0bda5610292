//! A tiny `MediaStore` over a temp folder for the built-in backend's tests (the real one,
//! `LocalMediaStore`, lives in clipguard-pipeline, which this crate must not depend on: it pulls
//! the model runtimes).

use async_trait::async_trait;
use clipguard_core::stage::{LocalMedia, MediaError, MediaStore};
use std::path::{Path, PathBuf};

pub struct FolderMediaStore {
    root: PathBuf,
}

impl FolderMediaStore {
    pub fn new(root: &Path) -> Self {
        FolderMediaStore {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, MediaError> {
        if key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(MediaError::Backend(format!("bad key `{key}`")));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl MediaStore for FolderMediaStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, MediaError> {
        let to = self.path(key)?;
        std::fs::create_dir_all(to.parent().unwrap())
            .map_err(|e| MediaError::Backend(e.to_string()))?;
        let tmp = to.with_extension("part");
        let n = std::fs::copy(path, &tmp).map_err(|e| MediaError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        std::fs::rename(&tmp, &to).map_err(|e| MediaError::Backend(e.to_string()))?;
        Ok(n)
    }

    async fn exists(&self, key: &str) -> Result<bool, MediaError> {
        Ok(self.path(key)?.is_file())
    }

    async fn local_copy(&self, key: &str) -> Result<LocalMedia, MediaError> {
        let path = self.path(key)?;
        if !path.is_file() {
            return Err(MediaError::NotFound(key.to_string()));
        }
        Ok(LocalMedia { path, guard: None })
    }

    fn describe(&self) -> String {
        format!("test folder {}", self.root.display())
    }
}
