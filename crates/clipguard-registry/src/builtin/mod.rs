//! The built-in registry: versions, aliases and the audit log in SQLite tables (`schema.rs`),
//! bundle files in the media store.
//!
//! Files are stored content-addressed (`registry/blobs/<h2>/<sha256>`): they are uploaded before
//! the version row exists (so a crash leaves at most an unreferenced blob, never a version
//! without files), and a file that did not change between versions (a config, a tokenizer)
//! is stored once. The version number is taken and the row inserted in one statement, so two
//! concurrent registrations of a name cannot get the same number.

mod schema;

use crate::audit::Decision;
use crate::bundle::{BundleIndex, read_bundle};
use crate::cache::{Staging, cached};
use crate::error::RegistryError;
use crate::names::{check_alias, check_model_name, parse_version};
use crate::registry::Registry;
use crate::version::RegisteredVersion;
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use clipguard_core::manifest::ModelManifest;
use clipguard_core::stage::MediaStore;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct BuiltinRegistry {
    pool: AnyPool,
    media: Arc<dyn MediaStore>,
}

fn blob_key(sha256: &str) -> String {
    format!("registry/blobs/{}/{sha256}", &sha256[..2])
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, RegistryError> {
    serde_json::from_str(text).map_err(|e| RegistryError::corrupt(what, e))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, RegistryError> {
    serde_json::to_string(value).map_err(|e| RegistryError::corrupt("serialise", e))
}

impl BuiltinRegistry {
    /// Opens the registry on `pool` (the store's `<data>/clipguard.db`), creating its tables
    /// when missing; bundle files go to `media`.
    pub async fn open(
        pool: AnyPool,
        media: Arc<dyn MediaStore>,
    ) -> Result<BuiltinRegistry, RegistryError> {
        schema::ensure(&pool).await?;
        Ok(BuiltinRegistry { pool, media })
    }

    fn version_from_row(
        name: &str,
        row: &AnyRow,
        aliases: Vec<String>,
    ) -> Result<RegisteredVersion, RegistryError> {
        let version: i64 = row.get("version");
        let manifest: ModelManifest = parse_json("manifest", &row.get::<String, _>("manifest"))?;
        let index: BundleIndex = parse_json("files", &row.get::<String, _>("files"))?;
        let created_at = DateTime::parse_from_rfc3339(&row.get::<String, _>("created_at"))
            .map_err(|e| RegistryError::corrupt("created_at", e))?
            .with_timezone(&Utc);
        Ok(RegisteredVersion {
            name: name.to_string(),
            version: version.to_string(),
            manifest,
            aliases,
            created_at,
            index,
        })
    }

    async fn aliases_of(&self, name: &str) -> Result<BTreeMap<i64, Vec<String>>, RegistryError> {
        let rows = sqlx::query(
            "SELECT alias, version FROM registry_aliases WHERE name = $1 ORDER BY alias",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let mut by_version: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for row in rows {
            by_version
                .entry(row.get("version"))
                .or_default()
                .push(row.get("alias"));
        }
        Ok(by_version)
    }
}

fn not_found(name: &str, version: &str) -> RegistryError {
    RegistryError::NotFound(format!("model `{name}` version {version}"))
}

#[async_trait]
impl Registry for BuiltinRegistry {
    fn describe(&self) -> String {
        format!(
            "built-in registry (tables in the store, files in {})",
            self.media.describe()
        )
    }

    async fn register(&self, bundle_dir: &Path) -> Result<RegisteredVersion, RegistryError> {
        let bundle = read_bundle(bundle_dir).await?;
        for file in &bundle.index.files {
            let key = blob_key(&file.sha256);
            if self.media.exists(&key).await? {
                continue;
            }
            let stored = self.media.put_file(&key, &bundle.path_of(file)).await?;
            if stored != file.size {
                return Err(RegistryError::InvalidBundle {
                    path: bundle.dir.display().to_string(),
                    message: format!("`{}` changed while being registered", file.path),
                });
            }
        }
        let name = bundle.manifest.name.clone();
        let created_at = Utc::now();
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO registry_versions (name, version, manifest, files, created_at)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4
             FROM registry_versions WHERE name = $5
             RETURNING version",
        )
        .bind(&name)
        .bind(to_json(&bundle.manifest)?)
        .bind(to_json(&bundle.index)?)
        .bind(timestamp(created_at))
        .bind(&name)
        .fetch_one(&self.pool)
        .await?;
        tracing::info!(%name, version, dir = %bundle.dir.display(), "registered model version");
        Ok(RegisteredVersion {
            name,
            version: version.to_string(),
            manifest: bundle.manifest,
            aliases: Vec::new(),
            created_at,
            index: bundle.index,
        })
    }

    async fn list_models(&self) -> Result<Vec<String>, RegistryError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT name FROM registry_versions ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<RegisteredVersion>, RegistryError> {
        check_model_name(name)?;
        let mut aliases = self.aliases_of(name).await?;
        let rows = sqlx::query(
            "SELECT version, manifest, files, created_at FROM registry_versions
             WHERE name = $1 ORDER BY version",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.get("version");
                let aliases = aliases.remove(&version).unwrap_or_default();
                Self::version_from_row(name, row, aliases)
            })
            .collect()
    }

    async fn get_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<RegisteredVersion, RegistryError> {
        check_model_name(name)?;
        let number = parse_version(version)? as i64;
        let row = sqlx::query(
            "SELECT version, manifest, files, created_at FROM registry_versions
             WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(name, version))?;
        let aliases = self
            .aliases_of(name)
            .await?
            .remove(&number)
            .unwrap_or_default();
        Self::version_from_row(name, &row, aliases)
    }

    async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), RegistryError> {
        check_model_name(name)?;
        check_alias(alias)?;
        let number = parse_version(version)? as i64;
        // Only an existing version can be pointed at: the SELECT yields no row otherwise.
        let done = sqlx::query(
            "INSERT INTO registry_aliases (name, alias, version, updated_at)
             SELECT name, $1, version, $2 FROM registry_versions WHERE name = $3 AND version = $4
             ON CONFLICT (name, alias) DO UPDATE
             SET version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(alias)
        .bind(timestamp(Utc::now()))
        .bind(name)
        .bind(number)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(name, version));
        }
        Ok(())
    }

    async fn alias_version(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<String>, RegistryError> {
        check_model_name(name)?;
        check_alias(alias)?;
        let version: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM registry_aliases WHERE name = $1 AND alias = $2",
        )
        .bind(name)
        .bind(alias)
        .fetch_optional(&self.pool)
        .await?;
        Ok(version.map(|v| v.to_string()))
    }

    async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        check_model_name(name)?;
        check_alias(alias)?;
        sqlx::query("DELETE FROM registry_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn fetch(
        &self,
        name: &str,
        version: &str,
        cache_root: &Path,
    ) -> Result<PathBuf, RegistryError> {
        check_model_name(name)?;
        let number = parse_version(version)? as i64;
        let files: String = sqlx::query_scalar(
            "SELECT files FROM registry_versions WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(name, version))?;
        let index: BundleIndex = parse_json("files", &files)?;
        index.check_paths()?;
        if let Some(dir) = cached(cache_root, name, version, &index) {
            return Ok(dir);
        }
        let staging = Staging::new(cache_root, name, version)?;
        for file in &index.files {
            let local = self.media.local_copy(&blob_key(&file.sha256)).await?;
            let to = staging.path_for(file)?;
            tokio::fs::copy(&local.path, &to)
                .await
                .map_err(|e| RegistryError::io(&to, e))?;
        }
        staging.commit(&index).await
    }

    async fn append_audit(&self, decision: &Decision) -> Result<(), RegistryError> {
        check_model_name(&decision.name)?;
        sqlx::query("INSERT INTO registry_audit (name, at, entry) VALUES ($1, $2, $3)")
            .bind(&decision.name)
            .bind(timestamp(decision.at))
            .bind(to_json(decision)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit_log(&self, name: Option<&str>) -> Result<Vec<Decision>, RegistryError> {
        let entries: Vec<String> = match name {
            Some(name) => {
                check_model_name(name)?;
                sqlx::query_scalar("SELECT entry FROM registry_audit WHERE name = $1 ORDER BY id")
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar("SELECT entry FROM registry_audit ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        entries
            .iter()
            .map(|entry| parse_json("audit entry", entry))
            .collect()
    }
}
