//! PLACEHOLDER until the real rules engine lands (being written now).
use async_trait::async_trait;
use clipguard_core::StageError;
use clipguard_core::config::RulesConfig;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};

#[derive(Debug, thiserror::Error)]
#[error("rules")]
pub struct RulesError;

#[derive(Debug)]
pub struct KeywordRules;

impl KeywordRules {
    pub fn load(_c: &RulesConfig) -> Result<Self, RulesError> {
        Ok(KeywordRules)
    }
}

#[async_trait]
impl Analyser for KeywordRules {
    fn name(&self) -> &str {
        "keywords"
    }
    fn version(&self) -> String {
        "stub".into()
    }
    async fn analyse(&self, _input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        Ok(AnalyserOutput::default())
    }
}
