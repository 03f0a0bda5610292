//! A child process that is killed when its handle drops, and the port helpers.

use std::net::{TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// A free loopback port (the listener is dropped at once; a race with another process is
/// possible but harmless in practice on a test machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `port`, at most `limit`.
pub fn wait_for_port(port: u16, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} never listened on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running server process; killed and reaped on drop.
#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    child: Option<Child>,
}

impl Service {
    pub fn new(name: &'static str, port: u16, child: Child) -> Service {
        Service {
            name,
            port,
            child: Some(child),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The path of a tool in `~/.cache/clipguard/tools` or `~/.cargo/bin`, else its bare name
/// (found on PATH).
pub(crate) fn tool(name: &str, env: &str) -> std::path::PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return path.into();
    }
    let home = std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
    let cache = std::env::var_os("CLIPGUARD_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/clipguard"));
    for candidate in [
        cache.join("tools").join(name),
        home.join(".cargo/bin").join(name),
    ] {
        if candidate.is_file() {
            return candidate;
        }
    }
    name.into()
}
