//! `clipguard bench queue`: messages per second through each queue backend on the same code
//! path the worker uses (publish, then lease in batches and ack each), side by side in one run:
//! the embedded SQLite queue in a throw-away folder, and Kafka when `--brokers` names one.
//!
//! Kafka topics are shared by name, so the Kafka side counts only this run's messages (each
//! carries the run id); `bench/queue.sh` starts a fresh tansu broker so nothing else is there.

use super::{BenchError, BenchReport};
use crate::queue::{KafkaQueue, SqliteQueue, VIDEOS_TOPIC};
use clipguard_core::config::Config;
use clipguard_core::stage::{Queue, QueueMessage};
use serde_json::json;
use std::time::{Duration, Instant};

/// Publishes awaiting their acknowledgement at once.
const PUBLISH_IN_FLIGHT: usize = 256;

#[derive(Debug, Clone)]
pub struct QueueBench {
    pub messages: usize,
    pub batch: usize,
    /// Kafka bootstrap servers; `None`: the embedded queue alone.
    pub brokers: Option<String>,
}

/// One backend's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    publish_per_s: f64,
    consume_per_s: f64,
    total_s: f64,
}

impl Figures {
    fn json(self) -> serde_json::Value {
        json!({
            "publish_per_s": round(self.publish_per_s),
            "lease_ack_per_s": round(self.consume_per_s),
            "seconds": round(self.total_s),
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn per_s(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Publishes `n` messages tagged with `run`, then leases and acks until all of them came back.
async fn measure(q: &dyn Queue, n: usize, batch: usize, run: &str) -> Result<Figures, BenchError> {
    use futures::StreamExt;
    let started = Instant::now();
    // Publishers wait for the broker's acknowledgement of each message (what `ingest` does),
    // up to PUBLISH_IN_FLIGHT at a time, as a batch ingest would.
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let key = format!("bench:{run}:{i}");
            q.publish(QueueMessage {
                payload: json!({ "video_id": key, "run": run }),
                key,
            })
        })
        .buffer_unordered(PUBLISH_IN_FLIGHT)
        .collect()
        .await;
    for r in results {
        r.map_err(BenchError::run)?;
    }
    let published = started.elapsed();
    let consuming = Instant::now();
    let deadline = consuming + Duration::from_secs(600);
    let mut mine = 0;
    while mine < n {
        if Instant::now() > deadline {
            return Err(BenchError::Run(format!(
                "only {mine} of {n} messages came back in 600 s"
            )));
        }
        for d in q.lease(batch).await.map_err(BenchError::run)? {
            if d.message.payload["run"] == run {
                mine += 1;
            }
            q.ack(&d).await.map_err(BenchError::run)?;
        }
    }
    let consumed = consuming.elapsed();
    Ok(Figures {
        publish_per_s: per_s(n, published),
        consume_per_s: per_s(n, consumed),
        total_s: started.elapsed().as_secs_f64(),
    })
}

pub async fn run(config: &Config, bench: &QueueBench) -> Result<BenchReport, BenchError> {
    if bench.messages == 0 || bench.batch == 0 {
        return Err(BenchError::Input(
            "--messages and --batch must be positive".into(),
        ));
    }
    let run = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let data = tempfile::tempdir().map_err(BenchError::run)?;
    let pool = crate::sqlite::open(&data.path().join("clipguard.db"))
        .await
        .map_err(BenchError::run)?;
    let mut queue_config = config.queue.clone();
    queue_config.poll_interval_ms = 5;
    let embedded = SqliteQueue::new(pool, VIDEOS_TOPIC, queue_config.clone());
    let started = Instant::now();
    let local = measure(&embedded, bench.messages, bench.batch, &run).await?;
    let mut report = BenchReport::new(
        "queue",
        "embedded+kafka".into(),
        bench.messages,
        started.elapsed(),
    )
    .with("batch", bench.batch)
    .with("publish_in_flight", PUBLISH_IN_FLIGHT)
    .with("embedded", local.json());
    if let Some(brokers) = &bench.brokers {
        queue_config.brokers = brokers.clone();
        queue_config.group = format!("clipguard-bench-{run}");
        let kafka = KafkaQueue::new(&queue_config).map_err(BenchError::run)?;
        // Creating the topics and joining the group is not throughput: done before the clock.
        let joined = Instant::now();
        let _ = kafka.lease(1).await.map_err(BenchError::run)?;
        let join_s = joined.elapsed().as_secs_f64();
        let remote = measure(&kafka, bench.messages, bench.batch, &run).await?;
        kafka.close().await;
        report = report
            .with("kafka", remote.json())
            .with("kafka_group_join_s", round(join_s))
            .with(
                "kafka_over_embedded_end_to_end",
                (local.total_s / remote.total_s * 100.0).round() / 100.0,
            );
    }
    Ok(report)
}
