//! Speech-to-text: Whisper (base, multilingual) from a CTranslate2 `model.bin`, run with candle.
//!
//! [`whisper::Whisper`] is the entry point. The other modules are its parts, kept small so that
//! each can be checked on its own: [`mel`] (audio features), `weights` (CTranslate2 → candle
//! names), `decoder` (text decoder with a key/value cache), `rules` (logit filters and the
//! repetition guard) and `segments` (timestamp tokens → segments).

mod decoder;
pub mod mel;
pub mod model;
mod rules;
mod segments;
mod weights;
pub mod whisper;

use std::path::PathBuf;

pub use whisper::Whisper;

use crate::files::ct2::Ct2Error;

/// Errors from loading Whisper or transcribing audio.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    /// The CTranslate2 model file could not be read or is corrupt.
    #[error(transparent)]
    Model(#[from] Ct2Error),
    /// A weight exists but has a shape the architecture does not allow.
    #[error("whisper weight {name:?} has shape {actual:?}, expected {expected:?}")]
    WeightShape {
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    /// The model's dimensions are inconsistent (e.g. the vocabulary has no timestamp tokens).
    #[error("whisper model is inconsistent: {0}")]
    InvalidModel(String),
    /// The CTranslate2 `config.json` could not be read or parsed.
    #[error("whisper config {path}: {message}")]
    Config { path: PathBuf, message: String },
    /// The `tokenizer.json` could not be loaded, or decoding failed.
    #[error("whisper tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// Turning sampled token ids back into text failed.
    #[error("whisper token decoding failed: {0}")]
    Decode(String),
    /// A special token the decoder needs is missing from the tokenizer.
    #[error("whisper tokenizer has no token {0:?}")]
    MissingToken(String),
    /// `TranscribeOptions::language` names a language the model does not know.
    #[error("unknown language {0:?} (use a Whisper code such as \"en\" or \"vi\")")]
    UnknownLanguage(String),
    /// Options out of range.
    #[error("invalid transcribe options: {0}")]
    InvalidOptions(String),
    /// The audio contains NaN or infinite samples.
    #[error("invalid audio: {0}")]
    InvalidAudio(String),
    /// A tensor operation failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

/// How to transcribe one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// Whisper language code (`"en"`, `"vi"`, …); `None` detects it on the first 30 s.
    pub language: Option<String>,
    /// Only the first `max_seconds` of audio are transcribed (bounds the work per clip).
    pub max_seconds: f32,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            language: None,
            max_seconds: 600.0,
        }
    }
}

/// One timed piece of a transcript (from a pair of Whisper timestamp tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_s: f32,
    pub end_s: f32,
    pub text: String,
}

/// The result of [`Whisper::transcribe`].
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Language code used for decoding (given or detected).
    pub language: String,
    /// Probability of that language from detection (1.0 when it was given).
    pub language_probability: f32,
    /// Segments in time order; timestamps are monotonic and within the audio.
    pub segments: Vec<Segment>,
    /// All segment texts joined by single spaces.
    pub text: String,
}

/// Wall-clock time spent in the stages of one transcription, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub mel_s: f64,
    pub encoder_s: f64,
    pub decoder_s: f64,
    /// 30 s windows encoded.
    pub windows: usize,
    /// Windows skipped as silence (quiet audio or high no-speech probability).
    pub silent_windows: usize,
    /// Tokens sampled by the decoder (all windows).
    pub tokens: usize,
}
