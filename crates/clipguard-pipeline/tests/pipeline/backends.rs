//! The two backend sets the pipeline suite runs on: the embedded default (SQLite file, SQLite
//! queue, media folder) and the scale-out one (PostgreSQL, Kafka via tansu, S3 via s3s-fs),
//! each a real private server on a loopback port. Only the config differs; the tests are the
//! same code (`both!`).

use clipguard_core::Config;
use clipguard_testkit::{Postgres, S3Server, Tansu};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    ScaleOut,
}

/// The services behind a scale-out config; stopped when dropped.
#[derive(Debug)]
pub struct Services {
    pub postgres: Postgres,
    pub kafka: Tansu,
    pub s3: S3Server,
}

/// The suite's config (fast retries, OCR and speech off) on `backend`, with `data` as the
/// data folder (the embedded backends live there; the scale-out ones only use it for
/// temporary files and model bundles).
pub fn setup(backend: Backend, data: &Path) -> (Config, Option<Services>) {
    let mut c = Config::default();
    c.data.dir = data.to_path_buf();
    c.web.addr = String::new();
    // OCR and speech have their own tests; these are about the queue, store and ingest.
    c.ocr.enabled = false;
    c.speech.enabled = false;
    c.queue.backoff_base_ms = 10;
    c.queue.backoff_max_ms = 20;
    c.queue.poll_interval_ms = 20;
    if backend == Backend::Embedded {
        return (c, None);
    }
    let services = Services {
        postgres: Postgres::start(),
        kafka: Tansu::start(),
        s3: S3Server::start(&["clipguard-media"]),
    };
    c.store.url = services.postgres.url("clipguard");
    c.queue.kind = "kafka".into();
    c.queue.brokers = services.kafka.brokers();
    c.queue.partitions = 3;
    c.media.url = "s3://clipguard-media".into();
    c.media.endpoint = services.s3.endpoint();
    c.media.access_key = clipguard_testkit::s3::ACCESS_KEY.into();
    c.media.secret_key = clipguard_testkit::s3::SECRET_KEY.into();
    (c, Some(services))
}

/// Runs each named `async fn name(backend: Backend)` as two tests, `name::embedded` and
/// `name::scale_out`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name(super::backends::Backend::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn scale_out() {
                    super::$name(super::backends::Backend::ScaleOut).await
                }
            }
        )*
    };
}
