//! What a registered version keeps in its MLflow run's artifacts, besides the bundle itself
//! (`bundle/`, the model version's `source`): `clipguard/registration.json`, the manifest and
//! the file index (sizes + sha256) in one small file. Reading a version costs one download of
//! it (then it is memoised: a registered version never changes), and the manifest is never cut
//! to fit a tag's length limit.

use crate::bundle::BundleIndex;
use clipguard_core::manifest::ModelManifest;
use serde::{Deserialize, Serialize};

/// The bundle folder inside the run's artifacts; the model version's `source` points here.
pub(crate) const BUNDLE_DIR: &str = "bundle";
/// The registration record inside the run's artifacts.
pub(crate) const RECORD_PATH: &str = "clipguard/registration.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Registration {
    pub manifest: ModelManifest,
    pub index: BundleIndex,
}

/// MLflow's key rule (`[\w.\- /:]`, at most 250): anything else becomes `_`. Keys logged for
/// display only; the manifest in the record stays exact.
pub(crate) fn mlflow_key(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':') {
                c
            } else {
                '_'
            }
        })
        .take(250)
        .collect()
}

/// Cuts a value to `max` characters (params are limited to 6000 by MLflow, tags to 5000 by
/// older servers).
pub(crate) fn clip(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}
