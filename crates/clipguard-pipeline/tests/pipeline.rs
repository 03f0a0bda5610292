//! Integration tests of the pipeline library against real backends — the embedded ones (SQLite
//! files on disk, a media folder) and the scale-out ones (PostgreSQL, Kafka, S3 servers started
//! on loopback ports), the same tests on both (`both!`) — real ffmpeg on generated media, and
//! real HTTP from a local server started by the test.

#[path = "pipeline/backends.rs"]
mod backends;
#[path = "pipeline/kafka.rs"]
mod kafka;

use backends::{Backend, setup};

use clipguard_core::stage::{
    Analyser, AnalyserOutput, AnalysisInput, Queue, QueueMessage, RetryOutcome, Store,
};
use clipguard_core::{Config, StageError, VerdictStatus};
use clipguard_pipeline::analyse::AnalyserSet;
use clipguard_pipeline::ingest::IngestOutcome;
use clipguard_pipeline::sources::{self, Candidate, MediaRef, Metadata};
use clipguard_pipeline::{Pipeline, RunMode};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

fn config(dir: &Path) -> Config {
    setup(Backend::Embedded, dir).0
}

both!(
    queue_retries_with_backoff_then_dead_letters,
    ingest_dedups_by_platform_id_and_content_and_worker_stores_one_verdict_each,
    analyser_errors_become_failed_verdicts_never_safe,
    url_ingestion_downloads_real_http_with_caps_and_fails_loudly,
);

/// Leases until something comes (Kafka's first lease waits for the group to form); bounded.
async fn lease_some(q: &dyn Queue) -> Vec<clipguard_core::stage::Delivery> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = q.lease(10).await.unwrap();
        if !got.is_empty() {
            return got;
        }
        assert!(std::time::Instant::now() < deadline, "nothing delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A short real video made by ffmpeg (H.264 + AAC).
fn make_video(path: &Path, seconds: u32) {
    clipguard_testkit::TestVideo {
        width: 180,
        height: 320,
        seconds,
        audio: true,
    }
    .write(path);
}

fn msg(key: &str) -> QueueMessage {
    QueueMessage {
        key: key.into(),
        payload: serde_json::json!({ "video_id": key }),
    }
}

#[tokio::test]
async fn queue_leases_hide_messages_until_ack_or_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.queue.visibility_timeout_secs = 1;
    let p = Pipeline::open(c).await.unwrap();
    let q = &p.queue;
    assert!(q.publish(msg("a")).await.unwrap());
    assert!(
        !q.publish(msg("a")).await.unwrap(),
        "a second live message for a key is refused"
    );
    assert!(q.publish(msg("b")).await.unwrap());

    let first = q.lease(1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].message.key, "a");
    assert_eq!(first[0].attempt, 1);
    let second = q.lease(10).await.unwrap();
    assert_eq!(second.len(), 1, "the leased message is invisible");
    assert_eq!(second[0].message.key, "b");
    q.ack(&second[0]).await.unwrap();

    // The lease on `a` expires (its worker "died"): it is delivered again with a new receipt,
    // and the old receipt can no longer ack.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = q.lease(10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.key, "a");
    assert_eq!(again[0].attempt, 2);
    assert!(
        q.ack(&first[0]).await.is_err(),
        "a stale receipt must not ack"
    );
    q.ack(&again[0]).await.unwrap();
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.depth, stats.dead_letters), (0, 0));
}

