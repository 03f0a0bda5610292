//! Analyse: turn a stored video into an [`AnalysisInput`] (probe, sampled frames, audio) and run
//! every analyser on it concurrently.
//!
//! Preparation errors (an unreadable file, a duration over the limit) and analyser errors are
//! returned as errors, never swallowed: the decide stage turns them into a `failed` verdict.

pub mod ffmpeg;
pub mod keywords;

use clipguard_core::config::Config;
use clipguard_core::error::Classify;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use clipguard_core::{Evidence, EvidenceKind, Modality, StageError, Video};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The analysers the worker runs, and the version string that keys their verdicts.
#[derive(Clone)]
pub struct AnalyserSet {
    analysers: Vec<Arc<dyn Analyser>>,
    /// ffmpeg's version: frames and audio depend on it.
    ffmpeg_version: String,
}

impl std::fmt::Debug for AnalyserSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyserSet")
            .field("versions", &self.versions())
            .finish()
    }
}

/// What preparation found out, kept as evidence for the reviewer.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub input: Option<AnalysisInput>,
    pub notes: Vec<Evidence>,
}

impl AnalyserSet {
    /// The built-in analysers configured by `config` (keyword rules today; models in #3).
    pub async fn from_config(config: &Config) -> Result<AnalyserSet, StageError> {
        let rules = keywords::KeywordRules::load(&config.rules)
            .map_err(|e| StageError::input(format!("keyword rules: {e}")))?;
        let ffmpeg_version = ffmpeg::version()
            .await
            .unwrap_or_else(|e| format!("unavailable ({e})"));
        Ok(AnalyserSet {
            analysers: vec![Arc::new(rules)],
            ffmpeg_version,
        })
    }

    pub fn with_analysers(analysers: Vec<Arc<dyn Analyser>>, ffmpeg_version: String) -> Self {
        AnalyserSet {
            analysers,
            ffmpeg_version,
        }
    }

    /// Analyser name → version, including the media decoder.
    pub fn versions(&self) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = self
            .analysers
            .iter()
            .map(|a| (a.name().to_string(), a.version()))
            .collect();
        v.insert("ffmpeg".into(), self.ffmpeg_version.clone());
        v
    }

    /// One string naming every analyser version: verdicts are keyed by (video, this).
    pub fn pipeline_version(&self) -> String {
        self.versions()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("+")
    }

    /// Runs all analysers concurrently; the first error (by analyser order) wins.
    pub async fn run(&self, input: &AnalysisInput) -> Result<Vec<AnalyserOutput>, StageError> {
        let results =
            futures::future::join_all(self.analysers.iter().map(|a| a.analyse(input))).await;
        let mut outputs = Vec::with_capacity(results.len());
        for (analyser, result) in self.analysers.iter().zip(results) {
            match result {
                Ok(out) => outputs.push(out),
                Err(e) => {
                    return Err(StageError::new(
                        e.class,
                        format!("analyser `{}`: {}", analyser.name(), e.message),
                    ));
                }
            }
        }
        Ok(outputs)
    }
}

/// Probes the media, samples frames and extracts audio. `media` is `None` for a text-only item.
pub async fn prepare(
    video: &Video,
    media: Option<&Path>,
    config: &Config,
) -> Result<Prepared, StageError> {
    let mut notes = Vec::new();
    let Some(path) = media else {
        notes.push(info(
            Modality::Metadata,
            "no media: only the caption and comments were analysed",
        ));
        return Ok(Prepared {
            input: Some(AnalysisInput {
                video: video.clone(),
                media_path: None,
                probe: None,
                frames: Vec::new(),
                audio: None,
            }),
            notes,
        });
    };
    let err =
        |stage: &str, e: ffmpeg::FfmpegError| StageError::new(e.class(), format!("{stage}: {e}"));
    let probe = ffmpeg::probe(path).await.map_err(|e| err("probe", e))?;
    if let Some(d) = probe.duration_s
        && d > config.ingest.max_duration_secs
    {
        return Err(StageError::input(format!(
            "media lasts {d:.0} s, over the {:.0} s limit (ingest.max_duration_secs)",
            config.ingest.max_duration_secs
        )));
    }
    let frames = if probe.has_video {
        let frames = ffmpeg::frames(path, &probe, &config.frames)
            .await
            .map_err(|e| err("frames", e))?;
        notes.push(info(
            Modality::Frames,
            &format!(
                "{} frames sampled ({}x{}, {:.3} fps); no vision model yet, so frames are not scored",
                frames.len(),
                config.frames.width,
                config.frames.height,
                ffmpeg::sampling_fps(&config.frames, probe.duration_s)
            ),
        ));
        frames
    } else {
        notes.push(info(
            Modality::Frames,
            "audio-only post: no frames to sample",
        ));
        Vec::new()
    };
    let audio = if probe.has_audio && config.audio.enabled {
        let clip = ffmpeg::audio(path, &config.audio)
            .await
            .map_err(|e| err("audio", e))?;
        notes.push(info(
            Modality::Audio,
            &format!(
                "audio extracted: {:.1} s at {} Hz mono; no speech model yet, so speech is not scored",
                clip.duration_s(),
                clip.sample_rate
            ),
        ));
        Some(clip)
    } else {
        None
    };
    Ok(Prepared {
        input: Some(AnalysisInput {
            video: video.clone(),
            media_path: Some(path.to_path_buf()),
            probe: Some(probe),
            frames,
            audio,
        }),
        notes,
    })
}

fn info(modality: Modality, text: &str) -> Evidence {
    Evidence {
        kind: EvidenceKind::Info,
        modality,
        category: None,
        time_s: None,
        excerpt: text.to_string(),
        rule_id: None,
        score: None,
    }
}
