//! `clipguard bench text|frames|asr|pipeline|queue`: throughput, latency percentiles and peak memory
//! of each model and of the whole pipeline, on the same code paths production uses, printed as
//! one JSON object so `bench/compare.sh` can set them beside the reference engines.
//!
//! Speed is measured here, never asserted in tests (timings on a shared 2-core machine are
//! noise); `docs/benchmarks.md` records the figures and how to reproduce them.

pub mod asr;
pub mod frames;
pub mod pipeline;
pub mod queue;
pub mod report;
pub mod text;

pub use report::{BenchReport, Latency, peak_rss_mb};

use clipguard_core::StageError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The workload cannot be read or is empty.
    #[error("workload: {0}")]
    Input(String),
    /// A model or stage failed to load or run.
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error("{0}")]
    Run(String),
}

impl BenchError {
    pub fn run(e: impl std::fmt::Display) -> Self {
        BenchError::Run(e.to_string())
    }
}
