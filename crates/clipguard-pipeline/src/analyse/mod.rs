//! Analyse: turn a stored video into an [`AnalysisInput`] (probe, sampled frames, audio) and run
//! every analyser on it concurrently.
//!
//! Preparation errors (an unreadable file, a duration over the limit) and analyser errors are
//! returned as errors, never swallowed: the decide stage turns them into a `failed` verdict.

pub mod broken;
pub mod ffmpeg;
pub mod keywords;
pub mod live_rules;
pub mod models;
pub mod ocr;
pub mod speech;
pub mod text;
pub mod vision;

use crate::decide::fusion::FusionParams;
use arc_swap::ArcSwap;
use clipguard_core::config::{CascadeConfig, Config, DecideConfig};
use clipguard_core::error::Classify;
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use clipguard_core::{Evidence, EvidenceKind, Modality, StageError, Video};
use clipguard_models::text::classifier::TextClassifier;
use clipguard_models::thread::ModelHandle;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The analysers the worker runs, and the version string that keys their verdicts.
///
/// A cascade: the cheap analysers (rules, text model, frames) run first, all at once; the
/// expensive ones (speech, OCR) run after them only when the cheap verdict is uncertain
/// (`cascade.uncertain_low ≤ score < cascade.uncertain_high`) or they are listed in
/// `cascade.always_on`. A skipped analyser leaves a note in the evidence.
#[derive(Clone)]
pub struct AnalyserSet {
    cheap: Vec<Arc<dyn Analyser>>,
    expensive: Vec<Arc<dyn Analyser>>,
    cascade: CascadeConfig,
    /// Swapped whole when the `fusion` champion moves; each video takes one snapshot.
    fusion: Arc<ArcSwap<FusionParams>>,
    /// Swapped when an admin saves new thresholds.
    decide: Arc<ArcSwap<DecideConfig>>,
    /// The keyword rules slot (swapped when an admin saves new rules).
    pub rules: Arc<live_rules::LiveRules>,
    /// ffmpeg's version: frames and audio depend on it.
    ffmpeg_version: String,
    /// The text model thread, for the hot-swap watcher (`None` when the model is off).
    pub text_model: Option<ModelHandle<TextClassifier>>,
}

impl std::fmt::Debug for AnalyserSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyserSet")
            .field("versions", &self.versions())
            .finish()
    }
}

/// What the analysers start on besides the config: the registry's champions (text model,
/// fusion) and the settings saved from the dashboard (rules, thresholds).
pub struct InForce {
    pub text: Option<models::TextStart>,
    pub fusion: FusionParams,
    /// `None`: the rules file (or the built-in rules) the config names.
    pub rules: Option<keywords::KeywordRules>,
    pub decide: DecideConfig,
}

impl InForce {
    /// Nothing from a registry or a store: the config and the built-in parameters.
    pub fn from_config(config: &Config) -> Self {
        InForce {
            text: None,
            fusion: FusionParams::default(),
            rules: None,
            decide: config.decide.clone(),
        }
    }
}

/// What preparation found out, kept as evidence for the reviewer.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub input: Option<AnalysisInput>,
    pub notes: Vec<Evidence>,
}

impl AnalyserSet {
    /// The built-in analysers configured by `config`. An enabled analyser that cannot start
    /// (a missing model, no tesseract) is installed as [`broken::Broken`]: every video then
    /// fails with the reason, instead of silently losing that analyser.
    pub async fn from_config(config: &Config) -> Result<AnalyserSet, StageError> {
        Self::build(config, InForce::from_config(config)).await
    }

    /// [`Self::from_config`] starting on what the registry and the store say is in force.
    pub async fn build(config: &Config, start: InForce) -> Result<AnalyserSet, StageError> {
        let InForce {
            text,
            fusion,
            rules,
            decide,
        } = start;
        let rules = match rules {
            Some(rules) => rules,
            None => keywords::KeywordRules::load(&config.rules)
                .map_err(|e| StageError::input(format!("keyword rules: {e}")))?,
        };
        let rules = Arc::new(live_rules::LiveRules::new(rules));
        let ffmpeg_version = ffmpeg::version()
            .await
            .unwrap_or_else(|e| format!("unavailable ({e})"));
        let models::TextParts {
            judge,
            analyser: text_analyser,
            handle: text_model,
        } = models::text_judge(config, rules.clone(), text).await;
        let mut cheap: Vec<Arc<dyn Analyser>> = vec![rules.clone()];
        cheap.extend(text_analyser);
        if config.vision.enabled {
            let loaded = {
                let config = config.clone();
                tokio::task::spawn_blocking(move || models::load_vision(&config))
                    .await
                    .unwrap_or_else(|e| {
                        Err(StageError::internal(format!("loading open-nsfw: {e}")))
                    })
            };
            cheap.push(match loaded {
                Ok(handle) => Arc::new(vision::FramesAnalyser { handle }),
                Err(e) => Arc::new(broken::Broken::new(vision::ANALYSER_NAME, e.message)),
            });
        }
        let mut expensive: Vec<Arc<dyn Analyser>> = Vec::new();
        if config.speech.enabled {
            let loaded = {
                let config = config.clone();
                tokio::task::spawn_blocking(move || models::load_speech(&config))
                    .await
                    .unwrap_or_else(|e| Err(StageError::internal(format!("loading whisper: {e}"))))
            };
            expensive.push(match loaded {
                Ok(handle) => Arc::new(speech::SpeechAnalyser {
                    handle,
                    judge: judge.clone(),
                    config: config.speech.clone(),
                }),
                Err(e) => Arc::new(broken::Broken::new(models::SPEECH_ANALYSER, e.message)),
            });
        }
        if config.ocr.enabled {
            expensive.push(
                match ocr::OcrAnalyser::new(config.ocr.clone(), judge.clone()).await {
                    Ok(a) => Arc::new(a),
                    Err(e) => Arc::new(broken::Broken::new(ocr::ANALYSER_NAME, e.message)),
                },
            );
        }
        Ok(AnalyserSet {
            cheap,
            expensive,
            cascade: config.cascade.clone(),
            fusion: Arc::new(ArcSwap::from_pointee(fusion)),
            decide: Arc::new(ArcSwap::from_pointee(decide)),
            rules,
            ffmpeg_version,
            text_model,
        })
    }

