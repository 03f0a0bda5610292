//! ClipGuard's learning loop: labelled text datasets, the provisional logistic head on frozen
//! embeddings (`starter`), fine-tuning of the e5 top layers + head (`finetune`, on the hidden
//! states `cache` keeps) with its n-gram view (`lexical`), the bundle it writes (`bundle`), evaluation with plots (`eval`,
//! `plots`) and the metrics they report.

pub mod bundle;
pub mod cache;
pub mod datasets;
pub mod eval;
pub mod finetune;
pub mod lexical;
pub mod metrics;
pub mod plots;
pub mod rng;
pub mod starter;
