//! Speech: Whisper transcribes the audio (language detected), then the transcript is judged
//! like any text, each segment keeping its time so evidence says which second was said.

use super::text::TextJudge;
use async_trait::async_trait;
use clipguard_core::config::SpeechConfig;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use clipguard_core::{Evidence, EvidenceKind, ExtractedText, Modality, StageError};
use clipguard_models::asr::{TranscribeOptions, Whisper};
use clipguard_models::thread::ModelHandle;
use std::sync::Arc;

pub struct SpeechAnalyser {
    pub handle: ModelHandle<Whisper>,
    pub judge: Arc<TextJudge>,
    pub config: SpeechConfig,
}

impl std::fmt::Debug for SpeechAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpeechAnalyser")
            .field("version", &self.handle.slot().version())
            .finish()
    }
}

#[async_trait]
impl Analyser for SpeechAnalyser {
    fn name(&self) -> &str {
        super::models::SPEECH_ANALYSER
    }

    fn version(&self) -> String {
        self.handle.slot().version()
    }

    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        let Some(audio) = &input.audio else {
            return Ok(AnalyserOutput::default());
        };
        let options = TranscribeOptions {
            language: Some(self.config.language.clone()).filter(|l| !l.is_empty()),
            max_seconds: self.config.max_seconds,
        };
        let (transcript, _version) = self
            .handle
            .infer((audio.samples.clone(), options))
            .await
            .map_err(|e| StageError::external(format!("speech: {e}")))?;
        let texts: Vec<ExtractedText> = transcript
            .segments
            .iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| ExtractedText {
                modality: Modality::Speech,
                time_s: f64::from(s.start_s),
                end_s: Some(f64::from(s.end_s)),
                text: s.text.trim().to_string(),
                language: Some(transcript.language.clone()),
            })
            .collect();
        let mut out = self.judge.judge(Modality::Speech, &texts).await?;
        out.evidence.push(Evidence {
            kind: EvidenceKind::Info,
            modality: Modality::Speech,
            category: None,
            time_s: None,
            excerpt: format!(
                "speech: language {} (p {:.2}), {} segment(s), {} words",
                transcript.language,
                transcript.language_probability,
                texts.len(),
                transcript.text.split_whitespace().count()
            ),
            rule_id: None,
            score: None,
            matched: None,
        });
        out.texts = texts;
        Ok(out)
    }
}