async fn queue_retries_with_backoff_then_dead_letters(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, _services) = setup(backend, dir.path());
    c.queue.max_attempts = 2;
    c.queue.backoff_base_ms = 300;
    c.queue.backoff_max_ms = 300;
    let p = Pipeline::open(c).await.unwrap();
    let q = p.queue.as_ref();
    q.publish(msg("x")).await.unwrap();
    let d = lease_some(q).await.remove(0);
    assert_eq!(
        q.retry(&d, "boom").await.unwrap(),
        RetryOutcome::RetryAfter(Duration::from_millis(300))
    );
    assert!(
        q.lease(1).await.unwrap().is_empty(),
        "not visible during the backoff"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let d = lease_some(q).await.remove(0);
    assert_eq!(d.attempt, 2);
    assert_eq!(
        q.retry(&d, "boom again").await.unwrap(),
        RetryOutcome::DeadLettered
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        // Kafka commits asynchronously: the group's position catches up shortly.
        let stats = q.stats().await.unwrap();
        if (stats.depth, stats.dead_letters) == (0, 1) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = q.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].key.as_str(), dead[0].attempts), ("x", 2));
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("boom again")
    );
    // A dead letter does not block a new message for the same key.
    assert!(q.publish(msg("x")).await.unwrap());
}

async fn ingest_dedups_by_platform_id_and_content_and_worker_stores_one_verdict_each(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("in");
    std::fs::create_dir(&media).unwrap();
    make_video(&media.join("111.mp4"), 2);
    std::fs::copy(media.join("111.mp4"), media.join("copy.mp4")).unwrap();
    std::fs::write(
        media.join("111.info.json"),
        r#"{"id":"111","extractor_key":"TikTok","description":"Phở ngon #review_an_uong","cookies":"sessionid=SECRET"}"#,
    )
    .unwrap();
    let (c, _services) = setup(backend, &dir.path().join("data"));
    let p = Pipeline::open(c).await.unwrap();
    let ingestor = p.ingestor();
    let found =
        sources::discover(media.to_str().unwrap(), &p.config.ingest.allowed_schemes).unwrap();
    assert_eq!(found.len(), 2);
    let mut outcomes = Vec::new();
    for c in found.clone() {
        outcomes.push(ingestor.ingest(c).await.unwrap());
    }
    assert_eq!(outcomes[0], IngestOutcome::Queued("tiktok:111".into()));
    assert!(
        matches!(&outcomes[1], IngestOutcome::DuplicateContent { existing, .. } if existing == "tiktok:111"),
        "{outcomes:?}"
    );
    // Second run over the same folder: nothing new.
    for c in found {
        let o = ingestor.ingest(c).await.unwrap();
        assert!(!matches!(o, IngestOutcome::Queued(_)), "{o:?}");
    }
    let (_stop, stopped) = watch::channel(false);
    let worker = p.worker();
    worker.run(RunMode::Drain, stopped.clone()).await.unwrap();
    let v = p.store.latest_verdict("tiktok:111").await.unwrap().unwrap();
    assert_eq!(v.status, VerdictStatus::Ok, "{v:?}");
    assert!(
        v.evidence
            .iter()
            .any(|e| e.excerpt.contains("frames sampled")),
        "{:?}",
        v.evidence
    );
    assert_eq!(p.store.verdict_rows("tiktok:111").await.unwrap(), 1);
    // Re-delivery of the same video (a crash before ack) upserts the same row.
    p.queue.publish(msg("tiktok:111")).await.unwrap();
    worker.run(RunMode::Drain, stopped).await.unwrap();
    assert_eq!(p.store.verdict_rows("tiktok:111").await.unwrap(), 1);
    // The stored media is content-addressed and the cookie never reached the database.
    let video = p.store.get_video("tiktok:111").await.unwrap().unwrap();
    assert!(video.media_key.as_ref().unwrap().starts_with("media/"));
    assert_eq!(video.hashtags, vec!["review_an_uong"]);
    assert!(!serde_json::to_string(&video).unwrap().contains("SECRET"));
    if backend == Backend::Embedded {
        let db = std::fs::read(dir.path().join("data/clipguard.db")).unwrap();
        assert!(!String::from_utf8_lossy(&db).contains("SECRET"));
    }
}

/// A test analyser that fails with a chosen class (a mock of our own interface, not of a
/// backend).
struct Failing(clipguard_core::ErrorClass);

#[async_trait::async_trait]
impl Analyser for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn version(&self) -> String {
        "1".into()
    }
    async fn analyse(&self, _: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        Err(StageError::new(self.0, "model crashed"))
    }
}

