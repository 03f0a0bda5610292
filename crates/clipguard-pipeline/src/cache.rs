//! The optional shared dedup cache: Redis `SET NX` with a TTL, so several ingest or crawl
//! processes skip a video another one already took, before any download. The store's unique
//! keys stay the source of truth: when Redis is off or unreachable, ingest simply does the
//! store check alone (a warning, never an error or a lost video).

use clipguard_core::config::{CacheConfig, Config};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct CacheError(String);

impl From<redis::RedisError> for CacheError {
    fn from(e: redis::RedisError) -> Self {
        CacheError(e.to_string())
    }
}

#[derive(Clone)]
pub struct DedupCache {
    conn: ConnectionManager,
    ttl_secs: u64,
}

impl std::fmt::Debug for DedupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DedupCache")
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

fn seen_key(key: &str) -> String {
    format!("clipguard:seen:{key}")
}

impl DedupCache {
    /// `None` when `[cache] url` is empty.
    pub async fn open(config: &CacheConfig) -> Result<Option<DedupCache>, CacheError> {
        let url = config.url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let client = redis::Client::open(url)?;
        // Short timeouts: the cache only saves work, so a slow Redis must not slow ingest.
        let options = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2));
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            ConnectionManager::new_with_config(client, options),
        )
        .await
        .map_err(|_| CacheError(format!("no answer from {url} within 10 s")))??;
        Ok(Some(DedupCache {
            conn,
            ttl_secs: config.dedup_ttl_secs.max(1),
        }))
    }

    /// Takes `key` for this process: `true` the first time within the TTL, `false` when some
    /// process already took it.
    pub async fn claim(&self, key: &str) -> Result<bool, CacheError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(seen_key(key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(self.ttl_secs)
            .query_async(&mut conn)
            .await?;
        Ok(set.is_some())
    }

    /// Gives `key` back (the work it guarded failed, so another attempt must not be skipped).
    pub async fn release(&self, key: &str) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(seen_key(key))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<String, CacheError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("PING").query_async(&mut conn).await?)
    }
}

/// For `doctor`: whether the configured cache answers.
pub async fn check(config: &Config) -> Result<String, String> {
    match DedupCache::open(&config.cache).await {
        Ok(None) => Ok("off (the store's unique keys dedup alone)".into()),
        Ok(Some(cache)) => cache
            .ping()
            .await
            .map(|pong| format!("Redis {} ({pong})", config.cache.url))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}
