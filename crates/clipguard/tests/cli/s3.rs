//! Media in S3: a real S3 server (s3s-fs, started on a free loopback port with its own keys and
//! folder) as the media store of a real `clipguard run`; the samples are stored there, analysed
//! from there, and the dashboard streams byte ranges out of it.

use super::web::{http, user};
use super::*;

/// s3s-fs on PATH or in ~/.cargo/bin (scripts/setup.sh --test installs it).
fn s3s_fs() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo/bin/s3s-fs");
    if home.is_file() {
        return home;
    }
    PathBuf::from("s3s-fs")
}

#[test]
fn media_in_s3_is_stored_analysed_and_served_in_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s3");
    std::fs::create_dir_all(root.join("clipguard-media")).unwrap();
    let s3_port = free_port();
    let mut server = Command::new(s3s_fs())
        .args(["--host", "127.0.0.1", "--port", &s3_port.to_string()])
        .args(["--access-key", "test-access", "--secret-key", "test-secret"])
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs runs (scripts/setup.sh --test installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", s3_port)).is_err() {
        assert!(Instant::now() < deadline, "s3s-fs never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let data = dir.path().join("data");
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let env = [
        FAST[0],
        FAST[1],
        ("CLIPGUARD_MEDIA__URL", "s3://clipguard-media"),
        ("CLIPGUARD_MEDIA__ENDPOINT", endpoint.as_str()),
        ("CLIPGUARD_MEDIA__ACCESS_KEY", "test-access"),
        ("CLIPGUARD_MEDIA__SECRET_KEY", "test-secret"),
    ];
    let doctor = ok(&clipguard(&data, &["doctor"], &env));
    assert!(
        doctor.contains("s3://clipguard-media at http://127.0.0.1"),
        "{doctor}"
    );
    let (_, viewer) = user(&data, "vera", "viewer");
    let port = free_port();
    let run = spawn_clipguard(
        &data,
        &[
            "run",
            "--addr",
            &format!("127.0.0.1:{port}"),
            samples().to_str().unwrap(),
        ],
        &env,
    );
    let total = manifest().len();
    let auth = format!("Bearer {viewer}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        assert!(
            Instant::now() < deadline,
            "the samples were never all processed"
        );
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let (status, _, body) = http(
                port,
                "GET",
                "/api/v1/stats",
                &[("Authorization", &auth)],
                "",
            );
            if status == 200 {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                if v["verdicts"]["processed"] == total {
                    assert_eq!(v["verdicts"]["failed"], 2, "{v}");
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    // The bytes are in the bucket (content-addressed keys), not in the data folder.
    let stored: Vec<PathBuf> = walk(&root.join("clipguard-media"));
    assert!(stored.len() >= total - 2, "{stored:?}");
    assert!(!data.join("media").join("media").exists());
    // The player's ranges come out of S3.
    let (status, head, body) = http(
        port,
        "GET",
        "/media/tiktok:7400000000000000002",
        &[("Authorization", &auth), ("Range", "bytes=4-11")],
        "",
    );
    assert_eq!(status, 206, "{head}");
    let original = std::fs::read(samples().join("7400000000000000002.mp4")).unwrap();
    assert_eq!(body.as_bytes(), &original[4..12], "{head}");
    stop(run);
    let _ = server.kill();
    let _ = server.wait();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
