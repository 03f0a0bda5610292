//! tansu: a Kafka-protocol broker in one static binary, with in-memory storage; consumer
//! groups, offsets and topic creation work as with Kafka.

use crate::process::{Service, free_port, tool, wait_for_port};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Tansu {
    service: Service,
}

impl Tansu {
    pub fn start() -> Tansu {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tool("tansu", "CLIPGUARD_TANSU"))
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu runs (scripts/tansu.sh fetches it; setup.sh --test calls that)");
        let service = Service::new("tansu", port, child);
        wait_for_port(port, Duration::from_secs(30), "tansu");
        Tansu { service }
    }

    /// The bootstrap servers, `127.0.0.1:PORT`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.service.port)
    }
}
