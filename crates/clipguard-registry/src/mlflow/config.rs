//! Where the MLflow server is and how ClipGuard names things in it.

use crate::error::RegistryError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MlflowConfig {
    /// Tracking server base URL, e.g. `http://127.0.0.1:5000`. Plain http: the workspace's
    /// reqwest is built without TLS (an https server needs a TLS feature added there).
    pub url: String,
    /// Experiments are `<prefix>/<model name>` (one run per registered candidate) and
    /// `<prefix>/_audit` (one run per decision).
    pub experiment_prefix: String,
    /// Registered models are `<model_prefix><model name>` (`clipguard-text`, …), so a shared
    /// server's other models are never touched.
    pub model_prefix: String,
    /// Limit for one metadata request.
    pub timeout_secs: u64,
    /// Limit for one artifact upload or download.
    pub artifact_timeout_secs: u64,
}

impl Default for MlflowConfig {
    fn default() -> Self {
        MlflowConfig {
            url: "http://127.0.0.1:5000".to_string(),
            experiment_prefix: "clipguard".to_string(),
            model_prefix: "clipguard-".to_string(),
            timeout_secs: 30,
            artifact_timeout_secs: 600,
        }
    }
}

impl MlflowConfig {
    pub fn with_url(url: impl Into<String>) -> Self {
        MlflowConfig {
            url: url.into(),
            ..MlflowConfig::default()
        }
    }

    /// The prefixes end up in MLflow search filters and names: keep them to plain characters.
    pub(crate) fn validate(&self) -> Result<(), RegistryError> {
        for (what, value) in [
            ("experiment_prefix", &self.experiment_prefix),
            ("model_prefix", &self.model_prefix),
        ] {
            if !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
            {
                return Err(RegistryError::InvalidName {
                    what,
                    value: value.clone(),
                    rule: "expected only [A-Za-z0-9_./-]",
                });
            }
        }
        Ok(())
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    pub(crate) fn artifact_timeout(&self) -> Duration {
        Duration::from_secs(self.artifact_timeout_secs.max(1))
    }
}
