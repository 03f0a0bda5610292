//! Loading the model analysers from the pinned model files, each on its own model thread.
//! A model that fails to load becomes a [`Broken`] analyser (every video then fails with the
//! reason) — an enabled model is never silently skipped.

use super::broken::Broken;
use super::text::{TextJudge, TextScorer, TextScores};
use async_trait::async_trait;
use clipguard_core::StageError;
use clipguard_core::config::Config;
use clipguard_core::stage::Analyser;
use clipguard_models::asr::Whisper;
use clipguard_models::fetch::{self, ModelStore};
use clipguard_models::text::bundle;
use clipguard_models::text::classifier::TextClassifier;
use clipguard_models::text::encoder::{E5Encoder, EncoderOptions, Precision};
use clipguard_models::text::head::TextHead;
use clipguard_models::thread::{BatchPolicy, ModelHandle};
use clipguard_models::vision::OpenNsfw;
use clipguard_models::{ModelError, ModelSlot};
use std::sync::Arc;
use std::time::Duration;

/// The starter head shipped with the project (`clipguard train head` made it); #4's registry
/// replaces it with trained champions.
pub const STARTER_HEAD: &str = include_str!("../../../../models/starter/text-head.json");

/// The committed starter text bundle (`clipguard train text` made it: fine-tuned top layers +
/// head, see `models/starter/text/manifest.json`), found in the source checkout. When it is
/// missing (a binary copied elsewhere) the provisional head above is used.
pub const STARTER_BUNDLE_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/starter/text");

pub const TEXT_ANALYSER: &str = "text-e5";
pub const SPEECH_ANALYSER: &str = "speech";

fn to_stage(e: ModelError) -> StageError {
    match e {
        ModelError::Missing { .. } | ModelError::Corrupt { .. } => StageError::input(e.to_string()),
        _ => StageError::external(e.to_string()),
    }
}

/// The text classifier behind its model thread.
pub struct E5Scorer {
    handle: ModelHandle<TextClassifier>,
}

#[async_trait]
impl TextScorer for E5Scorer {
    fn name(&self) -> &str {
        TEXT_ANALYSER
    }

    fn version(&self) -> String {
        self.handle.slot().version()
    }

    async fn score(&self, texts: Vec<String>) -> Result<Vec<TextScores>, StageError> {
        let jobs = texts.into_iter().map(|t| self.handle.infer(t));
        futures::future::join_all(jobs)
            .await
            .into_iter()
            .map(|r| {
                r.map(|(p, version)| TextScores {
                    harmful: p.harmful,
                    categories: p.categories,
                    version,
                })
                .map_err(to_stage)
            })
            .collect()
    }
}

pub fn starter_head() -> Result<TextHead, StageError> {
    serde_json::from_str(STARTER_HEAD)
        .map_err(|e| StageError::internal(format!("starter text head: {e}")))
}

/// The e5 encoder from the pinned model file, at the configured precision.
pub fn text_encoder(config: &Config) -> Result<E5Encoder, StageError> {
    let store = ModelStore::new(&config.models.dir);
    let weights = store.path(fetch::E5_WEIGHTS).map_err(to_stage)?;
    let tokenizer = store.path(fetch::E5_TOKENIZER).map_err(to_stage)?;
    let precision = match config.text_model.precision.as_str() {
        "q8" => Precision::Q8,
        "q4" => Precision::Q4,
        "f32" => Precision::F32,
        other => {
            return Err(StageError::input(format!(
                "text_model.precision `{other}`: expected f32, q8 or q4"
            )));
        }
    };
    let options = EncoderOptions {
        precision,
        max_tokens: config.text_model.max_tokens,
        threads: None,
    };
    E5Encoder::load(&weights, &tokenizer, options)
        .map_err(|e| StageError::input(format!("text encoder {}: {e}", weights.display())))
}

/// A text bundle folder (a registry champion, or the committed starter) on the encoder.
pub fn text_classifier_from_bundle(
    config: &Config,
    dir: &std::path::Path,
) -> Result<TextClassifier, StageError> {
    bundle::load(dir, text_encoder(config)?)
        .map_err(|e| StageError::input(format!("text bundle {}: {e}", dir.display())))
}

/// The committed starter bundle when the checkout has it, else the provisional head (no
/// thread): what the text model thread serves when the registry has no champion, and what
/// `clipguard bench text` measures directly.
pub fn text_classifier(config: &Config) -> Result<TextClassifier, StageError> {
    let bundle_dir = std::path::Path::new(STARTER_BUNDLE_DIR);
    if bundle::is_bundle(bundle_dir) {
        return text_classifier_from_bundle(config, bundle_dir);
    }
    Ok(TextClassifier {
        encoder: text_encoder(config)?,
        head: starter_head()?,
        tuned: None,
    })
}

