//! `run`, `ingest` and `worker`: the same stages, started alone or together.

use crate::progress;
use clipguard_core::Config;
use clipguard_core::stage::Store;
use clipguard_pipeline::topology::{Backends, IngestReport, hot_swap, retrain};
use clipguard_pipeline::{Pipeline, RunMode};
use std::process::ExitCode;
use tokio::sync::watch;

async fn ingest_sources(backends: &Backends, specs: &[String]) -> anyhow::Result<IngestReport> {
    let candidates = backends.discover(specs)?;
    let bar = progress::bar(candidates.len() as u64, "ingest");
    let report = backends
        .ingest_candidates(specs, candidates, || bar.inc(1))
        .await?;
    bar.finish_and_clear();
    Ok(report)
}

fn print_ingest(report: &IngestReport) {
    println!(
        "ingest: {} queued, {} already known (skipped), {} failed, {} not downloadable here",
        report.queued,
        report.duplicates,
        report.failed.len(),
        report.skipped.len()
    );
    for (id, reason) in &report.failed {
        println!("  failed  {id}: {reason}");
    }
    for (origin, reason) in report.skipped.iter().take(10) {
        println!("  skipped {origin}: {reason}");
    }
    if report.skipped.len() > 10 {
        println!("  … and {} more skipped", report.skipped.len() - 10);
    }
}

pub async fn ingest_only(
    config: Config,
    specs: &[String],
    requeue: bool,
) -> anyhow::Result<ExitCode> {
    // Ingest needs the backends only: no model is loaded.
    let backends = Backends::open(config).await?;
    if !specs.is_empty() {
        let report = ingest_sources(&backends, specs).await?;
        print_ingest(&report);
    }
    if requeue {
        let requeued = backends.ingestor().requeue_orphans().await?;
        println!("requeued {requeued} video(s) that had no verdict");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn worker_only(config: Config, once: bool) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::open(config).await?;
    // No retraining schedule here: `run` or `serve` keeps it, once per deployment.
    process(&pipeline, once, false).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run(
    mut config: Config,
    once: bool,
    addr: Option<String>,
    specs: &[String],
) -> anyhow::Result<ExitCode> {
    if let Some(addr) = addr {
        config.web.addr = addr;
    }
    let pipeline = Pipeline::open(config).await?;
    let (stop_web, web_stopped) = watch::channel(false);
    let web = super::web::start_web(&pipeline.backends(), web_stopped, once).await?;
    let report = ingest_sources(&pipeline.backends(), specs).await?;
    print_ingest(&report);
    process(&pipeline, once, true).await?;
    let _ = stop_web.send(true);
    if let Some(web) = web {
        let _ = web.await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the worker: until the queue is empty with `once`, else until Ctrl-C / SIGTERM.
async fn process(pipeline: &Pipeline, once: bool, schedule: bool) -> anyhow::Result<()> {
    // The embedded queue refuses a second live message per video, so re-publishing every
    // video without a verdict is free there. Kafka would deliver each one again to some
    // worker: there `ingest --requeue` does it, once, on purpose.
    if pipeline.config.queue.kind == "embedded" {
        let requeued = pipeline.ingestor().requeue_orphans().await?;
        if requeued > 0 {
            println!("requeued {requeued} video(s) that had no verdict");
        }
    }
    let depth = pipeline.queue.stats().await?.depth;
    let bar = progress::bar(depth, "analyse");
    let progress = bar.clone();
    let worker = pipeline.worker().on_verdict(move |_| progress.inc(1));
    let summary = worker.summary();
    let (stop, stopped) = watch::channel(false);
    let mode = if once {
        RunMode::Drain
    } else {
        println!("worker: running; Ctrl-C stops after the batch in flight");
        tokio::spawn(async move {
            wait_for_signal().await;
            eprintln!("stopping after the batch in flight…");
            let _ = stop.send(true);
        });
        RunMode::Forever
    };
    // The text model and fusion follow the registry's champion aliases while the worker runs.
    let (stop_swaps, swaps_stopped) = watch::channel(false);
    let mut swappers = hot_swap::spawn_watchers(pipeline, swaps_stopped.clone());
    swappers.push(tokio::spawn(
        clipguard_pipeline::topology::settings::watch_settings(
            pipeline.clone(),
            swaps_stopped.clone(),
        ),
    ));
    // `run` is the whole platform in one process: it also runs the crawl jobs (with none
    // configured or saved it only re-reads the saved ones now and then). Never in `serve` or
    // `worker`, so a scaled-out deployment crawls once, in its own `crawl --forever`.
    let crawler = (schedule && !once).then(|| {
        let backends = pipeline.backends();
        let stop = swaps_stopped.clone();
        tokio::spawn(async move {
            if let Err(e) = clipguard_pipeline::crawl::jobs::run(&backends, true, stop).await {
                tracing::warn!("crawl jobs stopped: {e}");
            }
        })
    });
    let schedule = schedule.then(|| spawn_schedule(&pipeline.backends(), swaps_stopped));
    if let Some(start) = &pipeline.text_start {
        println!(
            "text model: {} (follows the registry's champion)",
            start.label
        );
    }
    println!(
        "fusion: {} (follows the registry's champion)",
        pipeline.analysers.fusion().version
    );
    let result = worker.run(mode, stopped).await;
    let _ = stop_swaps.send(true);
    for swapper in swappers {
        let _ = swapper.await;
    }
    if let Some(schedule) = schedule {
        let _ = schedule.await;
    }
    if let Some(crawler) = crawler {
        // Stopped where it is: a half-done download is dropped and the next run resumes
        // (what was stored is skipped before downloading).
        crawler.abort();
    }
    result?;
    bar.finish_and_clear();
    let s = &summary;
    println!(
        "this run: {} processed ({} harmful, {} safe, {} failed), {} retries, {} dead-lettered",
        s.get(&s.processed),
        s.get(&s.harmful),
        s.get(&s.safe),
        s.get(&s.failed),
        s.get(&s.retried),
        s.get(&s.dead_lettered)
    );
    let totals = pipeline.store.verdict_stats().await?;
    let queue = pipeline.queue.stats().await?;
    println!(
        "store: {} videos, {} with a verdict ({} harmful, {} safe, {} failed); queue: {} waiting, {} dead letters",
        totals.videos,
        totals.processed,
        totals.harmful,
        totals.safe,
        totals.failed,
        queue.depth,
        queue.dead_letters
    );
    Ok(())
}

pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The built-in retraining schedule (`[retrain]`), until `stop`.
pub fn spawn_schedule(
    backends: &Backends,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let backends = backends.clone();
    tokio::spawn(async move {
        let command = retrain_command(&backends.config);
        retrain::schedule(&backends, command, stop).await
    })
}

/// `<this binary> --data <dir> retrain` (settings reach the child through the inherited
/// environment, including CLIPGUARD_CONFIG).
fn retrain_command(config: &Config) -> Vec<std::ffi::OsString> {
    match std::env::current_exe() {
        Ok(exe) => vec![
            exe.into_os_string(),
            "--data".into(),
            config.data.dir.clone().into_os_string(),
            "retrain".into(),
        ],
        Err(e) => {
            eprintln!("warning: retraining schedule off: cannot find this binary: {e}");
            Vec::new()
        }
    }
}
