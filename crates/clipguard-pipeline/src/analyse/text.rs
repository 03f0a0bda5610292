//! Judging text, whatever modality it came from: caption, comments, speech transcript,
//! on-screen text. Keyword rules always run; the text model runs when it is loaded. Each
//! modality gets its own scores, so the evidence says which text triggered.

use super::keywords::{Aggregation, TextPiece};
use super::live_rules::LiveRules;
use async_trait::async_trait;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use clipguard_core::{
    Category, Evidence, EvidenceKind, ExtractedText, Modality, ModalityScore, StageError,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A text model's opinion of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextScores {
    pub harmful: f32,
    pub categories: BTreeMap<Category, f32>,
    /// The model version that produced these scores (it may be hot-swapped between texts).
    pub version: String,
}

/// A text classifier (the e5 encoder + head behind its model thread, in `clipguard-models`).
#[async_trait]
pub trait TextScorer: Send + Sync {
    fn name(&self) -> &str;
    fn version(&self) -> String;
    /// One result per text, in order.
    async fn score(&self, texts: Vec<String>) -> Result<Vec<TextScores>, StageError>;
}

/// Evidence is recorded for texts the model scores at least this high.
const MODEL_EVIDENCE_MIN: f32 = 0.5;
/// Longest excerpt kept as model evidence.
const EXCERPT_CHARS: usize = 160;
/// Comments joined for the model (the seed's training format: `a [SEP] b [SEP] …`).
const MAX_MODEL_COMMENTS: usize = 50;

pub struct TextJudge {
    pub rules: Arc<LiveRules>,
    pub model: Option<Arc<dyn TextScorer>>,
}

impl std::fmt::Debug for TextJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextJudge")
            .field("model", &self.model.as_ref().map(|m| m.version()))
            .finish()
    }
}

impl TextJudge {
    /// Rules and (if loaded) the model on texts read from the media, evidence at their times.
    pub async fn judge(
        &self,
        modality: Modality,
        texts: &[ExtractedText],
    ) -> Result<AnalyserOutput, StageError> {
        let pieces: Vec<TextPiece<'_>> = texts
            .iter()
            .map(|t| TextPiece {
                time_s: Some(t.time_s),
                text: &t.text,
            })
            .collect();
        let mut out = self
            .rules
            .current()
            .score_pieces(modality, &pieces, Aggregation::Whole);
        let located: Vec<(Option<f64>, String)> = texts
            .iter()
            .map(|t| (Some(t.time_s), t.text.clone()))
            .collect();
        out.merge(self.judge_model(modality, located).await?);
        Ok(out)
    }

    /// The model alone on texts (each with an optional time offset). No model → nothing.
    pub async fn judge_model(
        &self,
        modality: Modality,
        texts: Vec<(Option<f64>, String)>,
    ) -> Result<AnalyserOutput, StageError> {
        let mut out = AnalyserOutput::default();
        let Some(model) = &self.model else {
            return Ok(out);
        };
        let texts: Vec<(Option<f64>, String)> = texts
            .into_iter()
            .filter(|(_, t)| !t.trim().is_empty())
            .collect();
        if texts.is_empty() {
            return Ok(out);
        }
        let scores = model
            .score(texts.iter().map(|(_, t)| t.clone()).collect())
            .await?;
        if scores.len() != texts.len() {
            return Err(StageError::internal(format!(
                "text model returned {} results for {} texts",
                scores.len(),
                texts.len()
            )));
        }
        let mut categories: BTreeMap<Category, f32> = BTreeMap::new();
        let mut harmful = 0.0f32;
        for ((time_s, text), s) in texts.iter().zip(&scores) {
            out.record_version(model.name(), &s.version);
            harmful = harmful.max(s.harmful);
            for (c, v) in &s.categories {
                let slot = categories.entry(*c).or_insert(0.0);
                *slot = slot.max(*v);
            }
            if s.harmful >= MODEL_EVIDENCE_MIN {
                let top = s
                    .categories
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(c, _)| *c);
                out.evidence.push(Evidence {
                    kind: EvidenceKind::Model,
                    modality,
                    category: top,
                    time_s: *time_s,
                    excerpt: text.chars().take(EXCERPT_CHARS).collect(),
                    rule_id: None,
                    score: Some(s.harmful),
                    matched: None,
                });
            }
        }
        out.scores.push(ModalityScore {
            modality,
            analyser: model.name().to_string(),
            harmful,
            categories,
            timeline: Vec::new(),
        });
        Ok(out)
    }
}

/// The text model on the caption (with hashtags) and on the comments joined as one text.
/// Keyword rules on the same texts are the `keywords` analyser.
#[derive(Debug)]
pub struct TextModelAnalyser {
    pub judge: Arc<TextJudge>,
}

#[async_trait]
impl Analyser for TextModelAnalyser {
    fn name(&self) -> &str {
        self.judge
            .model
            .as_ref()
            .map(|m| m.name())
            .unwrap_or("text-model")
    }

    fn version(&self) -> String {
        self.judge
            .model
            .as_ref()
            .map(|m| m.version())
            .unwrap_or_default()
    }

    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        let video = &input.video;
        let mut out = self
            .judge
            .judge_model(Modality::Caption, vec![(None, video.caption_text())])
            .await?;
        let comments: Vec<&str> = video
            .comments
            .iter()
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
            .take(MAX_MODEL_COMMENTS)
            .collect();
        if !comments.is_empty() {
            out.merge(
                self.judge
                    .judge_model(Modality::Comments, vec![(None, comments.join(" [SEP] "))])
                    .await?,
            );
        }
        Ok(out)
    }
}