/// The text model to serve first: the registry's champion bundle (fetched locally).
#[derive(Debug, Clone, PartialEq)]
pub struct TextStart {
    pub dir: std::path::PathBuf,
    /// The version recorded on verdicts (see `topology::hot_swap::label`).
    pub label: String,
    /// The registry's version number.
    pub version: String,
}

/// Starts the text model thread (texts from many videos batched by tokens) on the champion,
/// or on the starter when there is none.
pub fn text_thread(
    config: &Config,
    start: Option<&TextStart>,
) -> Result<ModelHandle<TextClassifier>, StageError> {
    let (classifier, version) = match start {
        Some(s) => (
            text_classifier_from_bundle(config, &s.dir)?,
            s.label.clone(),
        ),
        None => {
            let c = text_classifier(config)?;
            let v = c.version();
            (c, v)
        }
    };
    let policy = BatchPolicy {
        max_cost: config.text_model.batch_tokens,
        max_items: 64,
        max_wait: Duration::from_millis(2),
    };
    ModelHandle::spawn(
        "text",
        Arc::new(ModelSlot::new(classifier, version)),
        policy,
    )
    .map_err(to_stage)
}

/// Open-NSFW from the pinned model file (no thread).
pub fn open_nsfw(config: &Config) -> Result<OpenNsfw, StageError> {
    let store = ModelStore::new(&config.models.dir);
    let path = store.path(fetch::OPEN_NSFW).map_err(to_stage)?;
    OpenNsfw::load(&path)
        .map_err(|e| StageError::input(format!("open-nsfw {}: {e}", path.display())))
}

/// Whisper from the pinned model files (no thread).
pub fn whisper(config: &Config) -> Result<Whisper, StageError> {
    let store = ModelStore::new(&config.models.dir);
    let dir = store.whisper_dir().map_err(to_stage)?;
    Whisper::load_dir(&dir)
        .map_err(|e| StageError::input(format!("whisper {}: {e}", dir.display())))
}

/// Loads Open-NSFW and starts its thread (frames from many videos batched together).
pub fn load_vision(config: &Config) -> Result<ModelHandle<OpenNsfw>, StageError> {
    let model = open_nsfw(config)?;
    let version = model.version();
    let policy = BatchPolicy {
        max_cost: config.vision.batch_frames.max(1),
        max_items: config.vision.batch_frames.max(1),
        max_wait: Duration::from_millis(2),
    };
    ModelHandle::spawn("vision", Arc::new(ModelSlot::new(model, version)), policy).map_err(to_stage)
}

/// Loads Whisper and starts its thread.
pub fn load_speech(config: &Config) -> Result<ModelHandle<Whisper>, StageError> {
    let whisper = whisper(config)?;
    let version = whisper.version();
    let policy = BatchPolicy {
        max_cost: 1,
        max_items: 1,
        max_wait: Duration::ZERO,
    };
    ModelHandle::spawn("speech", Arc::new(ModelSlot::new(whisper, version)), policy)
        .map_err(to_stage)
}

/// The text judge, its analyser and the model thread (for hot-swap) when the model is
/// enabled; a load failure is returned as a broken analyser.
pub struct TextParts {
    pub judge: Arc<TextJudge>,
    pub analyser: Option<Arc<dyn Analyser>>,
    pub handle: Option<ModelHandle<TextClassifier>>,
}

pub async fn text_judge(
    config: &Config,
    rules: Arc<super::live_rules::LiveRules>,
    start: Option<TextStart>,
) -> TextParts {
    let rules_only = |rules| Arc::new(TextJudge { rules, model: None });
    if !config.text_model.enabled {
        return TextParts {
            judge: rules_only(rules),
            analyser: None,
            handle: None,
        };
    }
    let loaded = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || text_thread(&config, start.as_ref()))
            .await
            .unwrap_or_else(|e| Err(StageError::internal(format!("loading the text model: {e}"))))
    };
    match loaded {
        Ok(handle) => {
            let judge = Arc::new(TextJudge {
                rules,
                model: Some(Arc::new(E5Scorer {
                    handle: handle.clone(),
                })),
            });
            let analyser: Arc<dyn Analyser> = Arc::new(super::text::TextModelAnalyser {
                judge: judge.clone(),
            });
            TextParts {
                judge,
                analyser: Some(analyser),
                handle: Some(handle),
            }
        }
        Err(e) => TextParts {
            judge: rules_only(rules),
            analyser: Some(Arc::new(Broken::new(TEXT_ANALYSER, e.message))),
            handle: None,
        },
    }
}
