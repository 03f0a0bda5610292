//! Frames: Open-NSFW scores every sampled frame (sexual content only — no registry ships a
//! violence, weapon or gore model, so frames say nothing about those categories and they stay
//! "not covered" from this modality). Evidence names the seconds that scored high.

use async_trait::async_trait;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use clipguard_core::{Category, Evidence, EvidenceKind, Modality, ModalityScore, StageError};
use clipguard_models::thread::ModelHandle;
use clipguard_models::vision::OpenNsfw;

pub const ANALYSER_NAME: &str = "open-nsfw";

/// Frames scoring at least this are listed as evidence.
const EVIDENCE_MIN: f32 = 0.5;

pub struct FramesAnalyser {
    pub handle: ModelHandle<OpenNsfw>,
}

impl std::fmt::Debug for FramesAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramesAnalyser")
            .field("version", &self.handle.slot().version())
            .finish()
    }
}

#[async_trait]
impl Analyser for FramesAnalyser {
    fn name(&self) -> &str {
        ANALYSER_NAME
    }

    fn version(&self) -> String {
        self.handle.slot().version()
    }

    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        if input.frames.is_empty() {
            return Ok(AnalyserOutput::default());
        }
        let jobs = input
            .frames
            .iter()
            .map(|f| self.handle.infer((f.rgb.clone(), f.width, f.height)));
        let mut scores = Vec::with_capacity(input.frames.len());
        for (frame, result) in input
            .frames
            .iter()
            .zip(futures::future::join_all(jobs).await)
        {
            let (score, _) = result.map_err(|e| StageError::external(format!("frames: {e}")))?;
            scores.push((frame.time_s, score));
        }
        let (peak_t, peak) = scores
            .iter()
            .copied()
            .fold((0.0, 0.0f32), |a, b| if b.1 > a.1 { b } else { a });
        let mut out = AnalyserOutput::default();
        out.scores.push(ModalityScore {
            modality: Modality::Frames,
            analyser: ANALYSER_NAME.into(),
            harmful: peak,
            categories: [(Category::Sexual, peak)].into_iter().collect(),
            timeline: scores.clone(),
        });
        for (t, s) in scores.iter().filter(|(_, s)| *s >= EVIDENCE_MIN).take(20) {
            out.evidence.push(Evidence {
                kind: EvidenceKind::Model,
                modality: Modality::Frames,
                category: Some(Category::Sexual),
                time_s: Some(*t),
                excerpt: format!("frame at {t:.1} s scored {s:.2} for nudity"),
                rule_id: None,
                score: Some(*s),
                matched: None,
            });
        }
        out.evidence.push(Evidence {
            kind: EvidenceKind::Info,
            modality: Modality::Frames,
            category: None,
            time_s: None,
            excerpt: format!(
                "frames: {} scored for nudity, highest {peak:.2} at {peak_t:.1} s (violence and other categories are not covered by any frame model)",
                scores.len()
            ),
            rule_id: None,
            score: None,
            matched: None,
        });
        Ok(out)
    }
}
