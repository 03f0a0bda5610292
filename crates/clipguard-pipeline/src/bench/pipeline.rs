//! `bench pipeline`: the whole flow — ingest, queue, every enabled analyser, fusion, store — on
//! a folder of videos (by default the generated samples) in a throw-away data folder. Items
//! per second and per-video latency (lease to stored verdict, what `Verdict::latency_ms`
//! records) come from the real worker.

use super::{BenchError, BenchReport};
use crate::topology::{Pipeline, RunMode};
use clipguard_core::Verdict;
use clipguard_core::config::Config;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct PipelineBench {
    /// Folders, CSV link lists, files or URLs, as for `run`.
    pub sources: Vec<String>,
}

pub async fn run(config: &Config, bench: &PipelineBench) -> Result<BenchReport, BenchError> {
    if bench.sources.is_empty() {
        return Err(BenchError::Input("no sources to process".into()));
    }
    let data = tempfile::tempdir().map_err(BenchError::run)?;
    let mut config = config.clone();
    config.data.dir = data.path().to_path_buf();
    config.web.addr = String::new();

    let load = Instant::now();
    let pipeline = Pipeline::open(config).await.map_err(BenchError::run)?;
    let load = load.elapsed();

    let ingest = Instant::now();
    let backends = pipeline.backends();
    let candidates = backends.discover(&bench.sources).map_err(BenchError::run)?;
    let report = backends
        .ingest_candidates(&bench.sources, candidates, || {})
        .await
        .map_err(BenchError::run)?;
    let ingest = ingest.elapsed();

    let verdicts: Arc<Mutex<Vec<(&'static str, u64)>>> = Arc::default();
    let sink = verdicts.clone();
    let worker = pipeline.worker().on_verdict(move |v: &Verdict| {
        if let Ok(mut all) = sink.lock() {
            all.push((v.label(), v.latency_ms));
        }
    });
    let (_keep, stop) = watch::channel(false);
    let started = Instant::now();
    worker
        .run(RunMode::Drain, stop)
        .await
        .map_err(BenchError::run)?;
    let elapsed = started.elapsed();

    let verdicts = verdicts.lock().map_err(BenchError::run)?.clone();
    let count = |label: &str| verdicts.iter().filter(|v| v.0 == label).count();
    let latencies: Vec<Duration> = verdicts
        .iter()
        .map(|(_, ms)| Duration::from_millis(*ms))
        .collect();
    Ok(BenchReport::new(
        "pipeline",
        pipeline.analysers.pipeline_version(),
        verdicts.len(),
        elapsed,
    )
    .latency(&latencies)
    .load(load)
    .with("workload", bench.sources.join(" "))
    .with("ingest_s", ingest.as_secs_f64())
    .with("queued", report.queued)
    .with("failed_at_ingest", report.failed.len())
    .with("harmful", count("harmful"))
    .with("safe", count("safe"))
    .with("failed", count("failed"))
    .with("worker_batch", pipeline.config.worker.batch_size))
}
