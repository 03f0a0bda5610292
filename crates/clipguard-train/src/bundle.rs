//! Writing a trained text model as a bundle folder (the layout is in
//! `clipguard_models::text::bundle`): the tuned layers, the head, the model config, a
//! `metrics.json` with every number of the run, and `manifest.json` listing them.

use crate::finetune::{FinetuneOptions, FinetuneResult};
use chrono::Utc;
use clipguard_core::manifest::{MANIFEST_FILE, ModelManifest, names};
use clipguard_models::text::bundle::{CONFIG_FILE, HEAD_FILE, LEXICAL_FILE, TOP_FILE};
use std::collections::BTreeMap;
use std::path::Path;

pub const METRICS_FILE: &str = "metrics.json";
/// The frozen evaluation set the manifest's metrics are measured on.
pub const EVAL_SET: &str = "seed-tiktok/eval";

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> WriteError {
    WriteError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), WriteError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io(path, e))
}

/// The manifest of a run (metrics of the seed eval split, thresholds, parameters, data).
pub fn manifest(
    result: &FinetuneResult,
    options: &FinetuneOptions,
    code_version: &str,
) -> ModelManifest {
    let now = Utc::now();
    let r = &result.eval;
    let mut metrics = BTreeMap::from([
        ("f1_harmful".to_string(), r.f1_harmful),
        ("precision".to_string(), r.precision),
        ("recall".to_string(), r.recall),
        ("auc".to_string(), r.auc),
        ("accuracy".to_string(), r.accuracy),
        ("n".to_string(), r.n as f64),
    ]);
    for (view, r) in &result.views {
        metrics.insert(format!("{view}.auc"), r.auc);
        metrics.insert(format!("{view}.best_f1_harmful"), r.f1_harmful);
    }
    if let Some(v) = &result.vihsd_dev {
        metrics.insert("vihsd_dev.macro_f1".into(), v.macro_f1);
        metrics.insert("vihsd_dev.accuracy".into(), v.accuracy);
        metrics.insert("vihsd_dev.f1_offensive_or_hate".into(), v.binary.f1_harmful);
        metrics.insert("vihsd_dev.auc_offensive_or_hate".into(), v.binary.auc);
    }
    let mut params: BTreeMap<String, String> = match serde_json::to_value(options) {
        Ok(serde_json::Value::Object(map)) => {
            map.into_iter().map(|(k, v)| (k, v.to_string())).collect()
        }
        _ => BTreeMap::new(),
    };
    params.insert("best_epoch".into(), result.best_epoch.to_string());
    params.insert(
        "threshold_tuned_on".into(),
        format!("{EVAL_SET} (validation; never a test split)"),
    );
    let mut thresholds = BTreeMap::from([("harmful".to_string(), result.head.threshold)]);
    thresholds.insert("hate_harassment".into(), 0.5);
    ModelManifest {
        name: names::TEXT.into(),
        modality: "text".into(),
        version: format!(
            "text-{}-{}",
            now.format("%Y%m%dT%H%MZ"),
            &result.data_fingerprint[..4.min(result.data_fingerprint.len())]
        ),
        parent: None,
        base_model: Some(result.config.base_model.clone()),
        data_fingerprint: result.data_fingerprint.clone(),
        data: result.data.clone(),
        metrics,
        eval_set: EVAL_SET.into(),
        thresholds,
        params,
        files: vec![
            CONFIG_FILE.into(),
            TOP_FILE.into(),
            HEAD_FILE.into(),
            METRICS_FILE.into(),
        ],
        code_version: code_version.into(),
        created_at: now,
    }
}

/// Writes the bundle into `dir` (created; files of an older bundle there are replaced).
pub fn write(
    dir: &Path,
    result: &FinetuneResult,
    options: &FinetuneOptions,
    code_version: &str,
) -> Result<ModelManifest, WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut manifest = manifest(result, options, code_version);
    let mut head = result.head.clone();
    head.version = manifest.version.clone();
    result
        .top
        .save(&dir.join(TOP_FILE))
        .map_err(|e| io(&dir.join(TOP_FILE), e))?;
    write_json(&dir.join(HEAD_FILE), &head)?;
    if let Some(lexical) = &result.lexical {
        let path = dir.join(LEXICAL_FILE);
        lexical.save(&path).map_err(|e| io(&path, e))?;
        manifest.files.push(LEXICAL_FILE.into());
    }
    write_json(&dir.join(CONFIG_FILE), &result.config)?;
    let metrics = serde_json::json!({
        "eval_set": EVAL_SET,
        "seed_eval": result.eval,
        "seed_eval_views": result.views,
        "vihsd_dev": result.vihsd_dev,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "seconds": result.seconds,
    });
    write_json(&dir.join(METRICS_FILE), &metrics)?;
    let plots = crate::plots::write_pair(
        dir,
        EVAL_SET,
        &result.eval_scores,
        &result.eval_truth,
        &result.eval,
    )
    .map_err(|e| io(dir, e))?;
    manifest.files.extend(plots);
    manifest.files.sort();
    write_json(&dir.join(MANIFEST_FILE), &manifest)?;
    Ok(manifest)
}
