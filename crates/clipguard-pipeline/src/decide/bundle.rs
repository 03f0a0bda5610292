//! A fusion model as a registry bundle: `manifest.json` + `fusion.json` (the [`FusionParams`]).
//! Written by `clipguard train fusion`, registered like any other model, and loaded by the
//! workers when the `fusion` champion moves. The parameters are tiny, so the bundle is too.

use super::fusion::FusionParams;
use clipguard_core::manifest::{MANIFEST_FILE, ModelManifest};
use std::path::Path;

/// The parameters' file inside a fusion bundle.
pub const PARAMS_FILE: &str = "fusion.json";

#[derive(Debug, thiserror::Error)]
pub enum FusionBundleError {
    #[error("fusion bundle {path}: {message}")]
    Io { path: String, message: String },
    #[error("fusion bundle {path}: {message}")]
    Invalid { path: String, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> FusionBundleError {
    FusionBundleError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `params` and `manifest` into `dir`; `manifest.files` may already list files written
/// there (plots), the parameters file is added.
pub fn write(
    dir: &Path,
    params: &FusionParams,
    mut manifest: ModelManifest,
) -> Result<ModelManifest, FusionBundleError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    if !manifest.files.iter().any(|f| f == PARAMS_FILE) {
        manifest.files.push(PARAMS_FILE.to_string());
    }
    for (file, text) in [
        (PARAMS_FILE, serde_json::to_string_pretty(params)),
        (MANIFEST_FILE, serde_json::to_string_pretty(&manifest)),
    ] {
        let path = dir.join(file);
        let text = text.map_err(|e| io(&path, e))?;
        std::fs::write(&path, text + "\n").map_err(|e| io(&path, e))?;
    }
    Ok(manifest)
}

/// Reads and checks a fusion bundle's parameters: reliabilities in [0, 1], Platt slopes > 0
/// (a negative slope would turn evidence of harm into evidence of safety).
pub fn load(dir: &Path) -> Result<FusionParams, FusionBundleError> {
    let path = dir.join(PARAMS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let params: FusionParams = serde_json::from_str(&text).map_err(|e| io(&path, e))?;
    let invalid = |message: String| FusionBundleError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let reliabilities = params
        .reliability
        .values()
        .chain(std::iter::once(&params.default_reliability));
    for r in reliabilities {
        if !(0.0..=1.0).contains(r) {
            return Err(invalid(format!("reliability {r} is outside [0, 1]")));
        }
    }
    let slopes = params
        .platt
        .values()
        .chain(std::iter::once(&params.harmful_platt));
    for (a, b) in slopes {
        if !(a.is_finite() && *a > 0.0 && b.is_finite()) {
            return Err(invalid(format!(
                "Platt scaling ({a}, {b}) must have a finite slope > 0"
            )));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clipguard_core::manifest::names;

    fn manifest() -> ModelManifest {
        serde_json::from_value(serde_json::json!({
            "name": names::FUSION, "modality": "fused", "version": "fusion-test",
            "data_fingerprint": "ab", "metrics": {"f1_harmful": 0.9}, "eval_set": "reviews@ab",
            "files": [], "code_version": "0", "created_at": "2026-12-04T21:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn round_trip_and_refuses_inverted_scaling() {
        let dir = tempfile::tempdir().unwrap();
        let params = FusionParams::default();
        let written = write(dir.path(), &params, manifest()).unwrap();
        assert_eq!(written.files, vec![PARAMS_FILE.to_string()]);
        assert_eq!(load(dir.path()).unwrap(), params);
        let mut bad = params;
        bad.harmful_platt = (-1.0, 0.0);
        write(dir.path(), &bad, manifest()).unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("slope"), "{e}");
    }
}
