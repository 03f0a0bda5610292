//! The scale-out queue: Kafka topics through rdkafka (librdkafka, bundled build).
//!
//! - `clipguard.videos` carries `VideoMessage`s keyed by video id (one partition per video, so
//!   its re-deliveries stay in order); every worker is in one consumer group, so the
//!   partitions are shared out and move to the survivors when a worker dies.
//! - Offsets are committed only after the verdict is stored (`ack`), and only as far as every
//!   earlier message of the partition is settled too (`offsets.rs`): a crash re-delivers from
//!   there, and the verdict upsert makes the re-delivery harmless.
//! - `retry` keeps the message in this worker for its backoff (its offset stays uncommitted,
//!   so nothing is lost if the worker dies meanwhile); after the last attempt, or at once for
//!   a message that cannot be parsed, it goes to `clipguard.dead-letters` and is then settled.
//! - Stored verdicts are also published to `clipguard.verdicts` (`{"schema_version": 1, …}`)
//!   for downstream consumers.
//! - Backpressure: a worker only receives when it leases, and librdkafka's prefetch is capped.
//! - With `[queue] seed_topic`, the seed's messages on that topic are delivered too, wrapped
//!   as `{"seed": …}` for the worker to adopt (`sources/seed_kafka.rs`).

mod dead_letters;
mod offsets;

use crate::queue::{VERDICTS_TOPIC, VIDEOS_TOPIC};
use async_trait::async_trait;
use clipguard_core::Verdict;
use clipguard_core::config::QueueConfig;
use clipguard_core::stage::{DeadLetter, Delivery, Queue, QueueError, QueueMessage, RetryOutcome};
use clipguard_core::stats::QueueStats;
use offsets::{Offsets, Partition};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Where messages that exhausted their attempts go.
pub const DEAD_LETTERS_TOPIC: &str = "clipguard.dead-letters";

/// The version of the JSON published on [`VERDICTS_TOPIC`].
pub const VERDICT_SCHEMA_VERSION: u32 = 1;

/// How long blocking metadata calls (stats, dead letters) may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

fn backend(e: impl std::fmt::Display) -> QueueError {
    QueueError::Backend(format!("kafka: {e}"))
}

/// A message waiting for its retry backoff, still holding its offset.
#[derive(Debug)]
struct Delayed {
    due: Instant,
    part: Partition,
    offset: i64,
    delivery: Delivery,
}

/// What the queue and the consumer's rebalance callback share.
#[derive(Debug, Default)]
struct Shared {
    offsets: Mutex<Offsets>,
    delayed: Mutex<Vec<Delayed>>,
}

/// Forgets partitions the group takes away, so their messages are neither acked nor retried
/// here any more (their new owner reads them from the committed position).
struct Rebalancing(Arc<Shared>);

impl ClientContext for Rebalancing {}

impl ConsumerContext for Rebalancing {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let parts: Vec<Partition> = list
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            tracing::info!(?parts, "partitions revoked");
            let mut offsets = self.0.offsets.lock().unwrap_or_else(|e| e.into_inner());
            for part in &parts {
                offsets.revoke(part);
            }
            self.0
                .delayed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|d| !parts.contains(&d.part));
        }
    }
}

pub struct KafkaQueue {
    config: QueueConfig,
    producer: FutureProducer,
    shared: Arc<Shared>,
    /// Joined on the first `lease`: a process that only publishes or reads stats (ingest,
    /// the dashboard) never joins the group and never triggers a rebalance.
    consumer: OnceCell<Arc<StreamConsumer<Rebalancing>>>,
    /// Whether the consumer is in the group now (`close` leaves; a later `lease` rejoins).
    subscribed: AtomicBool,
    /// A consumer that never subscribes, for watermarks and committed offsets.
    meta: OnceCell<Arc<BaseConsumer>>,
    topics: OnceCell<()>,
}

impl std::fmt::Debug for KafkaQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaQueue")
            .field("brokers", &self.config.brokers)
            .field("group", &self.config.group)
            .finish()
    }
}

