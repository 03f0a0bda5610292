//! A private PostgreSQL server: `initdb` into a temporary folder (as the `postgres` user when
//! the tests run as root, which PostgreSQL requires), `pg_ctl start` on a free loopback port
//! with trust authentication and fsync off (a test cluster), stopped on drop. `stop` and
//! `restart` let a test take the database away mid-run.

use crate::process::{free_port, wait_for_port};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// uid/gid to run the server as (`postgres` when we are root).
    owner: Option<(u32, u32)>,
    _dir: tempfile::TempDir,
}

/// Debian's server binaries: `/usr/lib/postgresql/<version>/bin`, newest version.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLIPGUARD_PG_BIN") {
        return dir.into();
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("initdb").is_file());
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .expect("PostgreSQL server binaries in /usr/lib/postgresql/*/bin (setup.sh --test)")
}

fn id(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("id runs");
    assert!(out.status.success(), "no `postgres` user to run the server");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric id")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("pgdata");
        std::fs::create_dir(&data).expect("data folder");
        let owner = is_root().then(|| (id("-u"), id("-g")));
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).expect("chown");
        }
        let pg = Postgres {
            bin,
            data,
            port: free_port(),
            owner,
            _dir: dir,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        pg.restart();
        pg
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(tool));
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(self.data.parent().unwrap_or(Path::new("/")));
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        cmd
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts (or starts again after [`Postgres::stop`]) the server; returns when it accepts
    /// connections.
    pub fn restart(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off \
             -c max_connections=200",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        wait_for_port(self.port, Duration::from_secs(30), "postgres");
    }

    /// Stops the server (fast shutdown: open connections are cut, as in an outage).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// Creates database `name` and returns its URL (`postgres://postgres@127.0.0.1:PORT/name`).
    pub fn url(&self, name: &str) -> String {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ],
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                &self.data.display().to_string(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}
