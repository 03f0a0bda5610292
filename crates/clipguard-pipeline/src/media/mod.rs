//! Media store backends over `object_store`. `local` is the embedded default (a folder under
//! the data dir); `s3` is S3 or MinIO, chosen by `[media] url = "s3://bucket"`. Both upload in
//! chunks through the same [`upload`], so a large video never sits in memory whole.

pub mod local;
pub mod s3;

pub use local::LocalMediaStore;
pub use s3::S3MediaStore;

use clipguard_core::stage::MediaError;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use std::path::Path;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 4 * 1024 * 1024;
/// Files up to this size are uploaded in one request (read into memory once).
const SINGLE_PUT_MAX: u64 = 32 * 1024 * 1024;

pub(crate) fn backend(e: object_store::Error) -> MediaError {
    match e {
        object_store::Error::NotFound { path, .. } => MediaError::NotFound(path),
        other => MediaError::Backend(other.to_string()),
    }
}

/// A key as an object path; `parse` refuses `..`, empty segments and other traversal tricks.
pub(crate) fn object_path(key: &str) -> Result<ObjectPath, MediaError> {
    ObjectPath::parse(key).map_err(|e| MediaError::Backend(format!("bad key `{key}`: {e}")))
}

/// Copies the file at `path` to `key` in chunks; returns the byte count.
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    key: &str,
    path: &Path,
) -> Result<u64, MediaError> {
    let read_err = |e: std::io::Error| MediaError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
    let size = file.metadata().await.map_err(read_err)?.len();
    if size <= SINGLE_PUT_MAX {
        // One request: short videos need no multipart upload (fewer round trips; and the
        // tests' S3 server, s3s-fs, refuses object_store's multipart completion).
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).await.map_err(read_err)?;
        let n = bytes.len() as u64;
        store
            .put(&object_path(key)?, bytes.into())
            .await
            .map_err(backend)?;
        return Ok(n);
    }
    let upload = store
        .put_multipart(&object_path(key)?)
        .await
        .map_err(backend)?;
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

/// Whether `key` exists.
pub(crate) async fn exists(store: &dyn ObjectStore, key: &str) -> Result<bool, MediaError> {
    match store.head(&object_path(key)?).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(backend(e)),
    }
}

/// Content-addressed key for media bytes: the same bytes always land on the same key, and a
/// label change never moves a file (the seed baked the label into its object keys).
pub fn media_key(content_hash: &str, extension: &str) -> String {
    let ext: String = extension
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let ext = if ext.is_empty() {
        "bin".to_string()
    } else {
        ext
    };
    format!(
        "media/{}/{content_hash}.{ext}",
        &content_hash[..2.min(content_hash.len())]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_content_addressed_and_sanitised() {
        assert_eq!(super::media_key("abcdef", "MP4"), "media/ab/abcdef.mp4");
        assert_eq!(super::media_key("abcdef", "../x"), "media/ab/abcdef.x");
        assert_eq!(super::media_key("abcdef", ""), "media/ab/abcdef.bin");
    }
}
