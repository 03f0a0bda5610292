//! The dashboard in a real headless Chromium, driven over the DevTools protocol: sign in, watch
//! the counts change live while samples are processed, open a video, review it and find the
//! label stored, promote and roll back a model from the models page, and check that a viewer
//! cannot review. A screenshot of each page is saved (printed path) as the test's artifact.

use super::cdp::Browser;
use super::web::{get_json, user};
use super::*;

fn screenshots() -> PathBuf {
    std::env::var_os("CLIPGUARD_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts"))
        .join("screenshots")
}

fn sign_in(b: &mut Browser, base: &str, name: &str, password: &str) {
    b.goto(&format!("{base}/login"));
    b.eval(&format!(
        "document.getElementById('name').value = {name:?};
         document.getElementById('password').value = {password:?};
         document.querySelector('form').submit(); true"
    ));
    b.wait_for(
        &format!("document.getElementById('who')?.textContent === {name:?}"),
        "the monitor after signing in",
    );
}

#[test]
fn a_moderator_works_through_the_dashboard_in_a_real_browser() {
    let data = tempfile::tempdir().unwrap();
    let (admin_password, admin_token) = user(data.path(), "ada", "admin");
    let (viewer_password, _) = user(data.path(), "vera", "viewer");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("CLIPGUARD_OCR__ENABLED", "false"),
        ("CLIPGUARD_SPEECH__ENABLED", "false"),
        ("CLIPGUARD_REGISTRY__FLOORS__FUSION", "0"),
        ("CLIPGUARD_REGISTRY__MARGIN", "0"),
    ];
    let run = spawn_clipguard(
        data.path(),
        &["run", "--addr", &format!("127.0.0.1:{port}")],
        &env,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the page server never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let shots = screenshots();
    let mut b = Browser::start();

    b.goto(&format!("{base}/login"));
    b.screenshot(&shots.join("01-login.png"));
    sign_in(&mut b, &base, "ada", &admin_password);
    assert_eq!(b.text("processed"), "0");
    // Live: the counts change while the samples are processed, without a reload.
    b.eval("window.__same_page = true");
    ok(&clipguard(
        data.path(),
        &["ingest", samples().to_str().unwrap()],
        &env,
    ));
    let total = manifest().len();
    b.wait_for(
        &format!("document.getElementById('processed').textContent === '{total}'"),
        "the live count to reach every sample",
    );
    assert_eq!(
        b.eval("window.__same_page === true"),
        true,
        "the page reloaded"
    );
    b.screenshot(&shots.join("02-monitor.png"));

    // A video, reviewed from its page; the label is stored.
    let id = "tiktok:7400000000000000006";
    b.goto(&format!("{base}/videos/{id}"));
    assert_eq!(b.text("verdict"), "harmful");
    // The words the rule matched are marked in the caption.
    assert_eq!(
        b.eval("document.querySelector('#caption mark')?.textContent.toLowerCase()"),
        "đánh nhau"
    );
    assert_eq!(b.eval("document.getElementById('player') !== null"), true);
    // The frame scores as a timeline; clicking a point seeks the player there.
    assert_eq!(
        b.eval("document.querySelectorAll('svg.frame-timeline circle.seek').length > 0"),
        true
    );
    b.screenshot(&shots.join("03-video.png"));
    b.eval("document.getElementById('note').value = 'fight scene'; document.getElementById('harmful').click(); true");
    b.wait_for(
        "document.getElementById('reviews')?.textContent.includes('harmful by ada')",
        "the stored review on the reloaded page",
    );
    b.screenshot(&shots.join("04-video-reviewed.png"));
    let stored = get_json(port, &format!("/api/v1/videos/{id}"), &admin_token);
    assert_eq!(stored["reviews"][0]["decision"], "harmful", "{stored}");
    assert_eq!(stored["reviews"][0]["note"], "fight scene");

    // Two fusion candidates fitted on the samples' labels; promoted and rolled back by clicks.
    let labels = data.path().join("labels.csv");
    let mut csv = String::from("id,y\n");
    for (sample, (_, _, expected)) in manifest() {
        csv.push_str(&format!(
            "{sample},{}\n",
            u8::from(expected.starts_with("harmful"))
        ));
    }
    std::fs::write(&labels, csv).unwrap();
    for l2 in ["0.02", "0.5"] {
        ok(&clipguard(
            data.path(),
            &[
                "train",
                "fusion",
                "--register",
                "--folds",
                "3",
                "--l2",
                l2,
                "--labels",
                labels.to_str().unwrap(),
                "--id-col",
                "id",
                "--label-col",
                "y",
                "--harmful-values",
                "1",
            ],
            &env,
        ));
    }
    b.goto(&format!("{base}/models"));
    let champion = |b: &mut Browser, v: u8| {
        b.wait_for(
            &format!("document.getElementById('fusion-v{v}')?.textContent.includes('champion')"),
            &format!("fusion v{v} as champion"),
        );
    };
    b.eval("document.querySelector('button.promote[data-model=\"fusion\"][data-version=\"1\"]').click(); true");
    champion(&mut b, 1);
    b.eval("document.querySelector('button.promote[data-model=\"fusion\"][data-version=\"2\"]').click(); true");
    champion(&mut b, 2);
    let auth = format!("Bearer {admin_token}");
    let (status, head, svg) = super::web::http(
        port,
        "GET",
        "/api/v1/models/fusion/2/plots/pr_curve.svg",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(status, 200, "{head}{svg}");
    assert!(svg.starts_with("<svg"), "{svg}");
    b.wait_for(
        "[...document.querySelectorAll('img')].some(i => i.alt === 'pr_curve.svg' && i.complete && i.naturalWidth > 0)",
        "the newest fusion version's PR curve",
    );
    b.screenshot(&shots.join("05-models-promoted.png"));
    b.eval("document.querySelector('button.rollback[data-model=\"fusion\"]').click(); true");
    champion(&mut b, 1);
    b.screenshot(&shots.join("06-models-rolled-back.png"));
    let models = get_json(port, "/api/v1/models", &admin_token);
    let fusion = models["fusion"].as_array().unwrap();
    let v1 = fusion.iter().find(|v| v["version"] == "1").unwrap();
    assert!(v1["aliases"].to_string().contains("champion"), "{models}");

    // An admin adds a crawl job on the Crawl page: checked by the crawler's parser, saved as a
    // version, listed after the reload. `run` picks it up, but its only target is a loopback
    // address this config does not allow: the SSRF guard refuses it before anything connects.
    b.goto(&format!("{base}/crawl"));
    b.eval(
        "document.getElementById('crawl_jobs-body').value = '[[jobs]]\\nname = \"risky\"\\nurls = [\"http://127.0.0.1:9/bóc_phốt\"]\\nlabel = \"harmful\"\\nevery_minutes = 120\\n';
         document.getElementById('crawl_jobs-note').value = 'from the browser';
         document.querySelector('button.save[data-kind=\"crawl_jobs\"]').click(); true",
    );
    b.wait_for(
        "document.querySelector('#crawl-jobs')?.textContent.includes('127.0.0.1:9')",
        "the saved crawl job in the jobs table",
    );
    b.screenshot(&shots.join("06b-crawl-job.png"));
    let jobs = get_json(port, "/api/v1/crawl/jobs", &admin_token);
    assert_eq!(jobs[0]["job"]["name"], "risky", "{jobs}");

    // A viewer sees the pages but cannot review.
    b.eval("document.getElementById('logout').click(); true");
    b.wait_for(
        "location.pathname === '/login'",
        "the login page after signing out",
    );
    sign_in(&mut b, &base, "vera", &viewer_password);
    b.goto(&format!("{base}/review"));
    b.wait_for(
        "document.getElementById('status').textContent.includes('reviewer role')",
        "the review queue refusing a viewer",
    );
    b.screenshot(&shots.join("07-viewer-review.png"));
    b.goto(&format!("{base}/videos/{id}"));
    assert_eq!(b.eval("document.getElementById('harmful') === null"), true);
    // Vietnamese, and dates in the viewer's time zone.
    b.eval("document.getElementById('lang').click(); true");
    b.wait_for(
        "document.querySelector('nav').textContent.includes('Giám sát')",
        "the Vietnamese navigation",
    );
    b.goto(&format!("{base}/videos?verdict=harmful"));
    b.wait_for(
        "document.querySelector('time')?.title.endsWith('Z') || document.querySelector('time')?.title.includes('+00:00')",
        "dates converted to the local time zone",
    );
    b.screenshot(&shots.join("08-videos-vi.png"));
    // The gallery: a thumbnail per video, made from its media.
    b.goto(&format!("{base}/videos?view=gallery"));
    b.wait_for(
        "[...document.querySelectorAll('#gallery img')].filter(i => i.complete && i.naturalWidth > 0).length >= 10",
        "the gallery's thumbnails",
    );
    b.screenshot(&shots.join("08-gallery.png"));
    for (page, shot) in [("/pipeline", "09-pipeline.png"), ("/rules", "10-rules.png")] {
        b.goto(&format!("{base}{page}"));
        b.screenshot(&shots.join(shot));
    }
    println!("screenshots: {}", shots.display());

    stop(run);
}
