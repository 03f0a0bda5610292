//! ClipGuard's pipeline, one folder per stage in data-flow order:
//!
//! `sources` → `ingest` → `queue` → `analyse` → `decide` → `store` (the sink), with `media`
//! holding the bytes and `topology` wiring it all from one `Config`.
//! `docs/ARCHITECTURE.md` walks through the files. `bench` measures the models and the whole
//! flow on the same code paths.

pub mod analyse;
pub mod bench;
pub mod cache;
pub mod crawl;
pub mod decide;
pub mod ingest;
pub mod media;
pub mod queue;
pub mod sources;
pub mod sql;
pub mod sqlite;
pub mod store;
pub mod topology;

pub use topology::{Pipeline, PipelineError, RunMode, Worker};
