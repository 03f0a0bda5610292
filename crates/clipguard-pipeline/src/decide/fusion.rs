//! Fusion v0: modality scores → one calibrated score per category.
//!
//! Per category, the sources that cover it (an analyser on a modality: keywords on the caption,
//! the text model on the transcript, Open-NSFW on the frames…) are combined by a noisy-OR:
//! `p = 1 − Π(1 − r_k·s_k)`, where `r_k` is the source's reliability. A noisy-OR treats a score
//! of 0 as "no evidence" rather than "proof of safety", which is what rules and detectors mean
//! by it, and two independent sources agreeing push the score up. Then Platt scaling
//! `σ(a·logit(p) + b)` calibrates it. The parameters live in a small JSON bundle
//! (`config/fusion-v0.json` built in, hand-set) that `clipguard train fusion` (#4) refits on
//! reviewers' labels; the bundle's version goes into every verdict.

use clipguard_core::{Category, ModalityScore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const BUILTIN: &str = include_str!("../../../../config/fusion-v0.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionParams {
    pub version: String,
    #[serde(default)]
    pub note: String,
    pub default_reliability: f32,
    /// Analyser name → reliability in (0, 1].
    pub reliability: BTreeMap<String, f32>,
    /// Category → (a, b) of the Platt scaling.
    pub platt: BTreeMap<Category, (f32, f32)>,
    /// (a, b) of the Platt scaling of the fused overall `harmful` scores.
    #[serde(default = "identity_platt")]
    pub harmful_platt: (f32, f32),
}

fn identity_platt() -> (f32, f32) {
    (1.0, 0.0)
}

impl Default for FusionParams {
    fn default() -> Self {
        serde_json::from_str(BUILTIN).expect("the built-in fusion parameters parse")
    }
}

/// One category's fused score and the sources behind it (strongest first).
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub score: f32,
    pub sources: Vec<(String, f32)>,
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// `σ(a·logit(p) + b)`; a noisy-OR of nothing (p = 0) stays 0.
fn platt((a, b): (f32, f32), p: f32) -> f32 {
    if p <= 0.0 {
        0.0
    } else {
        1.0 / (1.0 + (-(a * logit(p) + b)).exp())
    }
}

impl FusionParams {
    /// An analyser's reliability (the default for one the parameters do not name).
    pub fn reliability_of(&self, analyser: &str) -> f32 {
        self.reliability
            .get(analyser)
            .copied()
            .unwrap_or(self.default_reliability)
            .clamp(0.0, 1.0)
    }

    /// Fuses every category that at least one source covers; the rest stay uncovered.
    pub fn fuse(&self, scores: &[ModalityScore]) -> BTreeMap<Category, Fused> {
        let mut out = BTreeMap::new();
        for category in Category::ALL {
            let mut keep = 1.0f32;
            let mut sources = Vec::new();
            for s in scores {
                let Some(v) = s.categories.get(&category) else {
                    continue;
                };
                keep *= 1.0 - self.reliability_of(&s.analyser) * v.clamp(0.0, 1.0);
                sources.push((format!("{}/{}", modality_name(s), s.analyser), *v));
            }
            if sources.is_empty() {
                continue;
            }
            let params = self
                .platt
                .get(&category)
                .copied()
                .unwrap_or_else(identity_platt);
            let score = platt(params, 1.0 - keep);
            sources.sort_by(|x, y| y.1.total_cmp(&x.1));
            out.insert(category, Fused { score, sources });
        }
        out
    }
}

impl FusionParams {
    /// The sources' overall `harmful` scores fused and calibrated the same way (a text
    /// model's harmful head can flag a text without naming a category).
    pub fn fuse_harmful(&self, scores: &[ModalityScore]) -> f32 {
        let keep = scores.iter().fold(1.0f32, |keep, s| {
            keep * (1.0 - self.reliability_of(&s.analyser) * s.harmful.clamp(0.0, 1.0))
        });
        platt(self.harmful_platt, 1.0 - keep)
    }

    /// The video's overall score given its fused categories: the highest of them and of the
    /// fused harmful score. This is what `decide` compares with its threshold.
    pub fn overall_from(&self, fused: &BTreeMap<Category, Fused>, scores: &[ModalityScore]) -> f32 {
        fused
            .values()
            .map(|f| f.score)
            .fold(self.fuse_harmful(scores), f32::max)
    }

    /// [`Self::overall_from`] straight from the sources' scores.
    pub fn overall(&self, scores: &[ModalityScore]) -> f32 {
        self.overall_from(&self.fuse(scores), scores)
    }
}

fn modality_name(s: &ModalityScore) -> String {
    serde_json::to_value(s.modality)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clipguard_core::Modality;

    fn source(analyser: &str, modality: Modality, c: Category, v: f32) -> ModalityScore {
        ModalityScore {
            modality,
            analyser: analyser.into(),
            harmful: v,
            categories: [(c, v)].into_iter().collect(),
            timeline: Vec::new(),
        }
    }

    #[test]
    fn zero_is_no_evidence_and_agreement_adds_up() {
        let p = FusionParams::default();
        let one = p.fuse(&[
            source("keywords", Modality::Caption, Category::Violence, 0.85),
            source("keywords", Modality::Comments, Category::Violence, 0.0),
        ]);
        assert!((one[&Category::Violence].score - 0.85).abs() < 1e-5);
        let two = p.fuse(&[
            source("keywords", Modality::Caption, Category::Violence, 0.85),
            source("text-e5", Modality::Speech, Category::Violence, 0.7),
        ]);
        let v = &two[&Category::Violence];
        assert!(v.score > 0.85 && v.score < 1.0, "{v:?}");
        assert_eq!(v.sources[0].0, "caption/keywords");
        assert!(
            !two.contains_key(&Category::Sexual),
            "uncovered stays uncovered"
        );
    }

    #[test]
    fn platt_scaling_shifts_scores() {
        let mut p = FusionParams::default();
        p.platt.insert(Category::SelfHarm, (1.0, -2.0));
        let f = p.fuse(&[source("x", Modality::Caption, Category::SelfHarm, 0.5)]);
        // r = 0.9 → p = 0.45 → logit −0.2 → −2.2 → σ ≈ 0.10
        assert!(
            (f[&Category::SelfHarm].score - 0.0998).abs() < 1e-3,
            "{f:?}"
        );
    }
}