/// The settings every client shares.
fn client_config(config: &QueueConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers)
        .set("client.id", format!("clipguard-{}", std::process::id()))
        .set("socket.keepalive.enable", "true");
    c
}

/// `topic|partition|offset`.
fn receipt(part: &Partition, offset: i64) -> String {
    format!("{}|{}|{offset}", part.0, part.1)
}

fn parse_receipt(receipt: &str) -> Result<(Partition, i64), QueueError> {
    let bad = || QueueError::Malformed(format!("bad receipt `{receipt}`"));
    let mut it = receipt.rsplitn(3, '|');
    let offset = it.next().and_then(|o| o.parse().ok()).ok_or_else(bad)?;
    let partition = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let topic = it.next().ok_or_else(bad)?;
    Ok(((topic.to_string(), partition), offset))
}

/// A record's payload as JSON; bytes that are not JSON travel as a string, so the worker
/// dead-letters them with a clear reason instead of the queue dropping them.
fn payload_json(bytes: Option<&[u8]>) -> serde_json::Value {
    let bytes = bytes.unwrap_or_default();
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl KafkaQueue {
    pub fn new(config: &QueueConfig) -> Result<KafkaQueue, QueueError> {
        let producer: FutureProducer = client_config(config)
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(backend)?;
        Ok(KafkaQueue {
            config: config.clone(),
            producer,
            shared: Arc::default(),
            consumer: OnceCell::new(),
            subscribed: AtomicBool::new(false),
            meta: OnceCell::new(),
            topics: OnceCell::new(),
        })
    }

    /// Creates the three topics when missing (an existing topic is left as it is).
    async fn ensure_topics(&self) -> Result<(), QueueError> {
        self.topics
            .get_or_try_init(|| async {
                let admin: AdminClient<DefaultClientContext> =
                    client_config(&self.config).create().map_err(backend)?;
                let partitions = self.config.partitions as i32;
                let replication = self.config.replication;
                let mut names = vec![VIDEOS_TOPIC, VERDICTS_TOPIC, DEAD_LETTERS_TOPIC];
                if !self.config.seed_topic.is_empty() {
                    names.push(&self.config.seed_topic);
                }
                let topics: Vec<NewTopic> = names
                    .iter()
                    .map(|name| {
                        NewTopic::new(name, partitions, TopicReplication::Fixed(replication))
                    })
                    .collect();
                let options = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
                for result in admin
                    .create_topics(&topics, &options)
                    .await
                    .map_err(backend)?
                {
                    match result {
                        Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((topic, code)) => {
                            return Err(backend(format!("creating topic {topic}: {code}")));
                        }
                    }
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    async fn consumer(&self) -> Result<&Arc<StreamConsumer<Rebalancing>>, QueueError> {
        self.consumer
            .get_or_try_init(|| async {
                self.ensure_topics().await?;
                let session = self.config.session_timeout_ms.max(1000);
                let consumer: StreamConsumer<Rebalancing> = client_config(&self.config)
                    .set("group.id", &self.config.group)
                    .set("enable.auto.commit", "false")
                    .set("auto.offset.reset", "earliest")
                    .set("session.timeout.ms", session.to_string())
                    .set("heartbeat.interval.ms", (session / 3).to_string())
                    // A batch of long videos, or a database outage the worker waits out
                    // (up to 10 minutes), must not cost this worker its partitions.
                    .set("max.poll.interval.ms", "900000")
                    .set("enable.partition.eof", "false")
                    // Backpressure: at most ~4 MB fetched ahead of what workers lease.
                    .set("queued.max.messages.kbytes", "4096")
                    .create_with_context(Rebalancing(self.shared.clone()))
                    .map_err(backend)?;
                Ok(Arc::new(consumer))
            })
            .await
    }

    /// The consumer, in the group.
    async fn joined(&self) -> Result<&Arc<StreamConsumer<Rebalancing>>, QueueError> {
        let consumer = self.consumer().await?;
        if !self.subscribed.swap(true, Ordering::SeqCst) {
            let mut topics = vec![VIDEOS_TOPIC];
            if !self.config.seed_topic.is_empty() {
                topics.push(&self.config.seed_topic);
            }
            consumer.subscribe(&topics).map_err(backend)?;
        }
        Ok(consumer)
    }

    async fn meta(&self) -> Result<Arc<BaseConsumer>, QueueError> {
        self.meta
            .get_or_try_init(|| async {
                let consumer: BaseConsumer = client_config(&self.config)
                    .set("group.id", &self.config.group)
                    .set("enable.auto.commit", "false")
                    .create()
                    .map_err(backend)?;
                Ok(Arc::new(consumer))
            })
            .await
            .cloned()
    }

    async fn produce(&self, topic: &str, key: &str, payload: String) -> Result<(), QueueError> {
        self.ensure_topics().await?;
        self.producer
            .send(
                FutureRecord::to(topic).key(key).payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| backend(e))?;
        Ok(())
    }

    /// Retries whose backoff has passed, still owned by this worker.
    fn due_retries(&self, max: usize) -> Vec<Delivery> {
        let now = Instant::now();
        let offsets = self
            .shared
            .offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut delayed = self
            .shared
            .delayed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        delayed.retain(|d| offsets.is_tracked(&d.part, d.offset));
        let mut out = Vec::new();
        let mut i = 0;
        while i < delayed.len() && out.len() < max {
            if delayed[i].due <= now {
                out.push(delayed.swap_remove(i).delivery);
            } else {
                i += 1;
            }
        }
        out
    }

    fn settle(&self, receipt: &str) -> Result<Option<(Partition, i64)>, QueueError> {
        let (part, offset) = parse_receipt(receipt)?;
        let commit = self
            .shared
            .offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .settle(&part, offset)
            .map_err(|()| QueueError::LeaseLost(receipt.to_string()))?;
        Ok(commit.map(|next| (part, next)))
    }

    /// Leaves the group at once (its partitions move to the other workers without waiting for
    /// the session timeout) and flushes pending produces. Everything acked is committed already.
    pub async fn close(&self) {
        if let Some(consumer) = self.consumer.get()
            && self.subscribed.swap(false, Ordering::SeqCst)
        {
            consumer.unsubscribe();
        }
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || {
            rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10))
        })
        .await;
    }
}

#[async_trait]
impl Queue for KafkaQueue {
    async fn publish(&self, message: QueueMessage) -> Result<bool, QueueError> {
        self.produce(VIDEOS_TOPIC, &message.key, message.payload.to_string())
            .await?;
        Ok(true)
    }

    async fn lease(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let consumer = self.joined().await?;
        let mut out = self.due_retries(max);
        let first_wait = Duration::from_millis(self.config.poll_interval_ms.clamp(10, 500));
        while out.len() < max {
            // Wait a little for the first message; then take only what is already fetched.
            let wait = if out.is_empty() {
                first_wait
            } else {
                Duration::from_millis(2)
            };
            let message = match tokio::time::timeout(wait, consumer.recv()).await {
                Err(_) => break,
                Ok(Err(e)) if out.is_empty() => return Err(backend(e)),
                Ok(Err(e)) => {
                    tracing::warn!("kafka receive: {e}");
                    break;
                }
                Ok(Ok(m)) => m,
            };
            let part = (message.topic().to_string(), message.partition());
            let offset = message.offset();
            let mut payload = payload_json(message.payload());
            if part.0 == self.config.seed_topic {
                // The seed's format: the worker adopts it as a video (`sources/seed_kafka.rs`).
                payload = serde_json::json!({ "seed": payload });
            }
            self.shared
                .offsets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .track(&part, offset);
            out.push(Delivery {
                receipt: receipt(&part, offset),
                message: QueueMessage {
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default(),
                    payload,
                },
                attempt: 1,
            });
        }
        Ok(out)
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let Some((part, next)) = self.settle(&delivery.receipt)? else {
            return Ok(());
        };
        let consumer = self.consumer().await?;
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&part.0, part.1, Offset::Offset(next))
            .map_err(backend)?;
        consumer.commit(&list, CommitMode::Async).map_err(backend)
    }

    async fn retry(&self, delivery: &Delivery, error: &str) -> Result<RetryOutcome, QueueError> {
        if delivery.attempt >= self.config.max_attempts {
            self.dead_letter(delivery, error).await?;
            return Ok(RetryOutcome::DeadLettered);
        }
        let (part, offset) = parse_receipt(&delivery.receipt)?;
        let wait = self.config.backoff(delivery.attempt);
        self.shared
            .delayed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Delayed {
                due: Instant::now() + wait,
                part,
                offset,
                delivery: Delivery {
                    attempt: delivery.attempt + 1,
                    ..delivery.clone()
                },
            });
        Ok(RetryOutcome::RetryAfter(wait))
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), QueueError> {
        let record = dead_letters::Record {
            key: delivery.message.key.clone(),
            payload: delivery.message.payload.clone(),
            attempts: delivery.attempt,
            last_error: error.to_string(),
            dead_since_ms: chrono::Utc::now().timestamp_millis(),
            from: delivery.receipt.clone(),
        };
        let json = serde_json::to_string(&record).map_err(backend)?;
        self.produce(DEAD_LETTERS_TOPIC, &delivery.message.key, json)
            .await?;
        match self.ack(delivery).await {
            Ok(()) | Err(QueueError::LeaseLost(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn publish_verdict(&self, verdict: &Verdict) -> Result<(), QueueError> {
        let json = serde_json::json!({
            "schema_version": VERDICT_SCHEMA_VERSION,
            "verdict": verdict,
        });
        self.produce(VERDICTS_TOPIC, &verdict.video_id, json.to_string())
            .await
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.ensure_topics().await?;
        let meta = self.meta().await?;
        let seed_topic = self.config.seed_topic.clone();
        let (depth, dead) = tokio::task::spawn_blocking(move || {
            let mut depth = dead_letters::waiting(&meta, VIDEOS_TOPIC)?;
            if !seed_topic.is_empty() {
                depth += dead_letters::waiting(&meta, &seed_topic)?;
            }
            Ok::<_, QueueError>((depth, dead_letters::total(&meta, DEAD_LETTERS_TOPIC)?))
        })
        .await
        .map_err(backend)??;
        let in_flight = self
            .shared
            .offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .in_flight() as u64;
        Ok(QueueStats {
            depth,
            in_flight,
            dead_letters: dead,
            lag_secs: None,
        })
    }

    async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetter>, QueueError> {
        self.ensure_topics().await?;
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || dead_letters::newest(&config, limit))
            .await
            .map_err(backend)?
    }

    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError> {
        let config = self.config.clone();
        let id = id.to_string();
        let found = tokio::task::spawn_blocking(move || dead_letters::read_one(&config, &id))
            .await
            .map_err(backend)??;
        let Some(record) = found else {
            return Ok(false);
        };
        self.publish(QueueMessage {
            key: record.key,
            payload: record.payload,
        })
        .await
    }

    async fn discard_dead(&self, _id: &str) -> Result<bool, QueueError> {
        Err(QueueError::Backend(format!(
            "a Kafka record cannot be deleted: dead letters stay in {DEAD_LETTERS_TOPIC} until \
             its retention removes them (requeue one to process it again)"
        )))
    }

    async fn close(&self) {
        KafkaQueue::close(self).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_topics_with_dots() {
        let part = ("clipguard.videos".to_string(), 3);
        assert_eq!(parse_receipt(&receipt(&part, 42)).unwrap(), (part, 42));
        assert!(parse_receipt("nonsense").is_err());
    }

    #[test]
    fn payloads_that_are_not_json_are_kept_as_text() {
        assert_eq!(
            payload_json(Some(br#"{"video_id":"a"}"#)),
            serde_json::json!({"video_id": "a"})
        );
        assert_eq!(
            payload_json(Some(b"\xffnot json")),
            serde_json::Value::String("\u{fffd}not json".into())
        );
    }
}
