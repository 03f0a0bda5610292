//! The `Registry` trait: what training, the promotion gate, the CLI and the hot-swap watcher
//! need from a model registry, and nothing backend-specific. Two implementations: built-in
//! (SQLite rows + bundle files in the media store) and MLflow (REST). One shared test suite runs
//! against both (`tests/registry.rs`), so the gate behaves the same on either.

use crate::audit::Decision;
use crate::error::RegistryError;
use crate::names::CHAMPION;
use crate::version::RegisteredVersion;
use async_trait::async_trait;
use std::path::{Path, PathBuf};

#[async_trait]
pub trait Registry: Send + Sync {
    /// Where the registry lives, for `doctor` and logs.
    fn describe(&self) -> String;

    /// Registers a bundle folder (`manifest.json` + the files it lists) under
    /// `manifest.name`: uploads its files, records the manifest and gives it the next version
    /// number of that name ("1", "2", …). Sets no alias.
    async fn register(&self, bundle_dir: &Path) -> Result<RegisteredVersion, RegistryError>;

    /// Names that have at least one version, sorted.
    async fn list_models(&self) -> Result<Vec<String>, RegistryError>;

    /// Every version of `name`, oldest first; empty when the name is unknown.
    async fn list_versions(&self, name: &str) -> Result<Vec<RegisteredVersion>, RegistryError>;

    /// One version; `NotFound` when it does not exist.
    async fn get_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<RegisteredVersion, RegistryError>;

    /// Points `alias` at `version` (moving it if it pointed elsewhere); `NotFound` when the
    /// version does not exist.
    async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), RegistryError>;

    /// The version `alias` points to, if any. One cheap request: this is what workers poll.
    async fn alias_version(&self, name: &str, alias: &str)
    -> Result<Option<String>, RegistryError>;

    /// Removes `alias`; succeeds when it was not set.
    async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError>;

    /// Makes the bundle of `name`/`version` available as a local folder
    /// `<cache_root>/<name>/<version>` and returns its path. A complete, matching copy already
    /// there is reused (checked against the registered file index, not trusted by name), so
    /// repeated fetches cost one metadata lookup. Every fetched file is checked against its
    /// registered sha256; the folder appears atomically.
    async fn fetch(
        &self,
        name: &str,
        version: &str,
        cache_root: &Path,
    ) -> Result<PathBuf, RegistryError>;

    /// Appends a decision to the audit log.
    async fn append_audit(&self, decision: &Decision) -> Result<(), RegistryError>;

    /// The audit log, oldest first: of one model, or of all when `name` is `None`.
    async fn audit_log(&self, name: Option<&str>) -> Result<Vec<Decision>, RegistryError>;

    /// The version the `alias` points to, with its manifest.
    async fn get_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<RegisteredVersion>, RegistryError> {
        match self.alias_version(name, alias).await? {
            Some(version) => Ok(Some(self.get_version(name, &version).await?)),
            None => Ok(None),
        }
    }

    /// The serving version of `name`, if any (what hot-swap watchers poll every few seconds).
    async fn champion_version(&self, name: &str) -> Result<Option<String>, RegistryError> {
        self.alias_version(name, CHAMPION).await
    }
}
