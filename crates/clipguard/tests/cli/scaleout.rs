//! The scale-out acceptance tests: separate `clipguard` processes sharing PostgreSQL, Kafka
//! (tansu) and S3 (s3s-fs), each a real private server on a loopback port.
//!
//! - three workers in one consumer group process 300 videos; one is SIGKILLed mid-run; every
//!   video still ends with exactly one verdict row (one pipeline version), none failed;
//! - PostgreSQL is stopped for 10 s mid-run; nothing is lost and processing resumes by itself.

use super::*;
use clipguard_testkit::{Postgres, S3Server, Tansu, TestVideo};
use sqlx::PgPool;

/// The services and the environment that points `clipguard` at them.
struct ScaleOut {
    postgres: Postgres,
    _kafka: Tansu,
    _s3: S3Server,
    env: Vec<(String, String)>,
    url: String,
}

impl ScaleOut {
    fn start() -> ScaleOut {
        let postgres = Postgres::start();
        let kafka = Tansu::start();
        let s3 = S3Server::start(&["clipguard-media"]);
        let url = postgres.url("clipguard");
        let mut env: Vec<(String, String)> = FAST
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(s3.media_env("clipguard-media"));
        for (k, v) in [
            ("CLIPGUARD_STORE__URL", url.as_str()),
            ("CLIPGUARD_QUEUE__KIND", "kafka"),
            ("CLIPGUARD_QUEUE__BROKERS", &kafka.brokers()),
            ("CLIPGUARD_QUEUE__PARTITIONS", "6"),
            ("CLIPGUARD_WORKER__BATCH_SIZE", "4"),
            ("CLIPGUARD_FRAMES__MAX_FRAMES", "2"),
            ("CLIPGUARD_WEB__ADDR", ""),
        ] {
            env.push((k.to_string(), v.to_string()));
        }
        ScaleOut {
            postgres,
            _kafka: kafka,
            _s3: s3,
            env,
            url,
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// A worker process with its own (otherwise unused) data folder: workers are stateless.
    fn worker(&self, data: &Path) -> std::process::Child {
        spawn_clipguard(data, &["worker"], &self.env())
    }
}

/// `n` distinct small videos laid out as yt-dlp writes them (`<id>.mp4` + `<id>.info.json`):
/// one real encode, then copies made distinct by a trailing tag (ffmpeg ignores bytes after
/// the last box), so content-hash dedup sees `n` different files.
fn make_videos(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let base = dir.join("base.mp4.src");
    TestVideo {
        width: 96,
        height: 160,
        seconds: 1,
        audio: false,
    }
    .write(&base);
    let bytes = std::fs::read(&base).unwrap();
    std::fs::remove_file(&base).unwrap();
    for i in 0..n {
        let id = format!("7{i:05}");
        let mut video = bytes.clone();
        video.extend_from_slice(format!("clipguard-test-{id}").as_bytes());
        std::fs::write(dir.join(format!("{id}.mp4")), video).unwrap();
        let caption = if i % 3 == 0 {
            "mua bán ma túy giá rẻ #drugs"
        } else {
            "nấu phở bò ngon tại nhà #food"
        };
        let info = serde_json::json!({
            "id": id, "extractor_key": "TikTok", "description": caption,
        });
        std::fs::write(dir.join(format!("{id}.info.json")), info.to_string()).unwrap();
    }
}

/// (videos with a verdict, verdict rows, videos with more than one row, failed verdicts).
async fn tally(pool: &PgPool) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(DISTINCT video_id) FROM verdicts),
                (SELECT count(*) FROM verdicts),
                (SELECT count(*) FROM (SELECT video_id FROM verdicts GROUP BY video_id
                                       HAVING count(*) > 1) d),
                (SELECT count(*) FROM verdicts WHERE status <> 'ok')",
    )
    .fetch_one(pool)
    .await
    .unwrap_or((0, 0, 0, 0))
}

/// Waits until `n` videos have a verdict (bounded), polling the store.
async fn wait_for(pool: &PgPool, n: i64, limit: Duration) -> (i64, i64, i64, i64) {
    let deadline = Instant::now() + limit;
    loop {
        let t = tally(pool).await;
        if t.0 >= n {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "only {t:?} of {n} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The services started and `n` videos ingested by a separate `clipguard ingest` process
/// (uploaded to S3, stored in PostgreSQL, queued on Kafka); a pool on the store.
async fn ingested(n: usize) -> (ScaleOut, tempfile::TempDir, PgPool) {
    let s = ScaleOut::start();
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("videos");
    make_videos(&videos, n);
    let out = ok(&clipguard(
        &dir.path().join("ingest"),
        &["ingest", videos.to_str().unwrap()],
        &s.env(),
    ));
    assert!(out.contains(&format!("ingest: {n} queued")), "{out}");
    let pool = PgPool::connect(&s.url).await.unwrap();
    (s, dir, pool)
}

/// Every video ends with exactly one verdict row and none failed; the group's lag is zero.
async fn assert_complete(s: &ScaleOut, data: &Path, pool: &PgPool, n: i64) {
    let (videos, rows, multi, failed) = tally(pool).await;
    assert_eq!((videos, rows, multi, failed), (n, n, 0, 0));
    let versions: i64 = sqlx::query_scalar("SELECT count(DISTINCT pipeline_version) FROM verdicts")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(versions, 1, "one pipeline version for every verdict");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = ok(&clipguard(data, &["status", "--json"], &s.env()));
        let v: serde_json::Value = serde_json::from_str(&status).unwrap();
        if v["queue"]["depth"] == 0 {
            assert_eq!(v["queue"]["dead_letters"], 0, "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "offsets never committed: {v}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_kafka_and_a_sigkill_loses_and_duplicates_nothing() {
    const N: usize = 300;
    let (s, dir, pool) = ingested(N).await;
    let mut workers: Vec<_> = (0..3)
        .map(|i| s.worker(&dir.path().join(format!("worker{i}"))))
        .collect();
    wait_for(&pool, (N / 4) as i64, Duration::from_secs(600)).await;
    // One worker dies without any chance to clean up; its partitions move to the others after
    // the session timeout and its unacknowledged messages are delivered again.
    let mut killed = workers.remove(1);
    killed.kill().unwrap();
    killed.wait().unwrap();
    wait_for(&pool, N as i64, Duration::from_secs(900)).await;
    for w in workers {
        stop(w);
    }
    assert_complete(&s, dir.path(), &pool, N as i64).await;
    let rewritten: i64 = sqlx::query_scalar("SELECT count(*) FROM verdicts WHERE writes > 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    eprintln!(
        "{rewritten} verdict(s) were written again after the kill (upserted, not duplicated)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_for_ten_seconds_mid_run_loses_nothing() {
    const N: usize = 60;
    let (s, dir, pool) = ingested(N).await;
    let worker = s.worker(&dir.path().join("worker"));
    wait_for(&pool, 10, Duration::from_secs(600)).await;
    pool.close().await;
    s.postgres.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    s.postgres.restart();
    let pool = PgPool::connect(&s.url).await.unwrap();
    wait_for(&pool, N as i64, Duration::from_secs(600)).await;
    stop(worker);
    assert_complete(&s, dir.path(), &pool, N as i64).await;
}
