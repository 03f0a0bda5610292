//! Topology: building the stages from one `Config` and running them.
//!
//! [`Backends::open`] wires the backends the config names — store (`[store] url`: SQLite file
//! or PostgreSQL), queue (`[queue] kind`: embedded SQLite or Kafka), media (`[media] url`: local
//! folder or S3), registry (`[registry] backend`: built-in or MLflow) — and [`Pipeline::open`]
//! adds the analysers; `ingestor()` and `worker()` hand out the two active stages. Which
//! backend is chosen is decided here and nowhere else.

pub mod classify;
pub mod hot_swap;
pub mod ingest_sources;
pub mod registry;
pub mod retrain;
pub mod settings;
pub mod worker;

use crate::analyse::AnalyserSet;
use crate::cache::DedupCache;
use crate::ingest::Ingestor;
use crate::media::{LocalMediaStore, S3MediaStore};
use crate::sql::StoreLocation;
use crate::store::SqlStore;
use clipguard_core::StageError;
use clipguard_core::config::Config;
use clipguard_core::stage::{MediaStore, Queue, Store};
use clipguard_registry::Registry;
pub use ingest_sources::{IngestReport, IngestSourcesError};
use std::path::PathBuf;
use std::sync::Arc;
pub use worker::{RunMode, Worker, WorkerSummary};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot open the database `{path}`: {message}")]
    Database { path: String, message: String },
    #[error("cannot reach the dedup cache: {0}")]
    Cache(String),
    #[error("cannot open the queue: {0}")]
    Queue(String),
    #[error("cannot open the media store: {0}")]
    Media(String),
    #[error(transparent)]
    Analysers(#[from] StageError),
    #[error("cannot open the model registry: {0}")]
    Registry(String),
    #[error("saved settings: {0}")]
    Settings(String),
}

#[derive(Clone)]
pub struct Pipeline {
    pub config: Config,
    pub store: Arc<SqlStore>,
    pub queue: Arc<dyn Queue>,
    pub media: Arc<dyn MediaStore>,
    pub registry: Arc<dyn Registry>,
    pub cache: Option<DedupCache>,
    pub analysers: AnalyserSet,
    /// The text champion the model thread started on (`None`: the model is off, or no
    /// registry version exists and the built-in head serves).
    pub text_start: Option<crate::analyse::models::TextStart>,
    /// The registry version of the fusion champion decide started on (`None`: the built-in
    /// parameters).
    pub fusion_start: Option<String>,
    /// The saved rules and thresholds versions the analysers started on.
    pub settings_loaded: settings::SettingsLoaded,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("data", &self.config.data.dir)
            .finish()
    }
}

impl Pipeline {
    pub fn database_path(config: &Config) -> PathBuf {
        config.data.dir.join("clipguard.db")
    }

    /// Opens the backends ([`Backends::open`]) and builds the analysers on what the registry
    /// and the saved settings say is in force.
    pub async fn open(config: Config) -> Result<Pipeline, PipelineError> {
        let Backends {
            config,
            store,
            queue,
            media,
            registry,
            cache,
        } = Backends::open(config).await?;
        let text_start = hot_swap::text_start(&config, registry.as_ref()).await?;
        let (fusion, fusion_start) = hot_swap::fusion_start(&config, registry.as_ref()).await?;
        let (rules, decide, settings_loaded) = settings::settings_start(&store, &config).await?;
        let start = crate::analyse::InForce {
            text: text_start.clone(),
            fusion,
            rules,
            decide,
        };
        let analysers = AnalyserSet::build(&config, start).await?;
        Ok(Pipeline {
            store,
            queue,
            media,
            registry,
            cache,
            analysers,
            text_start,
            fusion_start,
            settings_loaded,
            config,
        })
    }

    /// The backends alone (cheap: shared handles).
    pub fn backends(&self) -> Backends {
        Backends {
            config: self.config.clone(),
            store: self.store.clone(),
            queue: self.queue.clone(),
            media: self.media.clone(),
            registry: self.registry.clone(),
            cache: self.cache.clone(),
        }
    }

    pub fn store_dyn(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn queue_dyn(&self) -> Arc<dyn Queue> {
        self.queue.clone()
    }

    pub fn media_dyn(&self) -> Arc<dyn MediaStore> {
        self.media.clone()
    }

    pub fn ingestor(&self) -> Ingestor {
        self.backends().ingestor()
    }

    pub fn worker(&self) -> Worker {
        Worker::new(
            self.store_dyn(),
            self.queue_dyn(),
            self.media_dyn(),
            self.analysers.clone(),
            self.config.clone(),
        )
    }
}

/// The store, the queue, the media store and the registry, without any analyser: what the
/// dashboard (`serve`) needs, so it starts without loading a model.
#[derive(Clone)]
pub struct Backends {
    pub config: Config,
    pub store: Arc<SqlStore>,
    pub queue: Arc<dyn Queue>,
    pub media: Arc<dyn MediaStore>,
    pub registry: Arc<dyn Registry>,
    pub cache: Option<DedupCache>,
}

impl Backends {
    /// The ingest stage on these backends (no model needed).
    pub fn ingestor(&self) -> Ingestor {
        Ingestor::new(
            self.store.clone(),
            self.queue.clone(),
            self.media.clone(),
            self.config.clone(),
        )
        .with_cache(self.cache.clone())
    }

    pub async fn open(config: Config) -> Result<Backends, PipelineError> {
        let store = open_store(&config).await?;
        let media = open_media(&config)?;
        let registry = registry::open_registry(&config, store.pool(), media.clone()).await?;
        let queue = open_queue(&config).await?;
        let cache = DedupCache::open(&config.cache)
            .await
            .map_err(|e| PipelineError::Cache(e.to_string()))?;
        Ok(Backends {
            store,
            queue,
            media,
            registry,
            cache,
            config,
        })
    }
}

/// The store `[store] url` names (migrated).
pub async fn open_store(config: &Config) -> Result<Arc<SqlStore>, PipelineError> {
    let database = |message: String, location: String| PipelineError::Database {
        path: location,
        message,
    };
    let location =
        StoreLocation::from_config(config).map_err(|e| database(e.to_string(), String::new()))?;
    let (pool, dialect) = crate::sql::open(&location, config.store.max_connections)
        .await
        .map_err(|e| database(e.to_string(), location.display()))?;
    Ok(Arc::new(SqlStore::new(pool, dialect)))
}

/// The queue `[queue] kind` names: the embedded one lives in `<data>/clipguard.db`.
pub async fn open_queue(config: &Config) -> Result<Arc<dyn Queue>, PipelineError> {
    crate::queue::open(config)
        .await
        .map_err(|e| PipelineError::Queue(e.to_string()))
}

/// The media store `[media] url` names: `<data>/media` when empty.
pub fn open_media(config: &Config) -> Result<Arc<dyn MediaStore>, PipelineError> {
    let media: Arc<dyn MediaStore> = if config.media.url.trim().is_empty() {
        Arc::new(
            LocalMediaStore::open(&config.data.dir.join("media"))
                .map_err(|e| PipelineError::Media(e.to_string()))?,
        )
    } else {
        Arc::new(
            S3MediaStore::open(&config.media).map_err(|e| PipelineError::Media(e.to_string()))?,
        )
    };
    Ok(media)
}

/// The store and the queue alone, for commands that only read them (`status`): no model is
/// loaded and the registry is not touched.
pub async fn open_stores(
    config: &Config,
) -> Result<(Arc<SqlStore>, Arc<dyn Queue>), PipelineError> {
    Ok((open_store(config).await?, open_queue(config).await?))
}
