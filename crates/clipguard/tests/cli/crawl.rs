//! `clipguard crawl` with the real pinned yt-dlp against a local HTTP server (Python's
//! http.server on a loopback port, serving an HTML page that links two videos; yt-dlp's generic
//! extractor lists them): discovery, download with metadata, the weak label, dedup on a second
//! run (no download), the size cap, pacing, the crawl event, and the SSRF guard — loopback is
//! allowed explicitly for the local server, a private address is refused before any connection,
//! and a redirect yt-dlp follows by itself is refused by the crawl's guard proxy.

use super::*;

/// http.server's file handler on 127.0.0.1, plus `/away*`: a redirect to the same file on
/// 127.0.0.2 (loopback too, so nothing leaves the machine, but outside an allowed /32).
const SERVER: &str = r#"
import http.server, sys
port = int(sys.argv[1])
class H(http.server.SimpleHTTPRequestHandler):
    def away(self):
        if not self.path.startswith("/away"):
            return False
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.2:%d/7400000000000000001.mp4" % port)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True
    def do_GET(self):
        self.away() or super().do_GET()
    def do_HEAD(self):
        self.away() or super().do_HEAD()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

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
        .args(["-c", SERVER, &port.to_string()])
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

/// A config file with loopback allowed, the pace `delay_ms` (no jitter) and one crawl job
/// (`job`: the TOML lines of its table); returns its path.
fn job_config(data: &Path, delay_ms: u64, job: &str) -> String {
    let path = data.join("crawl.toml");
    std::fs::write(
        &path,
        format!(
            "[crawl]\nallow_networks = [\"127.0.0.0/8\"]\ndelay_ms = {delay_ms}\njitter_ms = 0\n\
             [[crawl.jobs]]\n{job}\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
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

    // What yt-dlp connects to by itself goes through the guard proxy: the start URL is
    // permitted (127.0.0.1), the redirect it follows to 127.0.0.2 is not.
    let redirected = crawl_json(
        data.path(),
        &[&format!("{}/away.mp4", site.base)],
        &[("CLIPGUARD_CRAWL__ALLOW_NETWORKS", "[\"127.0.0.1/32\"]")],
    );
    assert_eq!(redirected["downloaded"], 0, "{redirected}");
    let reason = redirected["failed"][0][1].as_str().unwrap();
    assert!(
        reason.contains("guard proxy") && reason.contains("127.0.0.2"),
        "{redirected}"
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
    let config = job_config(
        data.path(),
        5000,
        &format!(
            "name = \"local\"\nurls = [\"{}/page.html\"]\nlabel = \"safe\"\nevery_minutes = 60",
            site.base
        ),
    );
    let config = config.as_str();
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

/// A crawl job saved from the dashboard (the `crawl_jobs` setting through the API): a bad
/// document is refused with the reason, a good one is listed with its source, `crawl --jobs`
/// runs it (no config change, no restart of the dashboard), and the page shows its result.
#[test]
fn a_job_saved_from_the_dashboard_is_checked_listed_and_run() {
    let site = site();
    let data = tempfile::tempdir().unwrap();
    let (_, admin) = super::web::user(data.path(), "ada", "admin");
    let (viewer_password, viewer) = super::web::user(data.path(), "vera", "viewer");
    let loopback = [("CLIPGUARD_CRAWL__ALLOW_NETWORKS", "[\"127.0.0.0/8\"]")];
    let port = free_port();
    let serve = spawn_clipguard(
        data.path(),
        &["serve", "--addr", &format!("127.0.0.1:{port}")],
        &loopback,
    );
    clipguard_testkit::wait_for_port(port, Duration::from_secs(60), "serve");
    let save = |token: &str, body: &str| {
        super::web::post_json(
            port,
            "/api/v1/settings/crawl_jobs",
            token,
            &serde_json::json!({ "body": body, "note": "test" }).to_string(),
        )
    };
    let good = format!(
        "[[jobs]]\nname = \"local\"\nurls = [\"{}/page.html\"]\nlabel = \"safe\"\nevery_minutes = 30\ndelay_ms = 0\n",
        site.base
    );
    assert_eq!(save(&viewer, &good).0, 403, "viewers cannot change jobs");
    let (status, body) = save(
        &admin,
        "[[jobs]]\nname = \"x\"\nhashtags = [\"a\"]\nlabel = \"maybe\"\n",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("maybe"), "{body}");
    let (status, body) = save(&admin, &format!("{good}{good}"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("used twice"), "{body}");
    let (status, body) = save(&admin, &good);
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("1 crawl job(s): local"), "{body}");

    let jobs = super::web::get_json(port, "/api/v1/crawl/jobs", &viewer);
    assert_eq!(jobs[0]["job"]["name"], "local", "{jobs}");
    assert_eq!(jobs[0]["source"], "dashboard", "{jobs}");
    assert!(jobs[0]["last_run"].is_null(), "{jobs}");

    let out = ok(&clipguard(
        data.path(),
        &["crawl", "--jobs", "--json"],
        &loopback,
    ));
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["downloaded"], 2, "{report}");

    let jobs = super::web::get_json(port, "/api/v1/crawl/jobs", &viewer);
    assert!(jobs[0]["last_run"].is_string(), "{jobs}");
    let last = jobs[0]["recent"][0]["message"].as_str().unwrap();
    assert!(last.contains("downloaded 2"), "{jobs}");

    // The page, as a signed-in viewer: the job, its result, no editor buttons.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, head, _) = super::web::http(
        port,
        "POST",
        "/login",
        &form,
        &format!("name=vera&password={viewer_password}"),
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let (status, _, page) = super::web::http(port, "GET", "/crawl", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("local") && page.contains("downloaded 2"),
        "{page}"
    );
    assert!(!page.contains("Check and save"), "viewers get no editor");
    stop(serve);
}

/// Two crawlers on the same page at the same moment, sharing Redis: each entry is claimed by
/// one of them before download, so the two videos are downloaded twice in total, not four
/// times (the store alone cannot see a download still in progress elsewhere).
#[tokio::test]
async fn two_crawlers_sharing_redis_download_each_video_once() {
    let site = site();
    let redis = clipguard_testkit::Redis::start();
    let data = tempfile::tempdir().unwrap();
    let page = format!("{}/page.html", site.base);
    let url = redis.url();
    let env = [
        ("CLIPGUARD_CRAWL__ALLOW_NETWORKS", "[\"127.0.0.0/8\"]"),
        ("CLIPGUARD_CACHE__URL", url.as_str()),
    ];
    // Open the store once first, so the two processes don't race to create it.
    ok(&clipguard(data.path(), &["status"], &env));
    let crawlers: Vec<_> = (0..2)
        .map(|_| {
            let mut cmd = Command::new(BIN);
            cmd.args(["--data", data.path().to_str().unwrap()])
                .args(["crawl", "--json", "--delay-ms", "0", &page])
                .envs(env)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut downloaded = 0;
    for c in crawlers {
        let out = c.wait_with_output().unwrap();
        let text = ok(&out);
        let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert!(report["failed"].as_array().unwrap().is_empty(), "{report}");
        downloaded += report["downloaded"].as_u64().unwrap();
    }
    assert_eq!(downloaded, 2);
    let pool = db(data.path()).await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// A job reads its listing a window at a time (twice its download cap) from where its last run
/// stopped — the cursor, kept in its crawl events — and starts over at the top once the
/// listing ends, so deep pages are reached without paging through everything on every run.
#[test]
fn a_job_walks_its_listing_with_a_cursor() {
    let site = site();
    let data = tempfile::tempdir().unwrap();
    let config = job_config(
        data.path(),
        0,
        &format!(
            "name = \"walk\"\nurls = [\"{}/page.html\"]\nmax_per_run = 1\nevery_minutes = 0.0001",
            site.base
        ),
    );
    let config = config.as_str();
    let run = || {
        let out = ok(&clipguard(
            data.path(),
            &["--config", config, "crawl", "--jobs", "--json"],
            &[],
        ));
        let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        let counts = (
            report["found"].as_u64().unwrap(),
            report["downloaded"].as_u64().unwrap(),
        );
        std::thread::sleep(Duration::from_millis(50));
        counts
    };
    // Entries 1–2: the first is downloaded (the cap), the cursor stops after it.
    assert_eq!(run(), (2, 1));
    // From the cursor: entry 2 only, downloaded; the listing ended, back to the top.
    assert_eq!(run(), (1, 1));
    // From the top again: both known, nothing downloaded.
    assert_eq!(run(), (2, 0));
}
