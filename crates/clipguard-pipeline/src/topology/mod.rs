//! Topology: building the stages from one `Config` and running them.
//!
//! [`Pipeline::open`] wires the embedded backends (SQLite queue + store in `<data>/clipguard.db`,
//! media under `<data>/media`); `ingestor()` and `worker()` hand out the two active stages.
//! The scale-out backends (#6) plug in here and nowhere else.

pub mod classify;
pub mod hot_swap;
pub mod ingest_sources;
pub mod registry;
pub mod retrain;
pub mod settings;
pub mod worker;

use crate::analyse::AnalyserSet;
use crate::ingest::Ingestor;
use crate::media::{LocalMediaStore, S3MediaStore};
use crate::queue::{SqliteQueue, VIDEOS_TOPIC};
use crate::store::SqliteStore;
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
    pub store: Arc<SqliteStore>,
    pub queue: Arc<SqliteQueue>,
    pub media: Arc<dyn MediaStore>,
    pub registry: Arc<dyn Registry>,
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
        Ingestor::new(
            self.store_dyn(),
            self.queue_dyn(),
            self.media_dyn(),
            self.config.clone(),
        )
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
    pub store: Arc<SqliteStore>,
    pub queue: Arc<SqliteQueue>,
    pub media: Arc<dyn MediaStore>,
    pub registry: Arc<dyn Registry>,
}

impl Backends {
    pub async fn open(config: Config) -> Result<Backends, PipelineError> {
        let (pool, media) = open_backends(&config).await?;
        let registry = registry::open_registry(&config, &pool, media.clone()).await?;
        Ok(Backends {
            store: Arc::new(SqliteStore::new(pool.clone())),
            queue: Arc::new(SqliteQueue::new(pool, VIDEOS_TOPIC, config.queue.clone())),
            media,
            registry,
            config,
        })
    }
}

/// The database (migrated) and the media folder under `config.data.dir`.
async fn open_backends(
    config: &Config,
) -> Result<(sqlx::SqlitePool, Arc<dyn MediaStore>), PipelineError> {
    let db = Pipeline::database_path(config);
    let pool = crate::sqlite::open(&db)
        .await
        .map_err(|e| PipelineError::Database {
            path: db.display().to_string(),
            message: e.to_string(),
        })?;
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
    Ok((pool, media))
}

/// The store and the queue alone, for commands that only read them (`status`): no model is
/// loaded and the registry is not touched.
pub async fn open_stores(
    config: &Config,
) -> Result<(Arc<SqliteStore>, Arc<SqliteQueue>), PipelineError> {
    let (pool, _media) = open_backends(config).await?;
    Ok((
        Arc::new(SqliteStore::new(pool.clone())),
        Arc::new(SqliteQueue::new(pool, VIDEOS_TOPIC, config.queue.clone())),
    ))
}
