//! S3 or MinIO as the media store (`[media] url = "s3://bucket"`): `object_store`'s
//! `AmazonS3` with the endpoint, path-style addressing and credentials from the config (or the
//! usual `AWS_*` variables). The bucket stays private: the dashboard serves media itself
//! (`/media/{id}`, range requests go to S3 as ranged GETs), never by public bucket URLs — the
//! seed made its buckets public. ffmpeg needs a file, so `local_copy` downloads to a temporary
//! file that is deleted when the worker is done with it.

use super::{backend, object_path};
use async_trait::async_trait;
use clipguard_core::config::MediaConfig;
use clipguard_core::stage::{LocalMedia, MediaError, MediaStore};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use std::io::Write;
use std::path::Path;

#[derive(Debug)]
pub struct S3MediaStore {
    bucket: String,
    endpoint: String,
    store: AmazonS3,
}

impl S3MediaStore {
    /// `config.url` is `s3://BUCKET`.
    pub fn open(config: &MediaConfig) -> Result<Self, MediaError> {
        let bad = |m: String| MediaError::Backend(m);
        let bucket = config
            .url
            .strip_prefix("s3://")
            .map(|b| b.trim_end_matches('/'))
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .ok_or_else(|| bad(format!("media url `{}`: expected s3://BUCKET", config.url)))?
            .to_string();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(&config.region);
        if !config.endpoint.is_empty() {
            builder = builder
                .with_endpoint(&config.endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(config.endpoint.starts_with("http://"));
        }
        if !config.access_key.is_empty() {
            builder = builder
                .with_access_key_id(&config.access_key)
                .with_secret_access_key(&config.secret_key);
        }
        let store = builder
            .build()
            .map_err(|e| bad(format!("s3://{bucket}: {e}")))?;
        Ok(S3MediaStore {
            bucket,
            endpoint: config.endpoint.clone(),
            store,
        })
    }
}

#[async_trait]
impl MediaStore for S3MediaStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, MediaError> {
        super::upload(&self.store, key, path).await
    }

    async fn exists(&self, key: &str) -> Result<bool, MediaError> {
        super::exists(&self.store, key).await
    }

    async fn local_copy(&self, key: &str) -> Result<LocalMedia, MediaError> {
        let got = self.store.get(&object_path(key)?).await.map_err(backend)?;
        let mut file = tempfile::Builder::new()
            .prefix("clipguard-media-")
            .tempfile()
            .map_err(|e| MediaError::Backend(format!("temporary file: {e}")))?;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(backend)?;
            file.write_all(&chunk)
                .map_err(|e| MediaError::Backend(format!("temporary file: {e}")))?;
        }
        file.flush()
            .map_err(|e| MediaError::Backend(format!("temporary file: {e}")))?;
        Ok(LocalMedia {
            path: file.path().to_path_buf(),
            guard: Some(Box::new(file)),
        })
    }

    fn describe(&self) -> String {
        if self.endpoint.is_empty() {
            format!("s3://{} (AWS)", self.bucket)
        } else {
            format!("s3://{} at {}", self.bucket, self.endpoint)
        }
    }

    /// A ranged GET: the player's seeks never download the whole video.
    async fn read_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<(Vec<u8>, u64), MediaError> {
        let location = object_path(key)?;
        let size = self.store.head(&location).await.map_err(backend)?.size;
        let end = end.unwrap_or(size).min(size);
        let start = start.min(end);
        if start == end {
            return Ok((Vec::new(), size));
        }
        let bytes = self
            .store
            .get_range(&location, start..end)
            .await
            .map_err(backend)?;
        Ok((bytes.to_vec(), size))
    }
}
