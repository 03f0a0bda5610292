//! `clipguard crawl` with the real pinned yt-dlp against a local HTTP server (Python's
//! http.server on a loopback port, serving an HTML page that links two videos; yt-dlp's generic
//! extractor lists them): discovery, download with metadata, the weak label, dedup on a second
//! run (no download), the size cap, pacing, the crawl event, and the SSRF guard — loopback is
//! allowed explicitly for the local server, a private address is refused before any connection.

use super::*;

struct Site {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let ids = ["7400000000000000001", "7400000000000000002"];
    for id in ids {
        std::fs::copy(
            samples().join(format!("{id}.mp4")),
            dir.path().join(format!("{id}.mp4")),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("page.html"),
        format!(
            "<html><head><title>tag</title></head><body><video src=\"{}.mp4\"></video>\
             <video><source src=\"{}.mp4\" type=\"video/mp4\"></video></body></html>",
            ids[0], ids[1]
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    clipguard_testkit::wait_for_port(port, Duration::from_secs(20), "http.server");
    Site {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

fn crawl_json(data: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut all = vec!["crawl", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(ok(&clipguard(data, &all, env)).trim()).unwrap()
}

#[tokio::test]
async fn crawl_discovers_downloads_dedups_paces_and_guards() {
    let site = site();
    let page = format!("{}/page.html", site.base);
    let data = tempfile::tempdir().unwrap();
    let loopback = [("CLIPGUARD_CRAWL__ALLOW_NETWORKS", "[\"127.0.0.0/8\"]")];

    // The guard: loopback is refused unless allowed; a private address is refused even with
    // loopback allowed (decided on the address, nothing is sent to it).
    let refused = crawl_json(data.path(), &[&page], &[]);
    assert_eq!(refused["found"], 0, "{refused}");
    assert!(
        refused["failed"][0][1]
            .as_str()
            .unwrap()
            .contains("loopback")
    );
    let private = crawl_json(data.path(), &["http://10.0.0.1/page.html"], &loopback);
    assert!(
        private["failed"][0][1]
            .as_str()
            .unwrap()
            .contains("private"),
        "{private}"
    );

    // First run: both videos found, downloaded with their metadata and queued, paced.
    let started = Instant::now();
    let first = crawl_json(
        data.path(),
        &["--label", "harmful", "--delay-ms", "1500", &page],
        &loopback,
    );
    assert!(started.elapsed() >= Duration::from_millis(1500), "paced");
    assert_eq!(
        (
            &first["found"],
            &first["new"],
            &first["downloaded"],
            &first["queued"]
        ),
        (&2.into(), &2.into(), &2.into(), &2.into()),
        "{first}"
    );
    let pool = db(data.path()).await;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, source_url, weak_label FROM videos ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].1.ends_with("7400000000000000001.mp4"), "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "harmful"), "{rows:?}");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'crawl'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(events >= 3, "each crawl run logs an event");

    // Second run: everything is known, nothing is downloaded.
    let second = crawl_json(data.path(), &["--delay-ms", "0", &page], &loopback);
    assert_eq!(
        (&second["new"], &second["downloaded"]),
        (&0.into(), &0.into()),
        "{second}"
    );

    // The size cap: over it, nothing is downloaded and each video says why.
    let small = tempfile::tempdir().unwrap();
    let capped = crawl_json(
        small.path(),
        &["--delay-ms", "0", &page],
        &[loopback[0], ("CLIPGUARD_INGEST__MAX_FILE_BYTES", "1000")],
    );
    assert_eq!(capped["downloaded"], 0, "{capped}");
    assert!(
        capped["failed"][0][1]
            .as_str()
            .unwrap()
            .contains("max_file_bytes"),
        "{capped}"
    );
}

/// A crawl job from the config file: killed between its two downloads, the next run finishes
/// the job without downloading the first video again; after that the job is not due until its
/// period has passed, even for a new process (the schedule resumes from the stored events).
#[tokio::test]
async fn a_killed_crawl_job_resumes_and_its_schedule_survives_a_restart() {
    let site = site();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("crawl.toml");
    std::fs::write(
        &config,
        format!(
            "[crawl]\nallow_networks = [\"127.0.0.0/8\"]\ndelay_ms = 5000\njitter_ms = 0\n\
             [[crawl.jobs]]\nname = \"local\"\nurls = [\"{}/page.html\"]\nlabel = \"safe\"\n\
             every_minutes = 60\n",
            site.base
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let videos = |data: &Path| {
        let data = data.to_path_buf();
        async move {
            let pool = db(&data).await;
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
            pool.close().await;
            n
        }
    };
    let mut first = spawn_clipguard(data.path(), &["--config", config, "crawl", "--jobs"], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(data.path().join("clipguard.db").exists() && videos(data.path()).await >= 1) {
        assert!(Instant::now() < deadline, "the first video never arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Killed during the pause before the second download.
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(videos(data.path()).await, 1);

    let again = ok(&clipguard(
        data.path(),
        &["--config", config, "crawl", "--jobs", "--json"],
        &[],
    ));
    let report: serde_json::Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(
        (&report["found"], &report["new"], &report["downloaded"]),
        (&2.into(), &1.into(), &1.into()),
        "only the missing video is downloaded: {report}"
    );
    assert_eq!(videos(data.path()).await, 2);

    let later = ok(&clipguard(
        data.path(),
        &["--config", config, "crawl", "--jobs"],
        &[],
    ));
    assert!(later.contains("no job is due"), "{later}");
}
