//! What a worker's hot-swap loop calls: poll the `champion` alias (one cheap request), and when
//! it moved, fetch the new bundle into the local cache. The watcher does not decide when the
//! model is live: the worker warms the new model up, swaps it in between batches, then calls
//! [`ChampionWatcher::mark_loaded`]; until then every poll offers the change again, so a
//! failed load is retried rather than forgotten.

use crate::error::RegistryError;
use crate::registry::Registry;
use crate::version::RegisteredVersion;
use std::path::PathBuf;
use std::sync::Arc;

/// A new champion, fetched and ready to load.
#[derive(Debug, Clone)]
pub struct ChampionChange {
    pub version: RegisteredVersion,
    /// The local bundle folder (`manifest.json` + files), checked against its sha256s.
    pub dir: PathBuf,
}

pub struct ChampionWatcher {
    registry: Arc<dyn Registry>,
    name: String,
    cache_root: PathBuf,
    loaded: Option<String>,
}

impl ChampionWatcher {
    /// `loaded`: the registry version the worker serves now (`None` at start or when serving a
    /// built-in default).
    pub fn new(
        registry: Arc<dyn Registry>,
        name: impl Into<String>,
        cache_root: impl Into<PathBuf>,
        loaded: Option<String>,
    ) -> Self {
        ChampionWatcher {
            registry,
            name: name.into(),
            cache_root: cache_root.into(),
            loaded,
        }
    }

    pub fn loaded(&self) -> Option<&str> {
        self.loaded.as_deref()
    }

    /// One poll. `Some` when the champion is a version other than the loaded one (already
    /// fetched); `None` when nothing changed or no champion is set (keep serving what runs).
    pub async fn poll(&self) -> Result<Option<ChampionChange>, RegistryError> {
        let Some(version) = self.registry.champion_version(&self.name).await? else {
            return Ok(None);
        };
        if self.loaded.as_deref() == Some(version.as_str()) {
            return Ok(None);
        }
        let registered = self.registry.get_version(&self.name, &version).await?;
        let dir = self
            .registry
            .fetch(&self.name, &version, &self.cache_root)
            .await?;
        Ok(Some(ChampionChange {
            version: registered,
            dir,
        }))
    }

    /// Records that the worker now serves `version`.
    pub fn mark_loaded(&mut self, version: impl Into<String>) {
        self.loaded = Some(version.into());
    }
}
