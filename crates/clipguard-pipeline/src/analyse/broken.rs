//! An analyser that could not start. It stays in the set so every video it would have seen
//! fails with the reason (and `doctor` reports it), rather than the analyser quietly vanishing
//! and its category reading as covered-and-clean.

use async_trait::async_trait;
use clipguard_core::StageError;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};

#[derive(Debug)]
pub struct Broken {
    name: String,
    reason: String,
}

impl Broken {
    pub fn new(name: &str, reason: impl Into<String>) -> Self {
        Broken {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[async_trait]
impl Analyser for Broken {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> String {
        "unavailable".into()
    }

    async fn analyse(&self, _: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        // Input class: retrying the same video cannot bring the model back, so fail it now.
        Err(StageError::input(format!("unavailable: {}", self.reason)))
    }
}
