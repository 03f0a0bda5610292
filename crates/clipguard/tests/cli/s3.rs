//! Media in S3: a real S3 server (s3s-fs, started on a free loopback port with its own keys and
//! folder) as the media store of a real `clipguard run`; the samples are stored there, analysed
//! from there, and the dashboard streams byte ranges out of it.

use super::web::{http, user};
use super::*;

#[test]
fn media_in_s3_is_stored_analysed_and_served_in_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let server = clipguard_testkit::S3Server::start(&["clipguard-media"]);
    let root = server.root().to_path_buf();
    let data = dir.path().join("data");
    let media_env = server.media_env("clipguard-media");
    let mut env: Vec<(&str, &str)> = vec![FAST[0], FAST[1]];
    env.extend(media_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
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
