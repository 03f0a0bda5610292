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

/// The seed's downloader publishes `{video_id, minio_video_path, …, clean_text, csv_label}` on
/// `tiktok_raw_data`; a worker with `seed_topic` set adopts each as a video, finds its media in
/// the media store under the seed's key, and stores a verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_messages_on_the_seed_topic_are_adopted_and_analysed() {
    use clipguard_core::stage::Store;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _services) = backends::setup(backends::Backend::ScaleOut, dir.path());
    c.queue.seed_topic = "tiktok_raw_data".into();
    let p = clipguard_pipeline::Pipeline::open(c.clone()).await.unwrap();
    // The seed's object, where the operator copied its bucket.
    let video = super::write_video(dir.path());
    p.media.put_file("harmful/7301.mp4", &video).await.unwrap();
    // Joining the group creates the topics (the seed's one included).
    let _ = p.queue.lease(1).await.unwrap();
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &c.queue.brokers)
        .create()
        .unwrap();
    let seed = serde_json::json!({
        "video_id": "7301", "minio_video_path": "tiktok-raw-videos/harmful/7301.mp4",
        "minio_audio_path": "tiktok-raw-audios/7301.wav", "clean_text": "bán cỏ mỹ giá rẻ",
        "csv_label": 1, "timestamp": 1700000000
    })
    .to_string();
    producer
        .send(
            FutureRecord::to("tiktok_raw_data")
                .key("7301")
                .payload(&seed),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    p.worker()
        .run(clipguard_pipeline::RunMode::Drain, stopped)
        .await
        .unwrap();
    let stored = p.store.get_video("tiktok:7301").await.unwrap().unwrap();
    assert_eq!(stored.weak_label, Some(clipguard_core::WeakLabel::Harmful));
    assert_eq!(stored.media_key.as_deref(), Some("harmful/7301.mp4"));
    assert_eq!(stored.source, "kafka:tiktok_raw_data");
    let verdict = p
        .store
        .latest_verdict("tiktok:7301")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        verdict.status,
        clipguard_core::VerdictStatus::Ok,
        "{verdict:?}"
    );
    assert!(
        verdict
            .evidence
            .iter()
            .any(|e| e.excerpt.contains("frames sampled")),
        "the seed's media was analysed: {verdict:?}"
    );
}
