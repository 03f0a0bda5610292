//! The embedded media store: `object_store`'s `LocalFileSystem` rooted in `<data>/media`.
//! Files are written through multipart uploads in chunks, so a large video never sits in memory
//! whole, and ffmpeg reads the stored file in place (no temporary copy).

use async_trait::async_trait;
use clipguard_core::stage::{LocalMedia, MediaError, MediaStore};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

const CHUNK: usize = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct LocalMediaStore {
    root: PathBuf,
    store: LocalFileSystem,
}

fn backend(e: object_store::Error) -> MediaError {
    MediaError::Backend(e.to_string())
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

    fn object_path(key: &str) -> Result<ObjectPath, MediaError> {
        // `parse` refuses `..`, empty segments and other traversal tricks.
        ObjectPath::parse(key).map_err(|e| MediaError::Backend(format!("bad key `{key}`: {e}")))
    }
}

#[async_trait]
impl MediaStore for LocalMediaStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, MediaError> {
        let read_err = |e: std::io::Error| MediaError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
        let location = Self::object_path(key)?;
        let upload = self.store.put_multipart(&location).await.map_err(backend)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(read_err(e));
                }
            };
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await.map_err(backend)?;
            writer.write(&buf[..n]);
            total += n as u64;
        }
        writer.finish().await.map_err(backend)?;
        Ok(total)
    }

    async fn exists(&self, key: &str) -> Result<bool, MediaError> {
        match self.store.head(&Self::object_path(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn local_copy(&self, key: &str) -> Result<LocalMedia, MediaError> {
        let location = Self::object_path(key)?;
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
