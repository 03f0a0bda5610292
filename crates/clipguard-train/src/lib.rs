//! ClipGuard's learning loop (#4 builds it out): labelled text datasets, a deterministic
//! logistic-regression head trained on frozen text embeddings, and evaluation metrics.

pub mod datasets;
pub mod metrics;
pub mod starter;
