//! Opening the model registry the config names: the built-in one shares the pipeline's
//! database and media store; MLflow is reached over REST. `models …` commands open only this
//! (no model is loaded), `run`/`worker` open it beside the queue and the store.

use super::PipelineError;
use clipguard_core::config::Config;
use clipguard_registry::mlflow::MlflowConfig;
use clipguard_registry::{BuiltinRegistry, GatePolicy, MlflowRegistry, Registry};
use sqlx::AnyPool;
use std::path::PathBuf;
use std::sync::Arc;

/// The gate's rules from `[registry]`.
pub fn gate_policy(config: &Config) -> GatePolicy {
    GatePolicy {
        floors: config.registry.floors.clone(),
        margin: config.registry.margin,
    }
}

/// Where fetched bundles are unpacked: `<data>/models/<name>/<version>`.
pub fn bundle_cache(config: &Config) -> PathBuf {
    config.data.dir.join("models")
}

pub async fn open_registry(
    config: &Config,
    pool: &AnyPool,
    media: Arc<dyn clipguard_core::stage::MediaStore>,
) -> Result<Arc<dyn Registry>, PipelineError> {
    let registry: Arc<dyn Registry> = match config.registry.backend.as_str() {
        "mlflow" => Arc::new(
            MlflowRegistry::new(MlflowConfig {
                url: config.registry.mlflow_url.clone(),
                ..MlflowConfig::default()
            })
            .map_err(|e| PipelineError::Registry(e.to_string()))?,
        ),
        _ => Arc::new(
            BuiltinRegistry::open(pool.clone(), media)
                .await
                .map_err(|e| PipelineError::Registry(e.to_string()))?,
        ),
    };
    Ok(registry)
}

/// Opens only the database, the media store and the registry (for `models …`).
pub async fn open_registry_only(config: &Config) -> Result<Arc<dyn Registry>, PipelineError> {
    Ok(super::Backends::open(config.clone()).await?.registry)
}
