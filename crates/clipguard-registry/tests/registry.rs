//! One suite (`registry/suite.rs`), two backends: the built-in registry on a temp SQLite file
//! and folder, and the MLflow registry against a real `mlflow server` this binary starts on
//! 127.0.0.1 (and stops, also on panic). Neither test is ever skipped: without python3 + pip
//! the MLflow test fails and says why.

mod registry {
    pub mod bundles;
    pub mod failing;
    pub mod media;
    pub mod server;
    pub mod suite;
}

use clipguard_registry::{BuiltinRegistry, MlflowConfig, MlflowRegistry, Registry};
use registry::{media::FolderMediaStore, server::MlflowServer, suite};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_registry_passes_the_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(tmp.path().join("clipguard.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    let media = Arc::new(FolderMediaStore::new(&tmp.path().join("media")));
    // Opening twice is harmless: the tables are created only when missing.
    BuiltinRegistry::open(pool.clone(), media.clone())
        .await
        .unwrap();
    let registry = BuiltinRegistry::open(pool, media).await.unwrap();
    suite::run(Arc::new(registry) as Arc<dyn Registry>, tmp.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflow_registry_passes_the_suite() {
    let server = MlflowServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let registry = MlflowRegistry::new(MlflowConfig::with_url(&server.url)).unwrap();
    suite::run(Arc::new(registry) as Arc<dyn Registry>, tmp.path()).await;
    drop(server);
}
