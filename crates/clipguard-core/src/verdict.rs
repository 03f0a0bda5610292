//! The verdict: what ClipGuard decided about one video, why, with which models, and how long it
//! took. A verdict is either `ok` (scores are meaningful) or `failed` (with a reason): a failure
//! is never turned into a low score, so nothing is "silently safe".

use crate::Category;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    Ok,
    Failed,
}

impl VerdictStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictStatus::Ok => "ok",
            VerdictStatus::Failed => "failed",
        }
    }
}

/// The input an analyser looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Caption,
    Comments,
    Speech,
    OnScreenText,
    Frames,
    Audio,
    Metadata,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A keyword rule matched (`rule_id` says which).
    Rule,
    /// A model scored something above its threshold.
    Model,
    /// Something worth showing a reviewer that is not a hit (e.g. "12 frames sampled").
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub modality: Modality,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Seconds into the media, for frames, speech and on-screen text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
    /// The words or a description of what was seen, short enough to show in a list.
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// The exact words a rule matched (NFC-normalised), so pages can highlight them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
}

/// Text an analyser read out of the media (speech transcript segments, on-screen text), kept
/// on the verdict so a reviewer can read it and search it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedText {
    pub modality: Modality,
    /// Start (and for speech, end) in seconds into the media.
    pub time_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
    pub text: String,
    /// Language when the analyser knows it (speech detection, OCR languages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// What one analyser concluded about one modality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityScore {
    pub modality: Modality,
    pub analyser: String,
    /// Harmful score in [0, 1] from this modality alone.
    pub harmful: f32,
    /// Scores for the categories this analyser covers; absent categories are not covered.
    pub categories: BTreeMap<Category, f32>,
    /// (second, harmful score) along the media, when the analyser scores it piece by piece
    /// (frames): the video page draws it as a timeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<(f64, f32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub video_id: String,
    pub status: VerdictStatus,
    /// Why the verdict failed; `None` when `status` is `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Overall harmful score in [0, 1]; `None` when failed.
    pub harmful_score: Option<f32>,
    /// `harmful_score >= threshold`; `None` when failed.
    pub harmful: Option<bool>,
    pub threshold: f32,
    /// One entry per category: a score, or `null` when no analyser covered it.
    pub categories: BTreeMap<Category, Option<f32>>,
    pub modalities: Vec<ModalityScore>,
    pub evidence: Vec<Evidence>,
    /// Transcript segments and on-screen text, in time order.
    #[serde(default)]
    pub texts: Vec<ExtractedText>,
    /// Analyser name → version, for every analyser that ran.
    pub model_versions: BTreeMap<String, String>,
    /// One string summarising `model_versions`; with `video_id` it keys the stored verdict.
    pub pipeline_version: String,
    pub latency_ms: u64,
    pub decided_at: DateTime<Utc>,
}

impl Verdict {
    /// A failed verdict: no scores, every category uncovered, the reason kept.
    pub fn failed(
        video_id: impl Into<String>,
        reason: impl Into<String>,
        threshold: f32,
        pipeline_version: impl Into<String>,
    ) -> Verdict {
        Verdict {
            video_id: video_id.into(),
            status: VerdictStatus::Failed,
            reason: Some(reason.into()),
            harmful_score: None,
            harmful: None,
            threshold,
            categories: Category::ALL.into_iter().map(|c| (c, None)).collect(),
            modalities: Vec::new(),
            evidence: Vec::new(),
            texts: Vec::new(),
            model_versions: BTreeMap::new(),
            pipeline_version: pipeline_version.into(),
            latency_ms: 0,
            decided_at: Utc::now(),
        }
    }

    /// The label a person would read: `harmful`, `safe` or `failed`.
    pub fn label(&self) -> &'static str {
        match (self.status, self.harmful) {
            (VerdictStatus::Ok, Some(true)) => "harmful",
            (VerdictStatus::Ok, _) => "safe",
            (VerdictStatus::Failed, _) => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_verdict_is_never_safe_and_serialises_status_at_top_level() {
        let v = Verdict::failed("file:x", "ffmpeg: invalid data", 0.5, "p1");
        assert_eq!(v.label(), "failed");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["status"], "failed");
        assert_eq!(json["reason"], "ffmpeg: invalid data");
        assert!(json["harmful_score"].is_null());
        assert!(json["categories"]["sexual"].is_null());
    }
}
