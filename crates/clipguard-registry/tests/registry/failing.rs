//! A registry whose audit log cannot be written (everything else delegated): the gate must put
//! the champion back rather than leave a change the log (and so rollback) does not know about.

use async_trait::async_trait;
use clipguard_registry::{Decision, RegisteredVersion, Registry, RegistryError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct AuditDown(pub Arc<dyn Registry>);

#[async_trait]
impl Registry for AuditDown {
    fn describe(&self) -> String {
        format!("{} with its audit log down", self.0.describe())
    }
    async fn register(&self, dir: &Path) -> Result<RegisteredVersion, RegistryError> {
        self.0.register(dir).await
    }
    async fn list_models(&self) -> Result<Vec<String>, RegistryError> {
        self.0.list_models().await
    }
    async fn list_versions(&self, name: &str) -> Result<Vec<RegisteredVersion>, RegistryError> {
        self.0.list_versions(name).await
    }
    async fn get_version(&self, name: &str, v: &str) -> Result<RegisteredVersion, RegistryError> {
        self.0.get_version(name, v).await
    }
    async fn set_alias(&self, name: &str, alias: &str, v: &str) -> Result<(), RegistryError> {
        self.0.set_alias(name, alias, v).await
    }
    async fn alias_version(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<String>, RegistryError> {
        self.0.alias_version(name, alias).await
    }
    async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        self.0.delete_alias(name, alias).await
    }
    async fn fetch(&self, name: &str, v: &str, root: &Path) -> Result<PathBuf, RegistryError> {
        self.0.fetch(name, v, root).await
    }
    async fn append_audit(&self, _: &Decision) -> Result<(), RegistryError> {
        Err(RegistryError::Database(
            "audit table unavailable (test)".into(),
        ))
    }
    async fn audit_log(&self, name: Option<&str>) -> Result<Vec<Decision>, RegistryError> {
        self.0.audit_log(name).await
    }
}
