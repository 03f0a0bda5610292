//! What only the Kafka queue has: a consumer group sharing partitions, offsets committed only
//! after `ack`, and stored verdicts published on `clipguard.verdicts` with a schema version.

use super::{backends, lease_some, msg};
use clipguard_core::Verdict;
use clipguard_core::stage::Queue;
use clipguard_pipeline::queue::{KafkaQueue, VERDICTS_TOPIC};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_leaves_hands_its_unacked_messages_to_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _services) = backends::setup(backends::Backend::ScaleOut, dir.path());
    let first = KafkaQueue::new(&c.queue).unwrap();
    let keys: BTreeSet<String> = (0..30).map(|i| format!("v{i}")).collect();
    for k in &keys {
        first.publish(msg(k)).await.unwrap();
    }
    // The first worker takes a batch and acks only half of it, then leaves.
    let batch = lease_some(&first).await;
    let mut acked = BTreeSet::new();
    for d in batch.iter().step_by(2) {
        first.ack(d).await.unwrap();
        acked.insert(d.message.key.clone());
    }
    first.close().await;
    drop(first);
    // A second worker in the same group gets everything not acked (and possibly some acked
    // ones again: re-delivery is allowed, loss is not).
    let second = KafkaQueue::new(&c.queue).unwrap();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !keys.iter().all(|k| acked.contains(k) || seen.contains(k)) {
        assert!(Instant::now() < deadline, "missing after 60 s: {seen:?}");
        for d in second.lease(10).await.unwrap() {
            seen.insert(d.message.key.clone());
            second.ack(&d).await.unwrap();
        }
    }
    for d in batch.iter().skip(1).step_by(2) {
        assert!(seen.contains(&d.message.key), "{} was lost", d.message.key);
    }
    // A receipt of the worker that left acks nothing now.
    assert!(second.ack(&batch[1]).await.is_err());
    second.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_verdicts_are_published_with_a_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _services) = backends::setup(backends::Backend::ScaleOut, dir.path());
    let q = KafkaQueue::new(&c.queue).unwrap();
    let verdict = Verdict::failed("tiktok:7", "test", 0.5, "pv1");
    q.publish_verdict(&verdict).await.unwrap();
    let reader: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &c.queue.brokers)
        .set("group.id", "verdict-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    reader.subscribe(&[VERDICTS_TOPIC]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let record = loop {
        assert!(Instant::now() < deadline, "no verdict on {VERDICTS_TOPIC}");
        if let Some(m) = reader.poll(Duration::from_millis(200)) {
            let m = m.unwrap();
            assert_eq!(m.key(), Some(&b"tiktok:7"[..]));
            break serde_json::from_slice::<serde_json::Value>(m.payload().unwrap()).unwrap();
        }
    };
    assert_eq!(record["schema_version"], 1);
    assert_eq!(record["verdict"]["video_id"], "tiktok:7");
    assert_eq!(record["verdict"]["status"], "failed");
}
