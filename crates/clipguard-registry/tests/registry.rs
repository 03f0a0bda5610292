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
use clipguard_testkit::Postgres;
use registry::{media::FolderMediaStore, server::MlflowServer, suite};
use sqlx::AnyPool;
use std::sync::Arc;

async fn builtin_suite(url: &str) {
    sqlx::any::install_default_drivers();
    let tmp = tempfile::tempdir().unwrap();
    let url = url.replace("{tmp}", &tmp.path().display().to_string());
    let pool = AnyPool::connect(&url).await.unwrap();
    let media = Arc::new(FolderMediaStore::new(&tmp.path().join("media")));
    // Opening twice is harmless: the tables are created only when missing.
    BuiltinRegistry::open(pool.clone(), media.clone())
        .await
        .unwrap();
    let registry = BuiltinRegistry::open(pool, media).await.unwrap();
    suite::run(Arc::new(registry) as Arc<dyn Registry>, tmp.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_registry_passes_the_suite() {
    builtin_suite("sqlite://{tmp}/clipguard.db?mode=rwc").await;
}

/// The same tables in the scale-out store: a real PostgreSQL server on a loopback port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_registry_on_postgres_passes_the_suite() {
    let pg = Postgres::start();
    builtin_suite(&pg.url("registry")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflow_registry_passes_the_suite() {
    let server = MlflowServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let registry = MlflowRegistry::new(MlflowConfig::with_url(&server.url)).unwrap();
    suite::run(Arc::new(registry) as Arc<dyn Registry>, tmp.path()).await;
    drop(server);
}
