//! `bench asr`: Whisper on one clip's audio (decoded by ffmpeg, not timed), reported as a
//! real-time factor (wall-clock seconds per audio second; `x_realtime` is its inverse) with the time in mel, encoder and
//! decoder.

use super::{BenchError, BenchReport};
use crate::analyse::ffmpeg;
use crate::analyse::models::whisper;
use clipguard_core::config::Config;
use clipguard_models::asr::TranscribeOptions;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct AsrBench {
    /// Any media with an audio track.
    pub input: PathBuf,
    /// Whisper language code; `None` detects it.
    pub language: Option<String>,
    /// Seconds of audio transcribed at most.
    pub max_seconds: f32,
}

pub async fn run(config: &Config, bench: &AsrBench) -> Result<BenchReport, BenchError> {
    let clip = ffmpeg::audio(&bench.input, &config.audio)
        .await
        .map_err(|e| BenchError::Input(format!("{}: {e}", bench.input.display())))?;
    if clip.samples.is_empty() {
        return Err(BenchError::Input(format!(
            "{}: no audio samples",
            bench.input.display()
        )));
    }
    let config = config.clone();
    let bench = bench.clone();
    tokio::task::spawn_blocking(move || {
        let load = Instant::now();
        let model = whisper(&config)?;
        let load = load.elapsed();
        let options = TranscribeOptions {
            language: bench.language.clone(),
            max_seconds: bench.max_seconds,
        };
        let audio_s = (clip.samples.len() as f64 / f64::from(clip.sample_rate))
            .min(f64::from(bench.max_seconds));
        let started = Instant::now();
        let (transcript, timings) = model
            .transcribe_timed(&clip.samples, &options)
            .map_err(BenchError::run)?;
        let elapsed = started.elapsed();
        Ok(BenchReport::new("asr", model.version(), 1, elapsed)
            .latency(&[elapsed])
            .load(load)
            .with("workload", bench.input.display().to_string())
            .with("audio_s", audio_s)
            // RTF as usual: processing time per second of audio (below 1 = faster than real
            // time); `x_realtime` is its inverse.
            .with("rtf", elapsed.as_secs_f64() / audio_s.max(1e-9))
            .with("x_realtime", audio_s / elapsed.as_secs_f64().max(1e-9))
            .with("language", transcript.language.clone())
            .with("words", transcript.text.split_whitespace().count())
            .with("text", transcript.text.clone())
            .with(
                "timings",
                serde_json::json!({
                    "mel_s": timings.mel_s,
                    "encoder_s": timings.encoder_s,
                    "decoder_s": timings.decoder_s,
                    "windows": timings.windows,
                    "silent_windows": timings.silent_windows,
                    "tokens": timings.tokens,
                }),
            ))
    })
    .await
    .map_err(BenchError::run)?
}
