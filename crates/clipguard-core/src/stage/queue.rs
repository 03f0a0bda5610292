//! A durable work queue with at-least-once delivery.
//!
//! The contract, shared by the SQLite queue and the Kafka one (#6):
//! - `lease` hands out messages; a leased message is invisible to other workers until its
//!   visibility timeout passes, then it is delivered again (a crashed worker loses nothing);
//! - `ack` is called only after the verdict is stored, so a message is never lost;
//! - `retry` puts it back with exponential backoff, or moves it to dead letters after the
//!   configured number of attempts;
//! - redelivery is harmless because verdicts are upserted by (video id, pipeline version).

use crate::error::{Classify, ErrorClass};
use crate::stats::QueueStats;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What is published: `key` is the video id (Kafka's partition key; the SQLite queue uses it to
/// refuse a second live message for the same video).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub key: String,
    pub payload: serde_json::Value,
}

/// A leased message. `receipt` identifies this lease (row id + lease token for SQLite,
/// partition + offset for Kafka); acking with a stale receipt is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub receipt: String,
    pub message: QueueMessage,
    /// 1 on first delivery.
    pub attempt: u32,
}

/// A message that exhausted its attempts, as the dashboard lists it. `id` is the backend's own
/// handle for retry/discard (the SQLite row id; a Kafka dead-letter topic offset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: String,
    pub key: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub dead_since_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryOutcome {
    RetryAfter(Duration),
    DeadLettered,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue backend: {0}")]
    Backend(String),
    #[error("lease `{0}` expired or was taken over by another worker")]
    LeaseLost(String),
    #[error("malformed queue message: {0}")]
    Malformed(String),
}

impl Classify for QueueError {
    fn class(&self) -> ErrorClass {
        match self {
            QueueError::Backend(_) | QueueError::LeaseLost(_) => ErrorClass::External,
            QueueError::Malformed(_) => ErrorClass::Input,
        }
    }
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Publishes a message; returns `false` when a live message with the same key already
    /// waits (the SQLite queue dedups; Kafka always returns `true`).
    async fn publish(&self, message: QueueMessage) -> Result<bool, QueueError>;
    /// Leases up to `max` messages that are ready now.
    async fn lease(&self, max: usize) -> Result<Vec<Delivery>, QueueError>;
    /// Acknowledges a delivery whose result is durably stored.
    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError>;
    /// Gives a delivery back after a retryable failure.
    async fn retry(&self, delivery: &Delivery, error: &str) -> Result<RetryOutcome, QueueError>;
    /// Moves a delivery to dead letters at once (e.g. it cannot even be parsed).
    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), QueueError>;
    async fn stats(&self) -> Result<QueueStats, QueueError>;
    /// The newest dead letters.
    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, QueueError>;
    /// Puts a dead letter back in the queue with fresh attempts; `false` if there is no such
    /// dead letter (or the video is already queued again).
    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError>;
    /// Drops a dead letter for good; `false` if there is no such dead letter.
    async fn discard_dead(&self, id: &str) -> Result<bool, QueueError>;
    /// Publishes a stored verdict for downstream consumers (Kafka's `clipguard.verdicts`);
    /// the embedded queue has no such topic (the store is the record).
    async fn publish_verdict(&self, _verdict: &crate::Verdict) -> Result<(), QueueError> {
        Ok(())
    }
    /// Called once a worker stops: settle what can be settled and leave (Kafka leaves its
    /// consumer group so the partitions move at once).
    async fn close(&self) {}
}