async fn analyser_errors_become_failed_verdicts_never_safe(backend: Backend) {
    for class in [
        clipguard_core::ErrorClass::Input,
        clipguard_core::ErrorClass::External,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _services) = setup(backend, dir.path());
        c.queue.max_attempts = 2;
        let mut p = Pipeline::open(c).await.unwrap();
        p.analysers = AnalyserSet::with_analysers(vec![Arc::new(Failing(class))], "test".into());
        let candidate = Candidate {
            meta: Metadata {
                platform: Some("t".into()),
                platform_id: Some("1".into()),
                caption: "hello".into(),
                ..Metadata::default()
            },
            media: MediaRef::File(write_video(dir.path())),
        };
        p.ingestor().ingest(candidate).await.unwrap();
        let (_stop, stopped) = watch::channel(false);
        let worker = p.worker();
        worker.run(RunMode::Drain, stopped).await.unwrap();
        let v = p.store.latest_verdict("t:1").await.unwrap().unwrap();
        assert_eq!(v.status, VerdictStatus::Failed, "{class:?}");
        assert!(
            v.reason.as_deref().unwrap().contains("model crashed"),
            "{v:?}"
        );
        let s = worker.summary();
        if class == clipguard_core::ErrorClass::External {
            // Retried once, then dead-lettered with the failed verdict stored.
            assert_eq!(s.get(&s.retried), 1);
            assert_eq!(s.get(&s.dead_lettered), 1);
            assert!(v.reason.unwrap().contains("dead letter"));
        } else {
            assert_eq!(s.get(&s.retried), 0);
        }
    }
}

fn write_video(dir: &Path) -> PathBuf {
    let path = dir.join("v.mp4");
    make_video(&path, 1);
    path
}

