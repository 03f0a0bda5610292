//! The analyser interface. Each analyser looks at some modalities of one video and reports
//! scores for the categories it covers plus evidence. The keyword rules are analysers today;
//! the text, vision, speech and OCR models (#3) plug in behind the same trait.
//!
//! An analyser returns `Err` for anything it could not do; the decide stage turns any error into
//! a `failed` verdict, so an analyser must never hide a failure behind a low score.

use crate::Video;
use crate::error::StageError;
use crate::verdict::{Evidence, ExtractedText, ModalityScore};
use async_trait::async_trait;

/// What ffprobe said about the media.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaProbe {
    pub duration_s: Option<f64>,
    pub has_video: bool,
    pub has_audio: bool,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
}

/// One decoded frame: packed RGB8, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub time_s: f64,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// Mono PCM as f32 in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioClip {
    pub sample_rate: u32,
    pub samples: Vec<f32>,
}

impl AudioClip {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// Everything analysers may look at. Media parts are `None` when the video has none (an
/// audio-only post has no frames) — not when decoding failed: that is an error upstream.
#[derive(Debug, Clone)]
pub struct AnalysisInput {
    pub video: Video,
    /// The media file, for analysers that decode it their own way (OCR wants full-resolution
    /// frames); `None` for a text-only item.
    pub media_path: Option<std::path::PathBuf>,
    pub probe: Option<MediaProbe>,
    pub frames: Vec<Frame>,
    pub audio: Option<AudioClip>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalyserOutput {
    pub scores: Vec<ModalityScore>,
    pub evidence: Vec<Evidence>,
    pub texts: Vec<ExtractedText>,
    /// Model name → the version that actually produced these scores (a model hot-swapped
    /// mid-video shows both, comma-separated). Overrides the analyser's current `version()` in
    /// the verdict, so a verdict never claims a model that did not score it.
    pub versions: std::collections::BTreeMap<String, String>,
}

impl AnalyserOutput {
    pub fn merge(&mut self, other: AnalyserOutput) {
        self.scores.extend(other.scores);
        self.evidence.extend(other.evidence);
        self.texts.extend(other.texts);
        for (name, version) in other.versions {
            self.record_version(&name, &version);
        }
    }

    /// Notes that `name` ran as `version` (kept once, in first-seen order).
    pub fn record_version(&mut self, name: &str, version: &str) {
        let entry = self.versions.entry(name.to_string()).or_default();
        if !entry.split(',').any(|v| v == version) {
            if !entry.is_empty() {
                entry.push(',');
            }
            entry.push_str(version);
        }
    }
}

#[async_trait]
pub trait Analyser: Send + Sync {
    /// Stable name, used as the key in a verdict's `model_versions`.
    fn name(&self) -> &str;
    /// Version of the analyser's logic or model (a rules file hash, a model bundle version).
    fn version(&self) -> String;
    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError>;
}
