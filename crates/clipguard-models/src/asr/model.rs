//! Whisper as a [`BatchModel`] so it runs on its own thread like the other models. Clips are
//! transcribed one at a time (a batch of one): decoding is sequential per clip anyway, and the
//! thread keeps the async workers free while it runs.

use super::{TranscribeOptions, Transcript, Whisper};
use crate::ModelError;
use crate::thread::BatchModel;

/// 16 kHz mono samples and how to transcribe them.
pub type SpeechInput = (Vec<f32>, TranscribeOptions);

impl BatchModel for Whisper {
    type Input = SpeechInput;
    type Output = Transcript;

    fn cost(&self, _: &SpeechInput) -> usize {
        1
    }

    fn run_batch(&self, inputs: Vec<SpeechInput>) -> Vec<Result<Transcript, ModelError>> {
        inputs
            .into_iter()
            .map(|(pcm, options)| {
                self.transcribe(&pcm, &options)
                    .map_err(|e| ModelError::runtime("whisper", e))
            })
            .collect()
    }

    fn warm_up(&self) -> Result<(), ModelError> {
        // One second of a quiet tone: runs the encoder once without producing text.
        let pcm: Vec<f32> = (0..16_000)
            .map(|i| 0.01 * (i as f32 * 0.05).sin())
            .collect();
        let options = TranscribeOptions {
            language: Some("en".into()),
            max_seconds: 1.0,
        };
        self.transcribe(&pcm, &options)
            .map(|_| ())
            .map_err(|e| ModelError::runtime("whisper", e))
    }
}
