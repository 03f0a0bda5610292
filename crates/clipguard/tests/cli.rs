//! End-to-end tests of the `clipguard` binary: real ffmpeg on the generated sample videos, a
//! real SQLite file on disk, real processes killed with SIGKILL, a real HTTP page.

use sqlx::{Row, SqlitePool};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The pages and the API (#5): their own files, the same test binary.
#[path = "cli/browser.rs"]
mod browser;
#[path = "cli/cdp.rs"]
mod cdp;
#[path = "cli/crawl.rs"]
mod crawl;
#[path = "cli/s3.rs"]
mod s3;
#[path = "cli/scaleout.rs"]
mod scaleout;
#[path = "cli/web.rs"]
mod web;

const BIN: &str = env!("CARGO_BIN_EXE_clipguard");

/// For tests about the queue, the store and the page rather than the analysers: skip the slow
/// ones (the full set runs in `run_once_…` and in the model crates' own tests).
const FAST: [(&str, &str); 2] = [
    ("CLIPGUARD_OCR__ENABLED", "false"),
    ("CLIPGUARD_SPEECH__ENABLED", "false"),
];

/// The samples made by the project's own script (once per test binary; the script is
/// idempotent, so `make test` having made them already costs nothing).
fn samples() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("CLIPGUARD_SAMPLES_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("samples"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-samples.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&dir)
            .status()
            .expect("bash runs");
        assert!(status.success(), "make-samples.sh failed");
        dir
    })
}

/// The sample manifest: id → (file, kind, expected).
fn manifest() -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(samples().join("MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                (f[1].to_string(), f[2].to_string(), f[3].to_string()),
            )
        })
        .collect()
}

fn clipguard(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data").arg(data).args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("clipguard runs")
}

/// `clipguard --data DATA ARGS…` in the background, output discarded.
fn spawn_clipguard(data: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGTERM, then the process must stop cleanly within 20 s.
fn stop(mut child: std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "clipguard did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(code.success(), "{code:?}");
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn db(data: &Path) -> SqlitePool {
    SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        data.join("clipguard.db").display()
    ))
    .await
    .unwrap()
}

/// (video id → (final decision, reason)) from the seed-compatible view.
async fn decisions(data: &Path) -> BTreeMap<String, (String, Option<String>)> {
    let pool = db(data).await;
    let rows = sqlx::query(
        "SELECT p.video_id, p.final_decision, v.reason FROM processed_results p
         JOIN verdicts v ON v.video_id = p.video_id AND v.decided_at = p.processed_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            (
                r.get::<String, _>(0),
                (r.get::<String, _>(1), r.get::<Option<String>, _>(2)),
            )
        })
        .collect()
}

