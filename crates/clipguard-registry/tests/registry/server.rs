//! A real `mlflow server` for the test: installed by `scripts/mlflow-venv.sh` (a failure there
//! fails the test: nothing is skipped), SQLite backend and artifacts in a temp folder, bound to
//! 127.0.0.1 on a free port, started in its own process group and stopped (group-wide, so
//! uvicorn's workers go too) when the guard drops, also on panic.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const START_LIMIT: Duration = Duration::from_secs(180);
const STOP_LIMIT: Duration = Duration::from_secs(10);

pub struct MlflowServer {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: TempDir,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(4000)));
        let _ = f.read_to_string(&mut text);
    }
    text
}

/// Environment that keeps MLflow off the network (its usage telemetry) and small (no job
/// runner: it would start eight background worker processes the registry never uses).
const ENV: &[(&str, &str)] = &[
    ("MLFLOW_DISABLE_TELEMETRY", "true"),
    ("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"),
    ("DO_NOT_TRACK", "true"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
];

impl MlflowServer {
    pub async fn start() -> MlflowServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mlflow-venv.sh");
        let started = Instant::now();
        let out = Command::new("bash")
            .arg(&script)
            .envs(ENV.iter().copied())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}): the MLflow test needs python3 with venv and pip",
            script.display(),
            out.status
        );
        let mlflow = String::from_utf8(out.stdout).unwrap();
        let mlflow = mlflow.lines().last().unwrap_or_default().trim().to_string();
        assert!(
            Path::new(&mlflow).is_file(),
            "script printed `{mlflow}`, not a file"
        );
        eprintln!("mlflow venv ready in {:.1?}", started.elapsed());

        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(&mlflow)
            .args(["server", "--backend-store-uri"])
            .arg(format!(
                "sqlite:///{}",
                dir.path().join("mlflow.db").display()
            ))
            .arg("--artifacts-destination")
            .arg(dir.path().join("artifacts"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .envs(ENV.iter().copied())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {mlflow}: {e}"));
        let mut server = MlflowServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        server.wait_healthy().await;
        eprintln!("mlflow server up in {:.1?} (total)", started.elapsed());
        server
    }

    async fn wait_healthy(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let health = format!("{}/health", self.url);
        let deadline = Instant::now() + START_LIMIT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mlflow server exited with {status}:\n{}", tail(&self.log));
            }
            if let Ok(r) = http.get(&health).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "mlflow server not healthy after {START_LIMIT:?}:\n{}",
            tail(&self.log)
        );
    }

    fn signal_group(&self, signal: &str) {
        // The group id is the child's pid (process_group(0)); only our own server is signalled.
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.signal_group("-TERM");
        let deadline = Instant::now() + STOP_LIMIT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The leader is gone; make sure no worker of its group lingers.
                self.signal_group("-KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
