//! The page server: started inside `run`, or alone by `serve`. On the very first start (no
//! user at all) an `admin` account is created with a random password, printed once and kept
//! in `<data>/admin-password` (mode 0600) — the pages are never open without a login.

use anyhow::Context;
use clipguard_core::Config;
use clipguard_core::stage::{Accounts, Role};
use clipguard_pipeline::crawl::jobs::JobBoard;
use clipguard_pipeline::topology::Backends;
use clipguard_pipeline::topology::registry::gate_policy;
use clipguard_pipeline::topology::settings::PipelineSettingsCheck;
use clipguard_web::auth::secret;
use clipguard_web::{WebSettings, WebState};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

fn state(b: &Backends, stopping: watch::Receiver<bool>) -> WebState {
    let config = &b.config;
    WebState {
        store: b.store.clone(),
        queue: b.queue.clone(),
        accounts: b.store.clone(),
        reviews: b.store.clone(),
        registry: b.registry.clone(),
        media: b.media.clone(),
        saved: b.store.clone(),
        check: Arc::new(PipelineSettingsCheck {
            config: config.clone(),
        }),
        crawls: Arc::new(JobBoard {
            config: config.clone(),
            store: b.store.clone(),
        }),
        settings: Arc::new(WebSettings {
            review: config.review.clone(),
            gate: gate_policy(config),
            session_hours: config.web.session_hours,
            max_body_bytes: config.web.max_body_bytes,
            bundle_cache: clipguard_pipeline::topology::registry::bundle_cache(config),
            thumbnails: config.data.dir.join("thumbnails"),
        }),
        stopping,
    }
}

/// Creates `admin` with a random password when there is no user yet.
async fn ensure_admin(b: &Backends) -> anyhow::Result<()> {
    if b.store.user_count().await? > 0 {
        return Ok(());
    }
    let password = secret::random_token()[..20].to_string();
    let hash = secret::hash_password(&password).map_err(anyhow::Error::msg)?;
    b.store.put_user("admin", Role::Admin, &hash).await?;
    let path = b.config.data.dir.join("admin-password");
    write_private(&path, &password)?;
    println!(
        "first start: created user `admin` with password {password} (also in {}); add people with `clipguard users add NAME --role reviewer`",
        path.display()
    );
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{text}")?;
    Ok(())
}

/// Starts the page server unless `web.addr` is empty. With `--once` a busy port is a warning
/// (the batch still runs); when serving, it is an error.
pub async fn start_web(
    backends: &Backends,
    mut stop: watch::Receiver<bool>,
    once: bool,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let addr = backends.config.web.addr.trim().to_string();
    if addr.is_empty() {
        return Ok(None);
    }
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) if once => {
            eprintln!("warning: page server not started on {addr}: {e}");
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("binding the page server to {addr}")),
    };
    ensure_admin(backends).await?;
    let local = listener.local_addr()?;
    println!("page: http://{local}/");
    let state = state(backends, stop.clone());
    Ok(Some(tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = clipguard_web::serve(listener, state, shutdown).await {
            eprintln!("page server stopped: {e}");
        }
    })))
}

/// `serve`: the pages and the API alone, until Ctrl-C / SIGTERM.
pub async fn serve(mut config: Config, addr: Option<String>) -> anyhow::Result<ExitCode> {
    if let Some(addr) = addr {
        config.web.addr = addr;
    }
    anyhow::ensure!(
        !config.web.addr.trim().is_empty(),
        "serve needs an address: --addr HOST:PORT or web.addr"
    );
    // The dashboard alone: no model is loaded.
    let backends = Backends::open(config).await?;
    let (stop, stopped) = watch::channel(false);
    let web = start_web(&backends, stopped.clone(), false).await?;
    let schedule = super::run::spawn_schedule(&backends, stopped);
    super::run::wait_for_signal().await;
    let _ = stop.send(true);
    if let Some(web) = web {
        let _ = web.await;
    }
    let _ = schedule.await;
    Ok(ExitCode::SUCCESS)
}
