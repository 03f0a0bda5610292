//! The MLflow registry: the same `Registry` over an MLflow tracking server's REST API.
//!
//! How ClipGuard's notions map onto MLflow:
//! - a registered candidate is a run in experiment `<prefix>/<name>` (tags: modality, eval set,
//!   data fingerprint, code and trainer versions; params: the manifest's params, thresholds and
//!   data sizes; metrics: the manifest's metrics), whose artifacts hold the bundle under
//!   `bundle/` and the registration record (`record.rs`);
//! - a registry version is an MLflow model version of registered model `<model_prefix><name>`
//!   with `source` = the run's `bundle/` folder, so MLflow numbers versions 1, 2, … per name;
//! - aliases are MLflow aliases (`champion`, `challenger`), not the deprecated stages;
//! - the audit log is experiment `<prefix>/_audit`, one run per decision (`audit.rs`).
//!
//! Files move through the server's artifact proxy, so the client never needs credentials to the
//! artifact storage behind it.

mod api;
mod audit;
mod client;
mod config;
mod record;
mod runs;

pub use config::MlflowConfig;

use crate::audit::Decision;
use crate::bundle::{BundleFile, read_bundle};
use crate::cache::{Staging, cached};
use crate::error::RegistryError;
use crate::names::{check_alias, check_model_name, parse_version};
use crate::registry::Registry;
use crate::version::RegisteredVersion;
use api::{
    GetModelVersion, GetRegisteredModel, ModelVersion, SearchModelVersions, SearchRegisteredModels,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use client::{Client, artifact_path, is_already_exists, is_not_found};
use record::{BUNDLE_DIR, RECORD_PATH, Registration};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Bound on pages read from one search (at 1000 per page, far beyond any real registry).
const MAX_PAGES: usize = 1000;

pub struct MlflowRegistry {
    client: Client,
    config: MlflowConfig,
    /// Experiment name → id (experiments are never renamed under us).
    experiments: Mutex<HashMap<String, String>>,
    /// Model version source → its registration record (immutable once registered).
    records: Mutex<HashMap<String, Arc<Registration>>>,
}

impl MlflowRegistry {
    /// A client for the server at `config.url`. No request is made until the first call.
    pub fn new(config: MlflowConfig) -> Result<MlflowRegistry, RegistryError> {
        config.validate()?;
        Ok(MlflowRegistry {
            client: Client::new(&config)?,
            config,
            experiments: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
        })
    }

    fn model_name(&self, name: &str) -> String {
        format!("{}{name}", self.config.model_prefix)
    }

    fn experiment_name(&self, name: &str) -> String {
        format!("{}/{name}", self.config.experiment_prefix)
    }

    /// The registration record of a version, from the memo or downloaded once.
    async fn registration(
        &self,
        name: &str,
        source: &str,
    ) -> Result<Arc<Registration>, RegistryError> {
        if let Some(found) = self.records.lock().unwrap().get(source) {
            return Ok(found.clone());
        }
        let run_root = source
            .strip_suffix(&format!("/{BUNDLE_DIR}"))
            .ok_or_else(|| {
                RegistryError::Unsupported(format!(
                    "model version source `{source}` was not registered by ClipGuard \
                     (expected <run artifacts>/{BUNDLE_DIR})"
                ))
            })?;
        let path = format!("{}/{RECORD_PATH}", artifact_path(run_root)?);
        let bytes = self.client.download_bytes(&path).await?;
        let record: Registration =
            serde_json::from_slice(&bytes).map_err(|e| RegistryError::corrupt(path.clone(), e))?;
        record.index.check_paths()?;
        if record.manifest.name != name {
            return Err(RegistryError::corrupt(
                path,
                format!("manifest names `{}`, not `{name}`", record.manifest.name),
            ));
        }
        let record = Arc::new(record);
        self.records
            .lock()
            .unwrap()
            .insert(source.to_string(), record.clone());
        Ok(record)
    }

    async fn to_registered(
        &self,
        name: &str,
        mv: ModelVersion,
        mut aliases: Vec<String>,
    ) -> Result<RegisteredVersion, RegistryError> {
        let source = mv.source.ok_or_else(|| {
            RegistryError::corrupt(format!("model version {}", mv.version), "no source")
        })?;
        let record = self.registration(name, &source).await?;
        aliases.sort();
        Ok(RegisteredVersion {
            name: name.to_string(),
            version: mv.version,
            manifest: record.manifest.clone(),
            aliases,
            created_at: DateTime::from_timestamp_millis(mv.creation_timestamp).unwrap_or_default(),
            index: record.index.clone(),
        })
    }

    /// Aliases of a registered model by version; `None` when the model does not exist.
    async fn aliases(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, Vec<String>>>, RegistryError> {
        let model = self.model_name(name);
        match self
            .client
            .get::<GetRegisteredModel>("registered-models/get", &[("name", &model)])
            .await
        {
            Ok(found) => {
                let mut by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for a in found.registered_model.aliases {
                    by_version.entry(a.version).or_default().push(a.alias);
                }
                Ok(Some(by_version))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn model_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<ModelVersion, RegistryError> {
        check_model_name(name)?;
        parse_version(version)?;
        let model = self.model_name(name);
        match self
            .client
            .get::<GetModelVersion>(
                "model-versions/get",
                &[("name", &model), ("version", version)],
            )
            .await
        {
            Ok(found) => Ok(found.model_version),
            Err(e) if is_not_found(&e) => Err(RegistryError::NotFound(format!(
                "model `{name}` version {version}"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Uploads the bundle and the record into a fresh run; returns the run's artifact URI.
    async fn upload_candidate(
        &self,
        run_id: &str,
        artifact_uri: &str,
        bundle: &crate::bundle::LocalBundle,
    ) -> Result<(), RegistryError> {
        let m = &bundle.manifest;
        let mut params: BTreeMap<String, String> = m.params.clone();
        for (k, v) in &m.thresholds {
            params.insert(format!("threshold.{k}"), v.to_string());
        }
        for (k, v) in &m.data {
            params.insert(format!("data.{k}"), v.to_string());
        }
        self.log_batch(run_id, &params, &m.metrics, m.created_at.timestamp_millis())
            .await?;
        let root = artifact_path(artifact_uri)?;
        for file in &bundle.index.files {
            let to = format!("{root}/{BUNDLE_DIR}/{}", file.path);
            self.client.upload_file(&to, &bundle.path_of(file)).await?;
        }
        let record = Registration {
            manifest: m.clone(),
            index: bundle.index.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&record)
            .map_err(|e| RegistryError::corrupt("registration record", e))?;
        self.client
            .upload_bytes(&format!("{root}/{RECORD_PATH}"), bytes)
            .await
    }
}

fn opt_tag(key: &str, value: &Option<String>) -> Option<(String, String)> {
    value.as_ref().map(|v| (key.to_string(), v.clone()))
}

#[async_trait]
impl Registry for MlflowRegistry {
    fn describe(&self) -> String {
        format!(
            "MLflow registry at {} (models {}<name>, experiments {}/<name>)",
            self.client.base(),
            self.config.model_prefix,
            self.config.experiment_prefix
        )
    }

    async fn register(&self, bundle_dir: &Path) -> Result<RegisteredVersion, RegistryError> {
        let bundle = read_bundle(bundle_dir).await?;
        let m = &bundle.manifest;
        let name = m.name.clone();
        let experiment = self
            .experiment_id(&self.experiment_name(&name), true)
            .await?
            .unwrap_or_default();
        let mut tags: Vec<(String, String)> = [
            ("clipguard.name", &m.name),
            ("clipguard.modality", &m.modality),
            ("clipguard.trainer_version", &m.version),
            ("clipguard.eval_set", &m.eval_set),
            ("clipguard.data_fingerprint", &m.data_fingerprint),
            ("clipguard.code_version", &m.code_version),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        tags.extend(opt_tag("clipguard.parent", &m.parent));
        tags.extend(opt_tag("clipguard.base_model", &m.base_model));
        let run = self
            .create_run(
                &experiment,
                &m.version,
                Utc::now().timestamp_millis(),
                &tags,
            )
            .await?;
        let run_id = run.info.run_id;
        let uploaded = self
            .upload_candidate(&run_id, &run.info.artifact_uri, &bundle)
            .await;
        // Best effort: a run left RUNNING is only cosmetic, the upload error is what matters.
        let ended = self.end_run(&run_id, uploaded.is_ok()).await;
        uploaded?;
        ended?;

        let model = self.model_name(&name);
        match self
            .client
            .post::<Value>("registered-models/create", &json!({ "name": model }))
            .await
        {
            Ok(_) => {}
            Err(e) if is_already_exists(&e) => {}
            Err(e) => return Err(e),
        }
        let source = format!(
            "{}/{BUNDLE_DIR}",
            run.info.artifact_uri.trim_end_matches('/')
        );
        let f1 = m
            .f1_harmful()
            .map_or_else(|| "-".to_string(), |f| f.to_string());
        let body = json!({
            "name": model,
            "source": source,
            "run_id": run_id,
            "description": format!("ClipGuard bundle {} (F1 harmful {f1} on {})", m.version, m.eval_set),
            "tags": [
                {"key": "clipguard.trainer_version", "value": m.version},
                {"key": "clipguard.eval_set", "value": m.eval_set},
                {"key": "clipguard.f1_harmful", "value": f1},
            ],
        });
        let created: GetModelVersion = self.client.post("model-versions/create", &body).await?;
        let record = Arc::new(Registration {
            manifest: bundle.manifest.clone(),
            index: bundle.index.clone(),
        });
        self.records.lock().unwrap().insert(source, record);
        tracing::info!(%name, version = %created.model_version.version, %run_id, "registered model version in MLflow");
        self.to_registered(&name, created.model_version, Vec::new())
            .await
    }

    async fn list_models(&self) -> Result<Vec<String>, RegistryError> {
        // The prefix is plain characters (checked in `new`); `_` being a LIKE wildcard is
        // harmless, names are checked against the prefix again below.
        let filter = format!("name LIKE '{}%'", self.config.model_prefix);
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "1000")];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let page: SearchRegisteredModels =
                self.client.get("registered-models/search", &query).await?;
            for model in page.registered_models {
                if let Some(name) = model.name.strip_prefix(&self.config.model_prefix)
                    && check_model_name(name).is_ok()
                {
                    names.push(name.to_string());
                }
            }
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn list_versions(&self, name: &str) -> Result<Vec<RegisteredVersion>, RegistryError> {
        check_model_name(name)?;
        let Some(mut aliases) = self.aliases(name).await? else {
            return Ok(Vec::new());
        };
        let filter = format!("name='{}'", self.model_name(name));
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "1000")];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let page: SearchModelVersions =
                self.client.get("model-versions/search", &query).await?;
            found.extend(page.model_versions);
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        found.sort_by_key(|mv| mv.version.parse::<u64>().unwrap_or(u64::MAX));
        let mut versions = Vec::with_capacity(found.len());
        for mv in found {
            let these = aliases.remove(&mv.version).unwrap_or_default();
            versions.push(self.to_registered(name, mv, these).await?);
        }
        Ok(versions)
    }

    async fn get_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<RegisteredVersion, RegistryError> {
        let mv = self.model_version(name, version).await?;
        let aliases = mv.aliases.clone();
        self.to_registered(name, mv, aliases).await
    }

    async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), RegistryError> {
        check_model_name(name)?;
        check_alias(alias)?;
        parse_version(version)?;
        let body = json!({"name": self.model_name(name), "alias": alias, "version": version});
        match self
            .client
            .post::<Value>("registered-models/alias", &body)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Err(RegistryError::NotFound(format!(
                "model `{name}` version {version}"
            ))),
            Err(e) => Err(e),
        }
    }

    async fn alias_version(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<String>, RegistryError> {
        check_model_name(name)?;
        check_alias(alias)?;
        // The registered model lists its aliases: one request, and a missing alias is simply
        // absent (MLflow's get-by-alias answers a bare 400 for it).
        let aliases = self.aliases(name).await?.unwrap_or_default();
        Ok(aliases
            .into_iter()
            .find(|(_, names)| names.iter().any(|a| a == alias))
            .map(|(version, _)| version))
    }

    async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), RegistryError> {
        check_model_name(name)?;
        check_alias(alias)?;
        let body = json!({"name": self.model_name(name), "alias": alias});
        match self
            .client
            .call::<Value>(Method::DELETE, "registered-models/alias", &body)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn fetch(
        &self,
        name: &str,
        version: &str,
        cache_root: &Path,
    ) -> Result<PathBuf, RegistryError> {
        let mv = self.model_version(name, version).await?;
        let source = mv.source.clone().unwrap_or_default();
        let record = self.registration(name, &source).await?;
        if let Some(dir) = cached(cache_root, name, version, &record.index) {
            return Ok(dir);
        }
        let root = artifact_path(&source)?;
        let staging = Staging::new(cache_root, name, version)?;
        for file in &record.index.files {
            let file: &BundleFile = file;
            let to = staging.path_for(file)?;
            self.client
                .download_file(&format!("{root}/{}", file.path), &to)
                .await?;
        }
        staging.commit(&record.index).await
    }

    async fn append_audit(&self, decision: &Decision) -> Result<(), RegistryError> {
        self.append_decision(decision).await
    }

    async fn audit_log(&self, name: Option<&str>) -> Result<Vec<Decision>, RegistryError> {
        self.read_decisions(name).await
    }
}
