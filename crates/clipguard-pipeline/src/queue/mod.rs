//! Queue backends. `sqlite` is the embedded default; Kafka (#6) implements the same
//! `clipguard_core::stage::Queue` trait.

pub mod sqlite;

pub use sqlite::SqliteQueue;

/// The topic carrying videos to analyse.
pub const VIDEOS_TOPIC: &str = "clipguard.videos";

/// What a message on [`VIDEOS_TOPIC`] carries: only the id; the worker reads the rest from the
/// store, so a message never holds stale metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VideoMessage {
    pub video_id: String,
}