/// Serves `body` at `/v.mp4`, a redirect to a private address at `/away`, 404 elsewhere, on a
/// loopback port.
async fn serve_media(body: Vec<u8>) -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route("/v.mp4", get(move || async move { body.clone() }))
        .route(
            "/away",
            get(|| async { axum::response::Redirect::temporary("http://10.0.0.1/v.mp4") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn url_ingestion_downloads_real_http_with_caps_and_fails_loudly(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(write_video(dir.path())).unwrap();
    let base = serve_media(bytes.clone()).await;
    let (mut c, _services) = setup(backend, &dir.path().join("data"));
    // The SSRF guard refuses loopback by default: the test allows exactly the loopback block
    // its own server is on, nothing else.
    c.crawl.allow_networks = vec!["127.0.0.0/8".into()];
    let p = Pipeline::open(c.clone()).await.unwrap();
    let ingest = |url: String| {
        let ingestor = p.ingestor();
        let schemes = p.config.ingest.allowed_schemes.clone();
        async move {
            let c = sources::discover(&url, &schemes).unwrap().remove(0);
            ingestor.ingest(c).await.unwrap()
        }
    };
    let ok = ingest(format!("{base}/v.mp4")).await;
    let IngestOutcome::Queued(id) = ok else {
        panic!("{ok:?}")
    };
    assert!(id.starts_with("url:"));
    let again = ingest(format!("{base}/v.mp4")).await;
    assert_eq!(
        again,
        IngestOutcome::DuplicateId(id.clone()),
        "a known URL is not downloaded twice"
    );
    let missing = ingest(format!("{base}/missing.mp4")).await;
    let IngestOutcome::Failed {
        id: missing_id,
        reason,
    } = missing
    else {
        panic!()
    };
    assert!(reason.contains("404"), "{reason}");
    let v = p.store.latest_verdict(&missing_id).await.unwrap().unwrap();
    assert_eq!(v.status, VerdictStatus::Failed);

    // A redirect to a private address is refused before any connection to it.
    let away = ingest(format!("{base}/away")).await;
    assert!(
        matches!(&away, IngestOutcome::Failed { reason, .. }
            if reason.contains("10.0.0.1") && reason.contains("private")),
        "{away:?}"
    );

    // The size cap applies while streaming (a second ingest config, on a fresh backend set).
    let (mut c, _more) = setup(backend, &dir.path().join("data2"));
    c.crawl.allow_networks = vec!["127.0.0.0/8".into()];
    c.ingest.max_file_bytes = (bytes.len() / 2) as u64;
    let small = Pipeline::open(c).await.unwrap();
    let cand = sources::discover(
        &format!("{base}/v.mp4"),
        &small.config.ingest.allowed_schemes,
    )
    .unwrap()
    .remove(0);
    let capped = small.ingestor().ingest(cand).await.unwrap();
    assert!(
        matches!(&capped, IngestOutcome::Failed { reason, .. } if reason.contains("max_file_bytes")),
        "{capped:?}"
    );

    // Without the allowance, loopback is refused, by IP literal and by name (`localhost`
    // resolves to loopback: the resolver returns nothing to connect to).
    let (guarded, _guarded_services) = setup(backend, &dir.path().join("data3"));
    let guarded = Pipeline::open(guarded).await.unwrap();
    let port = base.rsplit(':').next().unwrap();
    for url in [
        format!("{base}/v.mp4"),
        format!("http://localhost:{port}/v.mp4"),
    ] {
        let cand = sources::discover(&url, &guarded.config.ingest.allowed_schemes)
            .unwrap()
            .remove(0);
        let refused = guarded.ingestor().ingest(cand).await.unwrap();
        assert!(
            matches!(&refused, IngestOutcome::Failed { reason, .. }
                if reason.contains("SSRF guard") && reason.contains("loopback")),
            "{url}: {refused:?}"
        );
    }

    // Other schemes are refused before any I/O.
    assert!(sources::discover("file:///etc/passwd", &p.config.ingest.allowed_schemes).is_err());

    let (_stop, stopped) = watch::channel(false);
    p.worker().run(RunMode::Drain, stopped).await.unwrap();
    let v = p.store.latest_verdict(&id).await.unwrap().unwrap();
    // The downloaded media was decoded and its frames scored by the vision model.
    assert!(
        v.evidence
            .iter()
            .any(|e| e.excerpt.contains("frames sampled")),
        "{v:?}"
    );
    assert_eq!(v.status, VerdictStatus::Ok, "{v:?}");
    assert!(
        v.modalities.iter().any(|m| m.analyser == "open-nsfw"),
        "{v:?}"
    );
}

/// Two ingest processes with separate stores but one Redis: the second skips a platform id the
/// first took, before any download; a claim whose ingest errored is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_redis_cache_dedups_across_ingest_processes() {
    let redis = clipguard_testkit::Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let video = write_video(dir.path());
    let candidate = Candidate {
        meta: Metadata {
            platform: Some("tiktok".into()),
            platform_id: Some("42".into()),
            caption: "hello".into(),
            ..Metadata::default()
        },
        media: MediaRef::File(video),
    };
    let mut ingestors = Vec::new();
    for name in ["a", "b"] {
        let mut c = config(&dir.path().join(name));
        c.cache.url = redis.url();
        let p = Pipeline::open(c).await.unwrap();
        assert!(p.cache.is_some());
        ingestors.push(p.ingestor());
    }
    assert_eq!(
        ingestors[0].ingest(candidate.clone()).await.unwrap(),
        IngestOutcome::Queued("tiktok:42".into())
    );
    assert_eq!(
        ingestors[1].ingest(candidate).await.unwrap(),
        IngestOutcome::DuplicateId("tiktok:42".into()),
        "the second process learns from Redis, not from its own store"
    );
    // Redis down: ingest goes on with the store alone (a warning, not an error).
    drop(redis);
    let other = Candidate {
        meta: Metadata {
            platform: Some("tiktok".into()),
            platform_id: Some("43".into()),
            ..Metadata::default()
        },
        media: MediaRef::File(write_video(&dir.path().join("a"))),
    };
    assert_eq!(
        ingestors[1].ingest(other).await.unwrap(),
        IngestOutcome::Queued("tiktok:43".into())
    );
}
