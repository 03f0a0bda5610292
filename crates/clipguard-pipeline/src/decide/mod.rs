//! Decide: combine analyser outputs into one verdict.
//!
//! Category scores come from [`fusion`] (calibrated noisy-OR of the sources covering each
//! category); a category no analyser covered stays `None` ("not covered"), never 0. The overall
//! harmful score is the highest category score; the video is harmful when that reaches the
//! global threshold or any category reaches its own threshold.

pub mod bundle;
pub mod fit;
pub mod fusion;

use clipguard_core::config::DecideConfig;
use clipguard_core::stage::AnalyserOutput;
use clipguard_core::{Category, Evidence, Verdict, VerdictStatus};
use std::collections::BTreeMap;

/// Everything `decide` needs besides the outputs.
#[derive(Debug, Clone)]
pub struct DecideContext<'a> {
    pub video_id: &'a str,
    pub config: &'a DecideConfig,
    pub model_versions: BTreeMap<String, String>,
    pub pipeline_version: String,
    pub notes: Vec<Evidence>,
    pub latency_ms: u64,
    pub fusion: &'a fusion::FusionParams,
}

pub fn decide(ctx: DecideContext<'_>, outputs: Vec<AnalyserOutput>) -> Verdict {
    let mut categories: BTreeMap<Category, Option<f32>> =
        Category::ALL.into_iter().map(|c| (c, None)).collect();
    let mut modalities = Vec::new();
    let mut evidence = ctx.notes;
    let mut texts = Vec::new();
    for out in outputs {
        texts.extend(out.texts);
        modalities.extend(out.scores);
        evidence.extend(out.evidence);
    }
    let fused = ctx.fusion.fuse(&modalities);
    let overall = ctx.fusion.overall_from(&fused, &modalities);
    for (category, fused) in fused {
        categories.insert(category, Some(fused.score));
        if fused.score >= 0.05 {
            let top: Vec<String> = fused
                .sources
                .iter()
                .filter(|(_, s)| *s > 0.0)
                .take(3)
                .map(|(name, s)| format!("{name} {s:.2}"))
                .collect();
            evidence.push(Evidence {
                kind: clipguard_core::EvidenceKind::Info,
                modality: clipguard_core::Modality::Metadata,
                category: Some(category),
                time_s: None,
                excerpt: format!(
                    "fusion: {category} {:.2} from {}",
                    fused.score,
                    top.join(" + ")
                ),
                rule_id: None,
                score: Some(fused.score),
                matched: None,
            });
        }
    }
    texts.sort_by(|a: &clipguard_core::ExtractedText, b| a.time_s.total_cmp(&b.time_s));
    if modalities.is_empty() {
        // Nothing was measured at all: that is not "safe".
        let mut v = Verdict::failed(
            ctx.video_id,
            "nothing could score this video: it has no caption, hashtags or comments, and no loaded model reads its frames or speech",
            ctx.config.threshold,
            ctx.pipeline_version,
        );
        v.evidence = evidence;
        v.texts = texts;
        v.model_versions = ctx.model_versions;
        v.latency_ms = ctx.latency_ms;
        return v;
    }
    let category_hit = categories.iter().any(|(c, s)| {
        let t = ctx
            .config
            .category_thresholds
            .get(c)
            .copied()
            .unwrap_or(ctx.config.threshold);
        s.is_some_and(|s| s >= t)
    });
    let harmful = overall >= ctx.config.threshold || category_hit;
    Verdict {
        video_id: ctx.video_id.to_string(),
        status: VerdictStatus::Ok,
        reason: None,
        harmful_score: Some(overall),
        harmful: Some(harmful),
        threshold: ctx.config.threshold,
        categories,
        modalities,
        evidence,
        texts,
        model_versions: ctx.model_versions,
        pipeline_version: ctx.pipeline_version,
        latency_ms: ctx.latency_ms,
        decided_at: chrono::Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clipguard_core::{Modality, ModalityScore};

    fn ctx(config: &DecideConfig) -> DecideContext<'_> {
        static FUSION: std::sync::OnceLock<fusion::FusionParams> = std::sync::OnceLock::new();
        DecideContext {
            fusion: FUSION.get_or_init(fusion::FusionParams::default),
            video_id: "t:1",
            config,
            model_versions: BTreeMap::new(),
            pipeline_version: "p".into(),
            notes: Vec::new(),
            latency_ms: 1,
        }
    }

    fn output(modality: Modality, cat: Category, s: f32) -> AnalyserOutput {
        AnalyserOutput {
            scores: vec![ModalityScore {
                modality,
                analyser: "x".into(),
                harmful: s,
                categories: [(cat, s)].into_iter().collect(),
                timeline: Vec::new(),
            }],
            ..AnalyserOutput::default()
        }
    }

    #[test]
    fn uncovered_categories_stay_none_and_sources_are_fused() {
        let config = clipguard_core::Config::default().decide;
        let v = decide(
            ctx(&config),
            vec![
                output(Modality::Caption, Category::Violence, 0.3),
                output(Modality::Comments, Category::Violence, 0.9),
            ],
        );
        assert_eq!(v.status, VerdictStatus::Ok);
        // noisy-OR with reliability 0.9: 1 − (1 − 0.27)(1 − 0.81)
        let fused = v.categories[&Category::Violence].unwrap();
        assert!((fused - 0.8613).abs() < 1e-3, "{fused}");
        assert_eq!(v.categories[&Category::Sexual], None);
        assert_eq!(v.harmful, Some(true));
        assert_eq!(v.label(), "harmful");
    }

    #[test]
    fn a_category_threshold_can_flag_below_the_global_one() {
        let mut config = clipguard_core::Config::default().decide;
        config.threshold = 0.9;
        config.category_thresholds.insert(Category::SelfHarm, 0.4);
        let v = decide(
            ctx(&config),
            vec![output(Modality::Caption, Category::SelfHarm, 0.5)],
        );
        assert_eq!(v.harmful, Some(true));
    }

    #[test]
    fn nothing_measured_is_failed_not_safe() {
        let config = clipguard_core::Config::default().decide;
        let v = decide(ctx(&config), Vec::new());
        assert_eq!(v.status, VerdictStatus::Failed);
        assert_eq!(v.label(), "failed");
    }
}
