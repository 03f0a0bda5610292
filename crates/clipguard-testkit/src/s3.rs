//! s3s-fs: a real S3 server over a folder, with its own keys; buckets are folders.

use crate::process::{Service, free_port, tool, wait_for_port};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "test-secret";

#[derive(Debug)]
pub struct S3Server {
    service: Service,
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts the server with `buckets` created (empty).
    pub fn start(buckets: &[&str]) -> S3Server {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for bucket in buckets {
            std::fs::create_dir_all(dir.path().join(bucket)).expect("bucket folder");
        }
        let port = free_port();
        let child = Command::new(tool("s3s-fs", "CLIPGUARD_S3S_FS"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs runs (scripts/setup.sh --test installs it)");
        let service = Service::new("s3s-fs", port, child);
        wait_for_port(port, Duration::from_secs(30), "s3s-fs");
        S3Server { service, dir }
    }

    pub fn endpoint(&self) -> String {
        self.service.http_url()
    }

    /// The folder behind the buckets (to look at what was stored).
    pub fn root(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The `CLIPGUARD_MEDIA__*` variables that point ClipGuard at `bucket` here.
    pub fn media_env(&self, bucket: &str) -> Vec<(String, String)> {
        vec![
            ("CLIPGUARD_MEDIA__URL".into(), format!("s3://{bucket}")),
            ("CLIPGUARD_MEDIA__ENDPOINT".into(), self.endpoint()),
            ("CLIPGUARD_MEDIA__ACCESS_KEY".into(), ACCESS_KEY.into()),
            ("CLIPGUARD_MEDIA__SECRET_KEY".into(), SECRET_KEY.into()),
        ]
    }
}