    /// A set with the given cheap analysers only (tests).
    pub fn with_analysers(analysers: Vec<Arc<dyn Analyser>>, ffmpeg_version: String) -> Self {
        let config = clipguard_core::Config::default();
        let rules = keywords::KeywordRules::load(&config.rules).expect("the built-in rules load");
        AnalyserSet {
            cheap: analysers,
            expensive: Vec::new(),
            cascade: config.cascade,
            fusion: Arc::new(ArcSwap::from_pointee(FusionParams::default())),
            decide: Arc::new(ArcSwap::from_pointee(config.decide)),
            rules: Arc::new(live_rules::LiveRules::new(rules)),
            ffmpeg_version,
            text_model: None,
        }
    }

    /// The fusion parameters decide uses now (a snapshot: a swap does not change it).
    pub fn fusion(&self) -> Arc<FusionParams> {
        self.fusion.load_full()
    }

    /// Replaces the fusion parameters for every video decided from now on (hot-swap).
    pub fn swap_fusion(&self, params: FusionParams) {
        self.fusion.store(Arc::new(params));
    }

    /// The thresholds decide uses now (a snapshot).
    pub fn decide_config(&self) -> Arc<DecideConfig> {
        self.decide.load_full()
    }

    pub fn swap_decide(&self, decide: DecideConfig) {
        self.decide.store(Arc::new(decide));
    }

    fn all(&self) -> impl Iterator<Item = &Arc<dyn Analyser>> {
        self.cheap.iter().chain(&self.expensive)
    }

    /// Analyser name → version, including the media decoder.
    pub fn versions(&self) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = self
            .all()
            .map(|a| (a.name().to_string(), a.version()))
            .collect();
        v.insert("ffmpeg".into(), self.ffmpeg_version.clone());
        v.insert("fusion".into(), self.fusion.load().version.clone());
        v
    }

    /// One string naming every analyser version: verdicts are keyed by (video, this).
    pub fn pipeline_version(&self) -> String {
        pipeline_version_of(&self.versions())
    }

    /// [`Self::versions`] with the versions the outputs say actually ran (a model swapped in
    /// while the video was being analysed is recorded as what scored it, not what serves now).
    pub fn versions_used(
        &self,
        outputs: &[AnalyserOutput],
        fusion: &FusionParams,
    ) -> BTreeMap<String, String> {
        let mut versions = self.versions();
        versions.insert("fusion".into(), fusion.version.clone());
        for output in outputs {
            for (name, version) in &output.versions {
                versions.insert(name.clone(), version.clone());
            }
        }
        versions
    }

    /// Runs the cascade; the first error (by analyser order) wins.
    pub async fn run(&self, input: &AnalysisInput) -> Result<Vec<AnalyserOutput>, StageError> {
        let mut outputs = run_all(&self.cheap, input).await?;
        let cheap_score = outputs
            .iter()
            .flat_map(|o| &o.scores)
            .map(|s| s.harmful)
            .fold(0.0f32, f32::max);
        let uncertain =
            (self.cascade.uncertain_low..self.cascade.uncertain_high).contains(&cheap_score);
        let (run, skip): (Vec<_>, Vec<_>) = self
            .expensive
            .iter()
            .cloned()
            .partition(|a| uncertain || self.cascade.always_on.iter().any(|n| n == a.name()));
        outputs.extend(run_all(&run, input).await?);
        if !skip.is_empty() {
            let names: Vec<&str> = skip.iter().map(|a| a.name()).collect();
            outputs.push(AnalyserOutput {
                evidence: vec![info(
                    Modality::Metadata,
                    &format!(
                        "cascade: skipped {} (cheap analysers already scored {cheap_score:.2}, outside [{:.2}, {:.2}))",
                        names.join(", "),
                        self.cascade.uncertain_low,
                        self.cascade.uncertain_high
                    ),
                )],
                ..AnalyserOutput::default()
            });
        }
        Ok(outputs)
    }
}

/// `name=version+…` in name order.
pub fn pipeline_version_of(versions: &BTreeMap<String, String>) -> String {
    versions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("+")
}

async fn run_all(
    analysers: &[Arc<dyn Analyser>],
    input: &AnalysisInput,
) -> Result<Vec<AnalyserOutput>, StageError> {
    let results = futures::future::join_all(analysers.iter().map(|a| a.analyse(input))).await;
    let mut outputs = Vec::with_capacity(results.len());
    for (analyser, result) in analysers.iter().zip(results) {
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
        let frames = ffmpeg::frames(
            path,
            ffmpeg::FrameRequest::for_vision(&config.frames, &probe),
        )
        .await
        .map_err(|e| err("frames", e))?;
        notes.push(info(
            Modality::Frames,
            &format!(
                "{} frames sampled ({}x{}, {:.3} fps)",
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
                "audio extracted: {:.1} s at {} Hz mono",
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
        matched: None,
    }
}
