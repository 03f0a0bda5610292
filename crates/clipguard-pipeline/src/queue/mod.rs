//! Queue backends behind `clipguard_core::stage::Queue`: `sqlite` is the embedded default
//! (`[queue] kind = "embedded"`), `kafka` the scale-out one (`kind = "kafka"`). `open` is the
//! one place that picks.

pub mod kafka;
pub mod sqlite;

pub use kafka::KafkaQueue;
pub use sqlite::SqliteQueue;

use clipguard_core::config::Config;
use clipguard_core::stage::{Queue, QueueError};
use std::sync::Arc;

/// The topic carrying videos to analyse.
pub const VIDEOS_TOPIC: &str = "clipguard.videos";

/// The topic carrying stored verdicts to downstream consumers (Kafka only).
pub const VERDICTS_TOPIC: &str = "clipguard.verdicts";

/// Opens the queue `[queue] kind` names. The embedded queue lives in `<data>/clipguard.db`
/// (beside the embedded store, or alone when the store is PostgreSQL).
pub async fn open(config: &Config) -> Result<Arc<dyn Queue>, QueueError> {
    match config.queue.kind.as_str() {
        "kafka" => Ok(Arc::new(KafkaQueue::new(&config.queue)?)),
        _ => {
            let path = config.data.dir.join("clipguard.db");
            let pool = crate::sqlite::open(&path)
                .await
                .map_err(|e| QueueError::Backend(format!("{}: {e}", path.display())))?;
            Ok(Arc::new(SqliteQueue::new(
                pool,
                VIDEOS_TOPIC,
                config.queue.clone(),
            )))
        }
    }
}

/// What a message on [`VIDEOS_TOPIC`] carries: only the id; the worker reads the rest from the
/// store, so a message never holds stale metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoMessage {
    pub video_id: String,
}
