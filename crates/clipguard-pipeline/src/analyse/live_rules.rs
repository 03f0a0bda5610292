//! The keyword rules as a slot that can be replaced while the worker runs (an admin saved new
//! rules in the dashboard). Each video takes one snapshot, so a swap never mixes two rule sets
//! within a video, and the output records the rules version that actually scored it.

use super::keywords::{ANALYSER_NAME, KeywordRules};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use clipguard_core::StageError;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use std::sync::Arc;

pub struct LiveRules {
    slot: ArcSwap<KeywordRules>,
}

impl LiveRules {
    pub fn new(rules: KeywordRules) -> Self {
        LiveRules {
            slot: ArcSwap::from_pointee(rules),
        }
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<KeywordRules> {
        self.slot.load_full()
    }

    pub fn swap(&self, rules: KeywordRules) {
        self.slot.store(Arc::new(rules));
    }
}

#[async_trait]
impl Analyser for LiveRules {
    fn name(&self) -> &str {
        ANALYSER_NAME
    }

    fn version(&self) -> String {
        self.current().version()
    }

    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        let rules = self.current();
        let mut out = rules.analyse(input).await?;
        out.record_version(ANALYSER_NAME, &rules.version());
        Ok(out)
    }
}