async fn verdict_rows_per_video(data: &Path) -> Vec<(String, i64)> {
    let pool = db(data).await;
    sqlx::query_as("SELECT video_id, count(*) FROM verdicts GROUP BY video_id ORDER BY video_id")
        .fetch_all(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn run_once_gives_every_sample_one_verdict_and_never_calls_broken_media_safe() {
    let data = tempfile::tempdir().unwrap();
    let samples = samples().to_str().unwrap();
    let stdout = ok(&clipguard(
        data.path(),
        &["run", "--once", "--addr", "", samples],
        &[],
    ));
    assert!(stdout.contains("processed"), "{stdout}");

    let manifest = manifest();
    let decisions = decisions(data.path()).await;
    assert_eq!(
        decisions.len(),
        manifest.len(),
        "one verdict per sample: {decisions:?}"
    );
    for (id, (_file, kind, expected)) in &manifest {
        let (decision, reason) = &decisions[&format!("tiktok:{id}")];
        match kind.as_str() {
            "corrupt" | "empty" => {
                assert_eq!(decision, "failed", "{id} ({kind})");
                assert!(
                    reason.as_deref().is_some_and(|r| !r.is_empty()),
                    "{id} needs a reason"
                );
            }
            _ if expected.starts_with("harmful") => {
                assert_eq!(decision, "harmful", "{id} ({expected}): {reason:?}")
            }
            _ => assert_eq!(decision, "safe", "{id} ({expected}): {reason:?}"),
        }
    }
    for (id, n) in verdict_rows_per_video(data.path()).await {
        assert_eq!(n, 1, "{id} has {n} verdict rows");
    }
    // The seed's table shape, as a view.
    let pool = db(data.path()).await;
    let row = sqlx::query("SELECT * FROM processed_results LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let columns: Vec<&str> = row.columns().iter().map(sqlx::Column::name).collect();
    assert_eq!(
        columns,
        [
            "video_id",
            "raw_text",
            "human_label",
            "text_verdict",
            "text_score",
            "video_verdict",
            "video_score",
            "avg_score",
            "threshold",
            "final_decision",
            "processed_at"
        ]
    );
    // yt-dlp's cookie field in sample 10's info.json never reaches the database.
    let bytes = std::fs::read(data.path().join("clipguard.db")).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("SECRET-DO-NOT-STORE"));

    // A second run over the same folder downloads and analyses nothing new.
    let stdout = ok(&clipguard(
        data.path(),
        &["run", "--once", "--addr", "", samples],
        &[],
    ));
    assert!(stdout.contains("ingest: 0 queued"), "{stdout}");
    assert!(stdout.contains("this run: 0 processed"), "{stdout}");
    assert_eq!(
        verdict_rows_per_video(data.path()).await.len(),
        manifest.len()
    );

    let status: serde_json::Value =
        serde_json::from_str(&ok(&clipguard(data.path(), &["status", "--json"], &[]))).unwrap();
    assert_eq!(status["queue"]["depth"], 0);
    assert_eq!(status["verdicts"]["processed"], manifest.len());
    assert_eq!(status["verdicts"]["failed"], 2);
}

#[tokio::test]
async fn sigkill_in_the_middle_loses_nothing_and_duplicates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let samples = samples().to_str().unwrap();
    // One video at a time, many frames each (slower), and short leases so the restart can take
    // over what the killed process held.
    let env = [
        FAST[0],
        FAST[1],
        ("CLIPGUARD_WORKER__BATCH_SIZE", "2"),
        ("CLIPGUARD_FRAMES__FPS", "8"),
        ("CLIPGUARD_FRAMES__MAX_FRAMES", "240"),
        ("CLIPGUARD_QUEUE__VISIBILITY_TIMEOUT_SECS", "2"),
    ];
    let mut child = spawn_clipguard(data.path(), &["run", "--once", "--addr", "", samples], &env);
    let total = manifest().len();
    let db_path = data.path().join("clipguard.db");
    let deadline = Instant::now() + Duration::from_secs(120);
    let done_before_kill = loop {
        assert!(Instant::now() < deadline, "no verdicts appeared");
        // The file exists before its migrations have run: until then the query fails.
        if db_path.exists()
            && let Ok(rows) =
                sqlx::query_scalar::<_, i64>("SELECT count(DISTINCT video_id) FROM verdicts")
                    .fetch_one(&db(data.path()).await)
                    .await
            && rows >= 3
        {
            break rows as usize;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        done_before_kill < total,
        "the kill must land mid-run ({done_before_kill}/{total})"
    );

    // Restart with no sources: the queue still holds the rest, leases of the dead process
    // expire and are taken over.
    let stdout = ok(&clipguard(
        data.path(),
        &["run", "--once", "--addr", ""],
        &env,
    ));
    assert!(stdout.contains("queue: 0 waiting"), "{stdout}");
    let rows = verdict_rows_per_video(data.path()).await;
    assert_eq!(rows.len(), total, "every video has a verdict: {rows:?}");
    assert!(
        rows.iter().all(|(_, n)| *n == 1),
        "no duplicate verdicts: {rows:?}"
    );
    let pool = db(data.path()).await;
    let videos: i64 = sqlx::query_scalar("SELECT count(*) FROM videos")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(videos as usize, total);
}

#[test]
fn classify_prints_one_json_verdict_and_fails_loudly_on_broken_media() {
    let data = tempfile::tempdir().unwrap();
    let manifest = manifest();
    for (id, (file, kind, _)) in &manifest {
        if !matches!(kind.as_str(), "corrupt" | "empty" | "audio") && id != "7400000000000000006" {
            continue;
        }
        let path = samples().join(file);
        let out = clipguard(
            data.path(),
            &["classify", "--json", path.to_str().unwrap()],
            &[],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{id}: not one JSON object ({e}): {out:?}"));
        if kind == "corrupt" || kind == "empty" {
            assert_eq!(v["status"], "failed", "{id}");
            assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
            assert!(v["harmful_score"].is_null());
            assert_eq!(out.status.code(), Some(2));
        } else {
            assert_eq!(v["status"], "ok", "{id}: {v}");
            assert_eq!(out.status.code(), Some(0));
        }
        if id == "7400000000000000006" {
            assert_eq!(v["harmful"], true, "{v}");
            let evidence = v["evidence"].as_array().unwrap();
            assert!(
                evidence
                    .iter()
                    .any(|e| e["kind"] == "rule" && e["rule_id"].is_string()),
                "{v}"
            );
        }
        if kind == "audio" {
            assert!(v["evidence"].to_string().contains("audio-only"), "{v}");
        }
    }
    // A path that does not exist is a failed verdict too, not a crash.
    let out = clipguard(
        data.path(),
        &["classify", "--json", "/nonexistent/x.mp4"],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "failed");
}

use clipguard_testkit::free_port;

#[test]
fn doctor_checks_the_machine_and_bad_config_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let out = ok(&clipguard(data.path(), &["doctor"], &[]));
    assert!(out.contains("ok    ffmpeg"), "{out}");
    for backend in ["store", "queue", "media", "registry", "cache"] {
        assert!(out.contains(&format!("ok    {backend}")), "{out}");
    }
    assert!(out.contains("Sqlite"), "{out}");
    // A backend that cannot be reached fails doctor with its name, and the others are still
    // checked.
    let out = clipguard(
        data.path(),
        &["doctor"],
        &[("CLIPGUARD_STORE__URL", "postgres://nobody@127.0.0.1:1/none")],
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL  store"), "{text}");
    assert!(text.contains("ok    queue"), "{text}");
    let out = clipguard(
        data.path(),
        &["status"],
        &[("CLIPGUARD_QUEUE__MAX_ATTEMPTS", "0")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("queue.max_attempts"));
    let out = clipguard(
        data.path(),
        &["--config", "/nonexistent.toml", "status"],
        &[],
    );
    assert!(!out.status.success());
}

#[tokio::test]
async fn two_workers_share_one_queue_without_processing_a_video_twice() {
    let data = tempfile::tempdir().unwrap();
    ok(&clipguard(
        data.path(),
        &["ingest", samples().to_str().unwrap()],
        &[],
    ));
    let spawn = || {
        Command::new(BIN)
            .arg("--data")
            .arg(data.path())
            .args(["worker", "--once"])
            .envs(FAST)
            .env("CLIPGUARD_WORKER__BATCH_SIZE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (a, b) = (ok(&a), ok(&b));
    let processed = |s: &str| -> u64 {
        s.split("this run: ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no summary in {s}"))
    };
    let total = manifest().len() as u64;
    // Each video was analysed by exactly one of the two workers…
    assert_eq!(processed(&a) + processed(&b), total, "{a}\n{b}");
    // …and each verdict row was written once.
    let pool = db(data.path()).await;
    let rewritten: i64 = sqlx::query_scalar("SELECT count(*) FROM verdicts WHERE writes > 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rewritten, 0);
    assert_eq!(
        verdict_rows_per_video(data.path()).await.len() as u64,
        total
    );
}

#[test]
fn models_run_when_enabled_and_a_missing_model_fails_videos_instead_of_passing_them() {
    let data = tempfile::tempdir().unwrap();
    let sample = samples().join("7400000000000000002.mp4");
    let sample = sample.to_str().unwrap();
    // Speech and the text model on: the transcript is read and judged, versions recorded.
    let out = clipguard(
        data.path(),
        &["classify", "--json", sample],
        &[
            ("CLIPGUARD_OCR__ENABLED", "false"),
            ("CLIPGUARD_TEXT_MODEL__ENABLED", "true"),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "ok", "{v}");
    assert!(
        v["model_versions"]["speech"]
            .as_str()
            .unwrap()
            .starts_with("whisper-base"),
        "{v}"
    );
    // The committed starter bundle (`models/starter/text`, versions `text-…`), or the
    // provisional head in a checkout without it.
    let text_version = v["model_versions"]["text-e5"].as_str().unwrap();
    assert!(
        text_version.contains("+text-") || text_version.contains("head-provisional"),
        "{v}"
    );
    let said = v["texts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["modality"] == "speech");
    let transcript: String = said
        .map(|t| t["text"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(transcript.contains("cooking"), "{v}");
    assert!(
        v["modalities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["analyser"] == "text-e5"),
        "{v}"
    );

    // The same with no model files: failed with a reason that says how to fix it.
    let empty = tempfile::tempdir().unwrap();
    let out = clipguard(
        data.path(),
        &["classify", "--json", sample],
        &[
            ("CLIPGUARD_MODELS__DIR", empty.path().to_str().unwrap()),
            ("CLIPGUARD_OCR__ENABLED", "false"),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "failed", "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("models fetch"),
        "{v}"
    );
    assert_eq!(out.status.code(), Some(2));
}

fn bench_json(data: &Path, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let out = clipguard(data, args, env);
    let stdout = ok(&out);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("bench printed no JSON ({e}): {stdout}"));
    let latency = &v["latency_ms"];
    let (p50, p95, max) = (
        latency["p50"].as_f64().unwrap(),
        latency["p95"].as_f64().unwrap(),
        latency["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p95 && p95 <= max, "{v}");
    assert!(v["items_per_s"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["seconds"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 20.0, "{v}");
    v
}

#[test]
fn bench_measures_each_model_and_the_pipeline_and_rejects_a_bad_workload() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("texts.csv");
    std::fs::write(
        &csv,
        "id,comment\n1,Video này hay quá\n2,\"đồ ngu, biến đi\"\n3,How to cook soup\n4,😂😂\n5,\n6,Cho em xin tên bài hát với ạ\n7,extra row beyond the limit\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let bench_text = |limit: &str, mode: &str| {
        bench_json(
            data.path(),
            &[
                "bench",
                "text",
                "--input",
                csv,
                "--text-col",
                "comment",
                "--limit",
                limit,
                "--batch",
                "4",
                "--mode",
                mode,
                "--json",
            ],
            &[],
        )
    };
    for mode in ["direct", "served"] {
        let v = bench_text("6", mode);
        assert_eq!(v["items"], 6, "{v}");
        assert_eq!(v["mode"], mode);
        assert!(v["model"].as_str().unwrap().contains("e5-small"), "{v}");
    }
    let direct = bench_text("3", "direct");
    // `query: ` + `<s>`/`</s>` alone are more than 3 tokens per text.
    assert!(direct["tokens"].as_u64().unwrap() > 3 * 4, "{direct}");

    let out = clipguard(
        data.path(),
        &[
            "bench",
            "text",
            "--input",
            csv,
            "--text-col",
            "nope",
            "--json",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no column `nope`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let video = samples().join("7400000000000000001.mp4");
    let frames = bench_json(
        data.path(),
        &[
            "bench",
            "frames",
            "--input",
            video.to_str().unwrap(),
            "--limit",
            "4",
            "--batch",
            "2",
            "--json",
        ],
        &[],
    );
    assert_eq!(frames["items"], 4, "{frames}");
    assert_eq!(frames["frame_size"], "256x256");
    assert!(
        frames["model_items_per_s"].as_f64().unwrap() >= frames["items_per_s"].as_f64().unwrap()
    );

    let audio = samples().join("7400000000000000015.mp3");
    let asr = bench_json(
        data.path(),
        &[
            "bench",
            "asr",
            "--input",
            audio.to_str().unwrap(),
            "--max-seconds",
            "10",
            "--json",
        ],
        &[],
    );
    assert!(asr["audio_s"].as_f64().unwrap() > 1.0, "{asr}");
    let (rtf, x) = (
        asr["rtf"].as_f64().unwrap(),
        asr["x_realtime"].as_f64().unwrap(),
    );
    assert!(rtf > 0.0 && (rtf * x - 1.0).abs() < 1e-6, "{asr}");
    assert!(
        asr["words"].as_u64().unwrap() > 0,
        "the sample has speech: {asr}"
    );

    let folder = data.path().join("two");
    std::fs::create_dir_all(&folder).unwrap();
    for id in ["7400000000000000001", "7400000000000000013"] {
        std::fs::copy(
            samples().join(format!("{id}.mp4")),
            folder.join(format!("{id}.mp4")),
        )
        .unwrap();
    }
    let pipeline = bench_json(
        data.path(),
        &["bench", "pipeline", folder.to_str().unwrap(), "--json"],
        &FAST,
    );
    assert_eq!(pipeline["items"], 2, "{pipeline}");
    assert_eq!(
        pipeline["failed"], 1,
        "the corrupt sample fails: {pipeline}"
    );
}

/// `fixtures/tiny-datasets`: shaped like `../shared/datasets`, a few rows per file (CI has no
/// datasets; training on it takes seconds).
fn tiny_datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny-datasets")
}

/// `train text` on the tiny fixture: a smoke-sized run (seconds).
fn train_tiny(
    data: &Path,
    out: &Path,
    cache: &Path,
    epochs: u32,
    steps: u32,
    env: &[(&str, &str)],
) -> Output {
    let (epochs, steps) = (epochs.to_string(), steps.to_string());
    clipguard(
        data,
        &[
            "train",
            "text",
            "--out",
            out.to_str().unwrap(),
            "--epochs",
            &epochs,
            "--max-steps",
            &steps,
            "--batch",
            "2",
            "--vihsd-train",
            "6",
            "--max-chunks",
            "2",
            "--cache",
            cache.to_str().unwrap(),
        ],
        env,
    )
}

#[test]
fn train_text_writes_a_loadable_bundle_and_eval_prints_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let root = tiny_datasets();
    let data = dir.path().join("data");
    let bundle = dir.path().join("bundle");
    let env = [("CLIPGUARD_DATASETS", root.to_str().unwrap())];
    let text = ok(&train_tiny(
        &data,
        &bundle,
        &dir.path().join("cache"),
        1,
        1,
        &env,
    ));
    assert!(text.contains("seed-tiktok/eval"), "{text}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["name"], "text");
    assert_eq!(manifest["eval_set"], "seed-tiktok/eval");
    assert!(manifest["metrics"]["f1_harmful"].is_number());
    assert!(manifest["thresholds"]["harmful"].is_number());
    for f in manifest["files"].as_array().unwrap() {
        assert!(bundle.join(f.as_str().unwrap()).is_file(), "{f}");
    }
    let csv = dir.path().join("mine.csv");
    std::fs::write(
        &csv,
        "body,tag\nlink cá cược uy tín,bad\nvideo hay quá,ok\n",
    )
    .unwrap();
    let plots = dir.path().join("plots");
    let out = clipguard(
        &data,
        &[
            "eval",
            "--model",
            "text",
            "--bundle",
            bundle.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--text-col",
            "body",
            "--label-col",
            "tag",
            "--harmful-values",
            "bad,worse",
            "--plots",
            plots.to_str().unwrap(),
            "--json",
        ],
        &env,
    );
    let v: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    for key in [
        "n",
        "f1_harmful",
        "precision",
        "recall",
        "auc",
        "accuracy",
        "threshold",
        "confusion",
    ] {
        assert!(!v[key].is_null(), "{key} missing in {v}");
    }
    assert_eq!(v["n"], 2);
    let c = &v["confusion"];
    let total: u64 = (0..2)
        .flat_map(|i| (0..2).map(move |j| (i, j)))
        .map(|(i, j)| c[i][j].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2);
    for f in ["pr_curve.svg", "confusion.svg"] {
        assert!(
            std::fs::read_to_string(plots.join(f))
                .unwrap()
                .starts_with("<svg")
        );
    }
    // A named test split can be evaluated (never trained on: the readers refuse it).
    let out = clipguard(
        &data,
        &[
            "eval",
            "--bundle",
            bundle.to_str().unwrap(),
            "--dataset",
            "seed-tiktok",
            "--split",
            "test",
            "--json",
        ],
        &env,
    );
    let v: serde_json::Value = serde_json::from_str(ok(&out).trim()).unwrap();
    assert_eq!(v["n"], 4);
    assert_eq!(v["dataset"], "seed-tiktok/test");
}

/// Copies sample videos (media + sidecars) into `dest`, a folder `ingest` reads.
fn copy_samples(ids: &[&str], dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(samples()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if ids.iter().any(|id| name.starts_with(&format!("{id}."))) {
            std::fs::copy(&path, dest.join(name)).unwrap();
        }
    }
}

/// (video id → the `model` version its verdict records: `text-e5`, `fusion`, …).
async fn versions_of(data: &Path, model: &str) -> BTreeMap<String, String> {
    let pool = db(data).await;
    let rows = sqlx::query("SELECT video_id, model_versions FROM verdicts")
        .fetch_all(&pool)
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let versions: serde_json::Value = serde_json::from_str(&r.get::<String, _>(1)).unwrap();
            (
                r.get::<String, _>(0),
                versions[model].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Waits for `n` verdicts; returns each one's `model` version.
async fn wait_for_verdicts(data: &Path, n: usize, model: &str) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if data.join("clipguard.db").exists()
            && let Ok(pool) = SqlitePool::connect(&format!(
                "sqlite://{}?mode=ro",
                data.join("clipguard.db").display()
            ))
            .await
            && let Ok(count) = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM verdicts")
                .fetch_one(&pool)
                .await
            && count as usize >= n
        {
            return versions_of(data, model).await;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {n} verdicts after 180 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits for the worker's "hot-swapped to <label>" event.
async fn wait_for_swap(data: &Path, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pool = db(data).await;
        let found: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE kind = 'models' AND message LIKE ?",
        )
        .bind(format!("%hot-swapped to {label} %"))
        .fetch_one(&pool)
        .await
        .unwrap();
        if found > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no swap to {label} within 120 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_promoted_text_model_is_hot_swapped_mid_stream_and_rollback_swaps_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = tiny_datasets();
    let data = dir.path().join("data");
    let env = [
        ("CLIPGUARD_DATASETS", root.to_str().unwrap()),
        ("CLIPGUARD_TEXT_MODEL__ENABLED", "true"),
        ("CLIPGUARD_OCR__ENABLED", "false"),
        ("CLIPGUARD_SPEECH__ENABLED", "false"),
        ("CLIPGUARD_REGISTRY__WATCH_SECS", "1"),
        // The tiny data cannot reach the seed's floor; the gate still compares the two.
        ("CLIPGUARD_REGISTRY__FLOORS__TEXT", "0"),
        ("CLIPGUARD_REGISTRY__MARGIN", "0"),
    ];
    // Two real candidates: one step of training, and three epochs.
    let train = |name: &str, epochs: u32, steps: u32| {
        let out = dir.path().join(name);
        ok(&train_tiny(
            &data,
            &out,
            &dir.path().join("cache"),
            epochs,
            steps,
            &env,
        ));
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        (
            out,
            manifest["metrics"]["f1_harmful"].as_f64().unwrap(),
            manifest["version"].as_str().unwrap().to_string(),
        )
    };
    let short = train("short", 1, 1);
    let long = train("long", 3, 4);
    // The better one (on the same frozen eval set) is the candidate promoted mid-stream.
    let (first, better) = if long.1 >= short.1 {
        (short, long)
    } else {
        (long, short)
    };
    let register = |bundle: &Path| -> String {
        let v: serde_json::Value = serde_json::from_str(
            ok(&clipguard(
                &data,
                &["models", "register", bundle.to_str().unwrap(), "--json"],
                &env,
            ))
            .trim(),
        )
        .unwrap();
        v["version"].as_str().unwrap().to_string()
    };
    let v1 = register(&first.0);
    ok(&clipguard(&data, &["models", "promote", "text", &v1], &env));
    let label1 = format!("text-v{v1}:{}", first.2);

    let run = spawn_clipguard(&data, &["run", "--addr", ""], &env);
    let ingest = |ids: &[&str], folder: &str| {
        let src = dir.path().join(folder);
        copy_samples(ids, &src);
        ok(&clipguard(&data, &["ingest", src.to_str().unwrap()], &env));
    };

    ingest(
        &[
            "7400000000000000001",
            "7400000000000000002",
            "7400000000000000003",
        ],
        "batch1",
    );
    let seen = wait_for_verdicts(&data, 3, "text-e5").await;
    assert!(seen.values().all(|v| *v == label1), "{seen:?}");

    let v2 = register(&better.0);
    let promoted = clipguard(&data, &["models", "promote", "text", &v2, "--json"], &env);
    let decision: serde_json::Value = serde_json::from_str(ok(&promoted).trim()).unwrap();
    assert_eq!(decision["action"], "promoted", "{decision}");
    let label2 = format!("text-v{v2}:{}", better.2);
    wait_for_swap(&data, &label2).await;
    ingest(
        &[
            "7400000000000000005",
            "7400000000000000010",
            "7400000000000000011",
        ],
        "batch2",
    );
    let seen = wait_for_verdicts(&data, 6, "text-e5").await;
    for id in [
        "7400000000000000005",
        "7400000000000000010",
        "7400000000000000011",
    ] {
        assert_eq!(seen[&format!("tiktok:{id}")], label2, "{seen:?}");
    }

    let rolled = clipguard(&data, &["models", "rollback", "text", "--json"], &env);
    let decision: serde_json::Value = serde_json::from_str(ok(&rolled).trim()).unwrap();
    assert_eq!(decision["champion_after"], v1.as_str(), "{decision}");
    wait_for_swap(&data, &label1).await;
    ingest(&["7400000000000000012", "7400000000000000016"], "batch3");
    let seen = wait_for_verdicts(&data, 8, "text-e5").await;
    for id in ["7400000000000000012", "7400000000000000016"] {
        assert_eq!(seen[&format!("tiktok:{id}")], label1, "{seen:?}");
    }

    stop(run);
    // None lost, none duplicated: 8 videos, one verdict row each, the queue drained.
    let rows = verdict_rows_per_video(&data).await;
    assert_eq!(rows.len(), 8, "{rows:?}");
    assert!(rows.iter().all(|(_, n)| *n == 1), "{rows:?}");
    let status = ok(&clipguard(&data, &["status", "--json"], &env));
    let status: serde_json::Value = serde_json::from_str(status.trim()).unwrap();
    assert_eq!(status["queue"]["depth"], 0, "{status}");
}

#[tokio::test]
async fn run_retrains_on_its_own_once_enough_review_labels_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [
        (
            "CLIPGUARD_DATASETS",
            tiny_datasets().to_str().unwrap().to_string(),
        ),
        ("CLIPGUARD_TEXT_MODEL__ENABLED", "true".into()),
        ("CLIPGUARD_OCR__ENABLED", "false".into()),
        ("CLIPGUARD_SPEECH__ENABLED", "false".into()),
        ("CLIPGUARD_RETRAIN__ENABLED", "true".into()),
        ("CLIPGUARD_RETRAIN__MIN_NEW_LABELS", "2".into()),
        ("CLIPGUARD_RETRAIN__EVERY_HOURS", "0".into()),
        ("CLIPGUARD_RETRAIN__CHECK_SECS", "1".into()),
    ];
    let src = dir.path().join("videos");
    copy_samples(&["7400000000000000001", "7400000000000000002"], &src);
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = spawn_clipguard(
        &data,
        &["run", "--addr", "", src.to_str().unwrap()],
        &env_ref,
    );
    wait_for_verdicts(&data, 2, "text-e5").await;
    let pool = SqlitePool::connect(&format!("sqlite://{}", data.join("clipguard.db").display()))
        .await
        .unwrap();
    // One label is not enough; the second triggers the retraining.
    for (n, id) in ["tiktok:7400000000000000001", "tiktok:7400000000000000002"]
        .iter()
        .enumerate()
    {
        sqlx::query(
            "INSERT INTO reviews (video_id, reviewer, decision, created_at) VALUES (?1, 'test', 'safe', ?2)",
        )
        .bind(id)
        .bind(chrono_now())
        .execute(&pool)
        .await
        .unwrap();
        if n == 0 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let events: i64 =
                sqlx::query_scalar("SELECT count(*) FROM events WHERE kind = 'retrain'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(events, 0, "retrained after one label");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    let message: String = loop {
        if let Some(m) = sqlx::query_scalar("SELECT message FROM events WHERE kind = 'retrain'")
            .fetch_optional(&pool)
            .await
            .unwrap()
        {
            break m;
        }
        assert!(Instant::now() < deadline, "no retraining within 300 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(message.contains("2 new review label"), "{message}");
    // The reviewers' labels were exported and trained on (caption + comments, label 0 = safe).
    let runs: Vec<PathBuf> = std::fs::read_dir(data.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let reviews = std::fs::read_to_string(runs[0].join("reviews.csv")).unwrap();
    let rows: Vec<&str> = reviews.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{reviews}");
    assert!(rows.iter().all(|r| r.ends_with(",0")), "{reviews}");
    stop(run);
    // The candidate was trained, registered and put to the gate (the tiny data cannot reach
    // the seed's floor, so it was refused; either way the decision is on record).
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let audit = ok(&clipguard(
        &data,
        &["models", "audit", "text", "--json"],
        &env,
    ));
    let audit: serde_json::Value = serde_json::from_str(audit.trim()).unwrap();
    let last = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["actor"], "gate", "{audit}");
    assert!(
        message.contains(last["action"].as_str().unwrap()),
        "{message} vs {last}"
    );
}

fn chrono_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%3NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn fusion_fitted_on_review_labels_is_promoted_hot_swapped_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [
        ("CLIPGUARD_OCR__ENABLED", "false"),
        ("CLIPGUARD_SPEECH__ENABLED", "false"),
        ("CLIPGUARD_REGISTRY__WATCH_SECS", "1"),
        // Twelve sample videos cannot prove the seed's 0.80 floor; the gate still compares.
        ("CLIPGUARD_REGISTRY__FLOORS__FUSION", "0"),
        ("CLIPGUARD_REGISTRY__MARGIN", "0"),
    ];
    let expected = manifest();
    let ok_ids: Vec<String> = expected
        .iter()
        .filter(|(_, (_, _, e))| e != "failed")
        .map(|(id, _)| id.clone())
        .collect();
    let (later, first): (Vec<&String>, Vec<&String>) = ok_ids.iter().partition(|id| {
        [
            "7400000000000000002",
            "7400000000000000005",
            "7400000000000000016",
        ]
        .contains(&id.as_str())
    });
    let ingest = |ids: &[&String], folder: &str| {
        let src = dir.path().join(folder);
        let ids: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
        copy_samples(&ids, &src);
        ok(&clipguard(&data, &["ingest", src.to_str().unwrap()], &env));
    };
    ingest(&first, "batch1");
    let run = spawn_clipguard(&data, &["run", "--addr", ""], &env);
    let seen = wait_for_verdicts(&data, first.len(), "fusion").await;
    let builtin = "fusion-v0-provisional";
    assert!(seen.values().all(|v| v == builtin), "{seen:?}");

    // Reviewers label what was processed (the sample manifest is the truth).
    let pool = SqlitePool::connect(&format!("sqlite://{}", data.join("clipguard.db").display()))
        .await
        .unwrap();
    for id in &first {
        let decision = if expected[*id].2.starts_with("harmful") {
            "harmful"
        } else {
            "safe"
        };
        sqlx::query(
            "INSERT INTO reviews (video_id, reviewer, decision, created_at) VALUES (?1, 'test', ?2, ?3)",
        )
        .bind(format!("tiktok:{id}"))
        .bind(decision)
        .bind(chrono_now())
        .execute(&pool)
        .await
        .unwrap();
    }
    // Fit, register and promote; the metrics are cross-validated on the reviewed videos.
    let train = |out: &str, l2: &str| -> (String, String) {
        let bundle = dir.path().join(out);
        let printed = ok(&clipguard(
            &data,
            &[
                "train",
                "fusion",
                "--folds",
                "3",
                "--l2",
                l2,
                "--promote",
                "--out",
                bundle.to_str().unwrap(),
            ],
            &env,
        ));
        assert!(printed.contains("candidate (3-fold CV)"), "{printed}");
        assert!(printed.contains("promoted"), "{printed}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(bundle.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["name"], "fusion");
        assert_eq!(manifest["data"]["labelled_videos"], first.len());
        let f1 = manifest["metrics"]["f1_harmful"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f1), "{manifest}");
        let registered = registered_champion(&data, &env);
        (
            format!(
                "fusion-v{registered}:{}",
                manifest["version"].as_str().unwrap()
            ),
            registered,
        )
    };
    let (label1, _) = train("fusion1", "0.02");
    wait_for_swap(&data, &label1).await;
    ingest(&later, "batch2");
    let seen = wait_for_verdicts(&data, ok_ids.len(), "fusion").await;
    for id in &later {
        assert_eq!(seen[&format!("tiktok:{id}")], label1, "{seen:?}");
    }

    // eval --model fusion: what serves, a version by alias, and a labels file by platform id.
    let eval = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["eval", "--model", "fusion", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(ok(&clipguard(&data, &all, &env)).trim()).unwrap()
    };
    let serving = eval(&[]);
    assert_eq!(serving["model"], label1.as_str(), "{serving}");
    assert_eq!(serving["n"], first.len(), "{serving}");
    assert!(serving["f1_harmful"].as_f64().is_some(), "{serving}");
    assert_eq!(eval(&["--version", "champion"])["model"], label1.as_str());
    let labels = dir.path().join("labels.csv");
    std::fs::write(
        &labels,
        "id,y\n7400000000000000004,1\n7400000000000000006,1\n7400000000000000002,0\n9999,1\n",
    )
    .unwrap();
    let from_file = eval(&[
        "--csv",
        labels.to_str().unwrap(),
        "--id-col",
        "id",
        "--label-col",
        "y",
        "--harmful-values",
        "1",
    ]);
    assert_eq!(from_file["n"], 3, "unknown ids are not scored: {from_file}");

    // A second fit (margin 0: equal F1 passes) then rollback: the worker follows both.
    let (label2, _) = train("fusion2", "0.5");
    wait_for_swap(&data, &label2).await;
    let rolled = clipguard(&data, &["models", "rollback", "fusion", "--json"], &env);
    let decision: serde_json::Value = serde_json::from_str(ok(&rolled).trim()).unwrap();
    assert_eq!(decision["action"], "rolled_back", "{decision}");
    wait_for_swap(&data, &label1).await;

    stop(run);
    let rows = verdict_rows_per_video(&data).await;
    assert_eq!(rows.len(), ok_ids.len(), "{rows:?}");
    assert!(rows.iter().all(|(_, n)| *n == 1), "{rows:?}");
}

/// The registry version `champion` points at for fusion.
fn registered_champion(data: &Path, env: &[(&str, &str)]) -> String {
    let shown = ok(&clipguard(
        data,
        &["models", "show", "fusion", "champion", "--json"],
        env,
    ));
    let v: serde_json::Value = serde_json::from_str(shown.trim()).unwrap();
    v["version"].as_str().unwrap().to_string()
}
