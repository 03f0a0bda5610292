//! The pages and the API of a real `clipguard run`: accounts and roles, every mutating route
//! refused without the right role, CSRF on cookie sessions, the review queue's claims and
//! decisions, the OpenAPI document, `/metrics`, bounded bodies, escaping, SIGTERM.

use super::*;

/// A raw HTTP/1.1 exchange: (status, headers, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn get_json(port: u16, path: &str, token: &str) -> serde_json::Value {
    let auth = bearer(token);
    let (status, _, body) = http(port, "GET", path, &[("Authorization", &auth)], "");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub fn post_json(port: u16, path: &str, token: &str, body: &str) -> (u16, String) {
    let auth = bearer(token);
    let (status, _, body) = http(
        port,
        "POST",
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body,
    );
    (status, body)
}

/// Creates a user and returns (password, API token).
pub fn user(data: &Path, name: &str, role: &str) -> (String, String) {
    let out = ok(&clipguard(
        data,
        &["users", "add", name, "--role", role],
        &[],
    ));
    let password = out.trim().rsplit(' ').next().unwrap().to_string();
    let token = ok(&clipguard(data, &["users", "token", name], &[]))
        .trim()
        .to_string();
    (password, token)
}

#[test]
fn the_api_and_pages_check_roles_csrf_and_escape_everything() {
    let data = tempfile::tempdir().unwrap();
    let (_, viewer) = user(data.path(), "vera", "viewer");
    let (_, reviewer) = user(data.path(), "rita", "reviewer");
    let (_, reviewer2) = user(data.path(), "ravi", "reviewer");
    let (admin_password, admin) = user(data.path(), "ada", "admin");
    let hostile = hostile_video(data.path());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut env = FAST.to_vec();
    // Every ok verdict goes to the review queue (the samples are confident).
    env.push(("CLIPGUARD_REVIEW__AUDIT_RATE", "1"));
    env.push(("CLIPGUARD_REGISTRY__WATCH_SECS", "1"));
    let child = spawn_clipguard(
        data.path(),
        &[
            "run",
            "--addr",
            &addr,
            samples().to_str().unwrap(),
            hostile.to_str().unwrap(),
        ],
        &env,
    );
    let total = manifest().len() + 1;
    let deadline = Instant::now() + Duration::from_secs(120);
    let stats = loop {
        assert!(Instant::now() < deadline, "never saw every verdict");
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let v = get_json(port, "/api/v1/stats", &viewer);
            if v["verdicts"]["processed"] == total {
                break v;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(stats["verdicts"]["failed"], 2);
    // Users existed before the first start: no bootstrap admin was made.
    assert!(!data.path().join("admin-password").exists());

    // Anonymous: 401 on the API, the login page for pages, public health and metrics.
    let (status, head, _) = http(port, "GET", "/api/v1/stats", &[], "");
    assert_eq!(status, 401);
    assert!(
        head.to_lowercase().contains("www-authenticate: bearer"),
        "{head}"
    );
    let (status, head, _) = http(port, "GET", "/", &[], "");
    assert_eq!(status, 303, "{head}");
    assert!(head.to_lowercase().contains("location: /login"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    assert_eq!(http(port, "GET", "/healthz", &[], "").0, 200);
    assert_eq!(http(port, "GET", "/readyz", &[], "").0, 200);
    let (status, _, metrics) = http(port, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    let mut samples_seen = 0;
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.split_once(' ').expect("`name value`");
        assert!(name.starts_with("clipguard_"), "{line}");
        value.parse::<f64>().expect("a number");
        samples_seen += 1;
    }
    assert!(samples_seen >= 8, "{metrics}");
    assert!(
        metrics.contains(&format!("clipguard_processed {total}")),
        "{metrics}"
    );

    // Every mutating operation of the OpenAPI document refuses the wrong callers.
    let (_, _, doc) = http(port, "GET", "/api/v1/openapi.json", &[], "");
    validate_openapi(data.path(), &doc);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut mutating = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            assert!(op["responses"]["200"].is_object(), "{path} {method}");
            let concrete = path
                .replace("{id}", "tiktok:7400000000000000001")
                .replace("{name}", "text");
            let method = method.to_uppercase();
            if method == "GET" {
                assert_eq!(http(port, "GET", &concrete, &[], "").0, 401, "{concrete}");
                continue;
            }
            mutating += 1;
            let body = op["requestBody"]["content"]["application/json"]["example"].to_string();
            let json = [("Content-Type", "application/json")];
            assert_eq!(
                http(port, &method, &concrete, &json, &body).0,
                401,
                "{concrete}"
            );
            let too_low = if op["description"].as_str().unwrap().contains("`admin`") {
                vec![&viewer, &reviewer]
            } else {
                vec![&viewer]
            };
            for token in too_low {
                let (status, reply) = post_json(port, &concrete, token, &body);
                assert_eq!(status, 403, "{concrete}: {reply}");
            }
        }
    }
    assert!(mutating >= 4, "{doc}");

    // Reviewers: claims never collide; a decision is stored with its reviewer.
    let (status, first) = post_json(port, "/api/v1/reviews/claim", &reviewer, "{}");
    assert_eq!(status, 200, "{first}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let (_, again) = post_json(port, "/api/v1/reviews/claim", &reviewer, "{}");
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        again["video_id"], first["video_id"],
        "a reviewer keeps their claim"
    );
    let (_, other) = post_json(port, "/api/v1/reviews/claim", &reviewer2, "{}");
    let other: serde_json::Value = serde_json::from_str(&other).unwrap();
    assert_ne!(
        other["video_id"], first["video_id"],
        "two reviewers, two items"
    );
    let id = first["video_id"].as_str().unwrap();
    let reviews_path = format!("/api/v1/videos/{id}/reviews");
    let (status, body) = post_json(port, &reviews_path, &reviewer, r#"{"decision":"maybe"}"#);
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_json(
        port,
        "/api/v1/videos/tiktok:0/reviews",
        &reviewer,
        r#"{"decision":"safe"}"#,
    );
    assert_eq!(status, 404, "{body}");
    let (status, body) = post_json(
        port,
        &reviews_path,
        &reviewer,
        r#"{"decision":"harmful","categories":["violence"],"note":"fight"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let detail = get_json(port, &format!("/api/v1/videos/{id}"), &viewer);
    assert_eq!(detail["reviews"][0]["reviewer"], "rita", "{detail}");
    assert_eq!(detail["reviews"][0]["decision"], "harmful");
    let queue = get_json(port, "/api/v1/reviews/queue?limit=500", &viewer);
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["video_id"] != id),
        "a reviewed video leaves the queue"
    );
    let stats = get_json(port, "/api/v1/reviews/stats", &viewer);
    assert_eq!(stats[0]["reviewer"], "rita");
    // Bodies are bounded.
    let huge = format!(r#"{{"decision":"safe","note":"{}"}}"#, "x".repeat(400_000));
    assert_eq!(post_json(port, &reviews_path, &reviewer, &huge).0, 413);

    // Search, filters and export.
    let harmful = get_json(port, "/api/v1/videos?verdict=harmful&limit=500", &viewer);
    let harmful = harmful.as_array().unwrap();
    assert!(!harmful.is_empty() && harmful.iter().all(|r| r["label"] == "harmful"));
    let violence = get_json(
        port,
        "/api/v1/videos?category=violence&min_score=0.5",
        &viewer,
    );
    assert!(
        violence
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["video_id"] == "tiktok:7400000000000000006"),
        "{violence}"
    );
    let found = get_json(
        port,
        "/api/v1/videos?q=noodle%20soup&verdict=&min_score=",
        &viewer,
    );
    let ids: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["video_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tiktok:7400000000000000002"], "caption search");
    assert!(
        get_json(port, "/api/v1/videos?q=%25%25%25", &viewer)
            .as_array()
            .unwrap()
            .is_empty()
    );
    let auth = bearer(&viewer);
    let (status, _, _) = http(
        port,
        "GET",
        "/api/v1/videos?verdict=maybe",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(status, 400);
    let (status, head, csv) = http(
        port,
        "GET",
        "/api/v1/videos?format=csv",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase().contains("content-type: text/csv"),
        "{head}"
    );
    assert!(csv.starts_with("video_id,label,harmful_score"), "{csv}");
    assert_eq!(csv.lines().count(), total + 1, "{csv}");

    // Dead letters: listed for viewers, retried or discarded by admins only.
    let url = format!("sqlite://{}", data.path().join("clipguard.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO queue_messages (topic, msg_key, payload, state, attempts, visible_at, last_error, created_at, updated_at)
             VALUES ('clipguard.videos', 'tiktok:dead', '{}', 'dead', 5, 0, 'gave up', 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
    });
    let dead = get_json(port, "/api/v1/dead-letters", &viewer);
    let dead_id = dead[0]["id"].as_str().unwrap().to_string();
    assert_eq!(dead[0]["last_error"], "gave up", "{dead}");
    let discard = format!("/api/v1/dead-letters/{dead_id}/discard");
    assert_eq!(post_json(port, &discard, &reviewer, "{}").0, 403);
    assert_eq!(post_json(port, &discard, &admin, "{}").0, 200);
    assert_eq!(post_json(port, &discard, &admin, "{}").0, 404, "gone");
    assert!(
        get_json(port, "/api/v1/dead-letters", &viewer)
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = post_json(port, "/api/v1/retrain", &admin, "{}");
    assert_eq!(status, 202);
    let events = get_json(port, "/api/v1/events?limit=50", &viewer);
    assert!(
        events.to_string().contains("retraining requested by ada"),
        "{events}"
    );

    // Rules and thresholds: checked, versioned, and in force in the running worker.
    let thresholds = get_json(port, "/api/v1/settings/thresholds", &viewer);
    assert!(thresholds["id"].is_null(), "{thresholds}");
    assert!(
        thresholds["body"]
            .as_str()
            .unwrap()
            .contains("category_thresholds")
    );
    let (status, body) = post_json(
        port,
        "/api/v1/settings/rules",
        &admin,
        r#"{"body":"[[rule]]\nid = \"x\"\ncategory = \"nonsense\"","note":"bad"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("rules refused"), "{body}");
    let rules = "version = \"test\"\n[[rule]]\nid = \"en.violence.zorblax\"\ncategory = \"violence\"\nlang = \"en\"\nphrases = [\"zorblax attack\"]\nweight = 0.9\n";
    let (status, body) = post_json(
        port,
        "/api/v1/settings/rules",
        &admin,
        &serde_json::json!({ "body": rules, "note": "new threat" }).to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let low = r#"{"threshold":0.05,"category_thresholds":{}}"#;
    let (status, body) = post_json(
        port,
        "/api/v1/settings/thresholds",
        &admin,
        &serde_json::json!({ "body": low, "note": "strict week" }).to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = get_json(port, "/api/v1/events?limit=100", &viewer).to_string();
        if events.contains("rules #1 by ada in force")
            && events.contains("thresholds #2 by ada in force")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "settings never applied: {events}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let newer = tiny_video(
        &data.path().join("newer"),
        "7400000000000000098",
        "a zorblax attack at dawn",
        "ok",
    );
    ok(&clipguard(
        data.path(),
        &["ingest", newer.to_str().unwrap()],
        &[],
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let verdict = loop {
        let v = get_json(port, "/api/v1/videos/tiktok:7400000000000000098", &viewer);
        if v["verdict"].is_object() {
            break v["verdict"].clone();
        }
        assert!(Instant::now() < deadline, "the new video was never decided");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        (verdict["threshold"].as_f64().unwrap() - 0.05).abs() < 1e-6,
        "{verdict}"
    );
    assert!(
        verdict.to_string().contains("en.violence.zorblax"),
        "{verdict}"
    );

    // Admins reach the gate (nothing to roll back on a fresh registry: a clear 409).
    let (status, body) = post_json(port, "/api/v1/models/text/rollback", &admin, "{}");
    assert_eq!(status, 409, "{body}");
    assert!(get_json(port, "/api/v1/models", &admin).is_object());

    // A browser session: wrong password refused; cookie flags; CSRF needed to mutate.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, _, page) = http(port, "POST", "/login", &form, "name=ada&password=wrong-one");
    assert_eq!(status, 401);
    assert!(page.contains("Wrong name or password."));
    let (status, head, _) = http(
        port,
        "POST",
        "/login",
        &form,
        &format!("name=ada&password={admin_password}"),
    );
    assert_eq!(status, 303, "{head}");
    let set_cookie = head
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie:"))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    let session = set_cookie
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (status, _, page) = http(port, "GET", "/", &[("Cookie", &session)], "");
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("<b id=\"processed\">{}</b>", total + 1)),
        "{page}"
    );
    assert!(page.contains("tiktok:7400000000000000013"));
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=\"/assets/").count(),
        "only our own scripts: captions are escaped"
    );
    let csrf = page
        .split("<meta name=\"csrf\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let cookie_json = [
        ("Cookie", session.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, _) = http(port, "POST", "/api/v1/reviews/claim", &cookie_json, "{}");
    assert_eq!(status, 403, "a cookie alone cannot mutate (CSRF)");
    let with_csrf = [
        ("Cookie", session.as_str()),
        ("Content-Type", "application/json"),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let (status, _, body) = http(port, "POST", "/api/v1/reviews/claim", &with_csrf, "{}");
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(
        http(port, "GET", "/review", &[("Cookie", &session)], "").0,
        200
    );
    assert_eq!(http(port, "POST", "/logout", &with_csrf, "").0, 204);
    assert_eq!(http(port, "GET", "/", &[("Cookie", &session)], "").0, 303);

    stop(child);
}

/// Runs openapi-spec-validator (a private venv, scripts/openapi-venv.sh) on the document.
fn validate_openapi(scratch: &Path, doc: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/openapi-venv.sh");
    let out = Command::new("bash").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "openapi-venv.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let validator = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let file = scratch.join("openapi.json");
    std::fs::write(&file, doc).unwrap();
    let out = Command::new(validator).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "the OpenAPI document does not validate:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder holding one small real video (ffmpeg) with this caption and comment.
fn tiny_video(dir: &Path, id: &str, caption: &str, comment: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:s=64x64:d=1",
        ])
        .args(["-pix_fmt", "yuv420p", "-metadata"])
        // Distinct bytes per id: identical media would be deduplicated by content hash.
        .arg(format!("title={id}"))
        .arg(dir.join(format!("{id}.mp4")))
        .status()
        .unwrap();
    assert!(status.success());
    let info = serde_json::json!({
        "id": id, "title": caption, "description": caption,
        "extractor_key": "TikTok", "ext": "mp4",
        "comments": [{ "text": comment, "author": "x" }]
    });
    std::fs::write(dir.join(format!("{id}.info.json")), info.to_string()).unwrap();
    dir.to_path_buf()
}

/// One video whose caption is 50 KB of markup.
fn hostile_video(data: &Path) -> PathBuf {
    let dir = data.parent().unwrap().join(format!(
        "hostile-{}",
        data.file_name().unwrap().to_string_lossy()
    ));
    let caption = format!(
        "<script>alert('x')</script><img src=x onerror=alert(2)> {}",
        "Ä".repeat(25_000)
    );
    tiny_video(
        &dir,
        "7400000000000000099",
        &caption,
        "</textarea><script>alert(3)</script>",
    )
}

#[test]
fn the_first_start_creates_an_admin_with_a_private_password() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = ok(&clipguard(
        data.path(),
        &["run", "--once", "--addr", &format!("127.0.0.1:{port}")],
        &FAST,
    ));
    assert!(out.contains("created user `admin`"), "{out}");
    let file = data.path().join("admin-password");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let password = std::fs::read_to_string(&file).unwrap();
    assert!(out.contains(password.trim()));
}

#[test]
fn serve_runs_the_dashboard_alone_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let (_, viewer) = user(data.path(), "vera", "viewer");
    let port = free_port();
    // No model files at all: the dashboard does not load any.
    let child = spawn_clipguard(
        data.path(),
        &["serve", "--addr", &format!("127.0.0.1:{port}")],
        &[("CLIPGUARD_MODELS__DIR", "/nonexistent-clipguard-models")],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(http(port, "GET", "/readyz", &[], "").0, 200);
    let stats = get_json(port, "/api/v1/stats", &viewer);
    assert_eq!(stats["verdicts"]["videos"], 0, "{stats}");
    stop(child);
}
