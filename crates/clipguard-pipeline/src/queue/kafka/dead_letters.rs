//! Reading the topics without joining the group: how much waits in `clipguard.videos` (high
//! watermark minus the group's committed offset, per partition) and what is in the
//! dead-letter topic (a short-lived consumer that assigns partitions and reads up to their
//! high watermark). These are blocking librdkafka calls: callers run them on a blocking thread.

use super::{METADATA_TIMEOUT, backend, client_config};
use clipguard_core::config::QueueConfig;
use clipguard_core::stage::{DeadLetter, QueueError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// What a dead-letter record holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub last_error: String,
    pub dead_since_ms: i64,
    /// The receipt of the message it came from.
    pub from: String,
}

fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, QueueError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(backend)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

/// Messages of `topic` not yet committed by the group.
pub fn waiting(consumer: &BaseConsumer, topic: &str) -> Result<u64, QueueError> {
    let parts = partitions(consumer, topic)?;
    let mut list = TopicPartitionList::new();
    for p in &parts {
        list.add_partition(topic, *p);
    }
    let committed = consumer
        .committed_offsets(list, METADATA_TIMEOUT)
        .map_err(backend)?;
    let mut total = 0u64;
    for p in parts {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, METADATA_TIMEOUT)
            .map_err(backend)?;
        let from = match committed.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o.max(low),
            _ => low,
        };
        total += (high - from).max(0) as u64;
    }
    Ok(total)
}

/// Records in `topic` (within retention).
pub fn total(consumer: &BaseConsumer, topic: &str) -> Result<u64, QueueError> {
    let mut n = 0u64;
    for p in partitions(consumer, topic)? {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, METADATA_TIMEOUT)
            .map_err(backend)?;
        n += (high - low).max(0) as u64;
    }
    Ok(n)
}

fn reader(config: &QueueConfig) -> Result<BaseConsumer, QueueError> {
    client_config(config)
        .set("group.id", format!("{}-dead-letter-reader", config.group))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(backend)
}

/// Reads records from the assigned positions until each partition reaches `ends`, or the
/// time limit passes.
fn read(
    consumer: &BaseConsumer,
    starts: &[(i32, i64, i64)],
) -> Result<Vec<(i32, i64, Record)>, QueueError> {
    let topic = super::DEAD_LETTERS_TOPIC;
    let mut list = TopicPartitionList::new();
    let mut remaining = 0i64;
    for (p, start, end) in starts {
        if end > start {
            list.add_partition_offset(topic, *p, Offset::Offset(*start))
                .map_err(backend)?;
            remaining += end - start;
        }
    }
    let mut out = Vec::new();
    if remaining == 0 {
        return Ok(out);
    }
    consumer.assign(&list).map_err(backend)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while remaining > 0 && Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.map_err(backend)?;
        let (p, offset) = (message.partition(), message.offset());
        let Some((_, _, end)) = starts.iter().find(|(q, _, _)| *q == p) else {
            continue;
        };
        if offset >= *end {
            continue;
        }
        remaining -= 1;
        let bytes = message.payload().unwrap_or_default();
        match serde_json::from_slice::<Record>(bytes) {
            Ok(record) => out.push((p, offset, record)),
            Err(e) => tracing::warn!(partition = p, offset, "unreadable dead letter: {e}"),
        }
    }
    Ok(out)
}

/// The newest `limit` dead letters (by when they died), ids `partition/offset`.
pub fn newest(config: &QueueConfig, limit: u32) -> Result<Vec<DeadLetter>, QueueError> {
    let topic = super::DEAD_LETTERS_TOPIC;
    let consumer = reader(config)?;
    let mut starts = Vec::new();
    for p in partitions(&consumer, topic)? {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, METADATA_TIMEOUT)
            .map_err(backend)?;
        starts.push((p, (high - i64::from(limit)).max(low), high));
    }
    let mut letters: Vec<DeadLetter> = read(&consumer, &starts)?
        .into_iter()
        .map(|(p, offset, r)| DeadLetter {
            id: format!("{p}/{offset}"),
            key: r.key,
            attempts: r.attempts,
            last_error: Some(r.last_error),
            dead_since_ms: r.dead_since_ms,
        })
        .collect();
    letters.sort_by_key(|l| std::cmp::Reverse(l.dead_since_ms));
    letters.truncate(limit as usize);
    Ok(letters)
}

/// The dead letter `partition/offset`, if it exists.
pub fn read_one(config: &QueueConfig, id: &str) -> Result<Option<Record>, QueueError> {
    let Some((p, offset)) = id
        .split_once('/')
        .and_then(|(p, o)| Some((p.parse::<i32>().ok()?, o.parse::<i64>().ok()?)))
    else {
        return Ok(None);
    };
    let consumer = reader(config)?;
    let (low, high) = consumer
        .fetch_watermarks(super::DEAD_LETTERS_TOPIC, p, METADATA_TIMEOUT)
        .map_err(backend)?;
    if offset < low || offset >= high {
        return Ok(None);
    }
    Ok(read(&consumer, &[(p, offset, offset + 1)])?
        .into_iter()
        .next()
        .map(|(_, _, r)| r))
}
