//! ClipGuard's shared vocabulary: the types every stage exchanges, the configuration, the error
//! classes that decide ack / retry / dead-letter, and the small traits each backend implements.
//!
//! This crate has no heavy dependencies on purpose: the web crate, the pipeline and the model
//! crates all depend on it, so it must stay cheap to compile.

pub mod category;
pub mod config;
pub mod error;
pub mod manifest;
pub mod monitor;
pub mod search;
pub mod stage;
pub mod stats;
pub mod verdict;
pub mod video;

pub use category::Category;
pub use config::Config;
pub use error::{ErrorClass, StageError};
pub use manifest::ModelManifest;
pub use verdict::{
    Evidence, EvidenceKind, ExtractedText, Modality, ModalityScore, Verdict, VerdictStatus,
};
pub use video::{Comment, Counts, Video, WeakLabel};
