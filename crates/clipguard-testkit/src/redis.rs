//! redis-server with persistence off (a cache, not a store).

use crate::process::{Service, free_port, tool, wait_for_port};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Redis {
    service: Service,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = free_port();
        let child = Command::new(tool("redis-server", "CLIPGUARD_REDIS_SERVER"))
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/setup.sh --test installs it)");
        let service = Service::new("redis", port, child);
        wait_for_port(port, Duration::from_secs(30), "redis-server");
        Redis { service, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.service.port)
    }
}
