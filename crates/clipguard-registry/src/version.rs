//! What the registry hands back for one registered version.

use crate::bundle::BundleIndex;
use chrono::{DateTime, Utc};
use clipguard_core::manifest::ModelManifest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredVersion {
    /// Registered model name (`text`, `vision`, `fusion`).
    pub name: String,
    /// The registry's sequence number for this name: "1", "2", … (MLflow's model version).
    /// The trainer's own label is `manifest.version`.
    pub version: String,
    pub manifest: ModelManifest,
    /// Aliases currently pointing at this version (`champion`, `challenger`), sorted.
    pub aliases: Vec<String>,
    /// When it was registered (not when it was trained: that is `manifest.created_at`).
    pub created_at: DateTime<Utc>,
    /// Every file of the bundle with its size and sha256, `manifest.json` first.
    pub index: BundleIndex,
}

impl RegisteredVersion {
    pub fn has_alias(&self, alias: &str) -> bool {
        self.aliases.iter().any(|a| a == alias)
    }

    /// F1 on the harmful class, as the gate reads it.
    pub fn f1_harmful(&self) -> Option<f64> {
        self.manifest.f1_harmful()
    }
}
