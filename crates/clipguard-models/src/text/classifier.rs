//! The text classifier: the e5 encoder plus a [`TextHead`], run as a [`BatchModel`] on its own
//! thread. Inputs are batched by token count, so many short captions share one forward pass.
//!
//! Two shapes:
//! - the provisional starter head: one embedding per text from the frozen encoder;
//! - a fine-tuned bundle ([`Tuned`]): each text is cut into chunks of comments
//!   ([`super::segment`]), every chunk runs through the frozen bottom layers and the tuned top
//!   layers, the head scores every chunk and a text's harmful logit is the mean of its `top_k`
//!   highest chunk logits (one spam or scam comment among fifty benign ones is the signal).
//!   With a lexical view ([`super::lexical`]) that logit is blended with the n-gram model's
//!   logit of the whole text.
//!   Training (`clipguard-train`) and evaluation use this same code.

use super::bundle::TextModelConfig;
use super::encoder::{E5Encoder, EncoderError, Prefix, length_groups};
use super::head::{TextHead, sigmoid};
use super::lexical::LexicalModel;
use super::segment;
use super::tuned::{TunedTop, pool};
use crate::ModelError;
use crate::thread::BatchModel;
use clipguard_core::Category;
use std::collections::BTreeMap;

/// One text's scores: harmful probability and per-category probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPrediction {
    /// Harmful probability moved so the head's tuned threshold is 0.5 (the verdict threshold).
    pub harmful: f32,
    pub categories: BTreeMap<Category, f32>,
    /// The head's own harmful probability (compare with `head.threshold`), for evaluation.
    pub raw_harmful: f32,
}

/// Fine-tuned top layers and how texts are chunked (from a bundle).
#[derive(Debug, Clone)]
pub struct Tuned {
    pub top: TunedTop,
    pub config: TextModelConfig,
    /// The n-gram view, blended as `config.lexical` says.
    pub lexical: Option<LexicalModel>,
}

impl Tuned {
    /// A text's harmful logit from its chunks' e5 logits (and its own text, for the lexical
    /// view): evaluation and serving go through here (training sets the blend on the same
    /// [`super::lexical::Blend::logit`]).
    pub fn harmful_logit(&self, chunk_logits: &[f32], text: &str) -> f32 {
        let e5 = top_k_mean(chunk_logits, self.config.top_k);
        match (&self.lexical, &self.config.lexical) {
            (Some(model), Some(l)) => l.blend.logit(e5, model.logit(text)),
            _ => e5,
        }
    }
}

#[derive(Debug)]
pub struct TextClassifier {
    pub encoder: E5Encoder,
    pub head: TextHead,
    /// `None`: the frozen encoder, one embedding per text (the provisional starter head).
    pub tuned: Option<Tuned>,
}

impl TextClassifier {
    pub fn version(&self) -> String {
        format!("{}+{}", self.encoder.version(), self.head.version)
    }

    /// Scores texts (any length; long comment dumps are chunked when the model is tuned).
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<TextPrediction>, EncoderError> {
        let Some(tuned) = &self.tuned else {
            let embeddings = self.encoder.embed(texts, PREFIX)?;
            return Ok(embeddings
                .iter()
                .map(|e| {
                    let (p, categories) = self.head.predict(e);
                    TextPrediction {
                        harmful: recentre(p, self.head.threshold),
                        categories,
                        raw_harmful: p,
                    }
                })
                .collect());
        };
        let mut owner = Vec::new();
        let mut chunks = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            for c in segment::chunks(text, tuned.config.segment) {
                owner.push(i);
                chunks.push(c);
            }
        }
        let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let embeddings = chunk_embeddings(&self.encoder, &tuned.top, &refs)?;
        let mut per_text: Vec<Vec<&Vec<f32>>> = vec![Vec::new(); texts.len()];
        for (o, e) in owner.iter().zip(&embeddings) {
            per_text[*o].push(e);
        }
        Ok(per_text
            .iter()
            .zip(texts)
            .map(|(es, text)| self.aggregate(tuned, es, text))
            .collect())
    }

    /// A text's prediction from its chunks' embeddings (and the text, for the lexical view).
    fn aggregate(&self, tuned: &Tuned, chunks: &[&Vec<f32>], text: &str) -> TextPrediction {
        let k = tuned.config.top_k;
        let logits: Vec<f32> = chunks.iter().map(|e| self.head.harmful.logit(e)).collect();
        let p = sigmoid(tuned.harmful_logit(&logits, text));
        let mut categories = BTreeMap::new();
        for (c, h) in &self.head.categories {
            let logits: Vec<f32> = chunks.iter().map(|e| logit(h.prob(e))).collect();
            categories.insert(*c, sigmoid(top_k_mean(&logits, k)));
        }
        TextPrediction {
            harmful: recentre(p, self.head.threshold),
            categories,
            raw_harmful: p,
        }
    }
}

/// Pooled, L2-normalised embeddings of chunks through the frozen bottom and the tuned top,
/// in input order (chunks grouped by token count as [`E5Encoder::embed`] does).
pub fn chunk_embeddings(
    encoder: &E5Encoder,
    top: &TunedTop,
    chunks: &[&str],
) -> Result<Vec<Vec<f32>>, EncoderError> {
    let lengths = chunks
        .iter()
        .map(|c| encoder.count_tokens(c, PREFIX))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = vec![Vec::new(); chunks.len()];
    for group in length_groups(
        &lengths,
        super::encoder::GROUP_TOKENS,
        super::encoder::GROUP_ITEMS,
    ) {
        let texts: Vec<&str> = group.iter().map(|&i| chunks[i]).collect();
        let states = encoder.hidden_states_at_layer(&texts, PREFIX, top.from_layer)?;
        let states = top.forward(&states)?;
        let pooled = pool(&states.hidden, &states.mask)?.to_vec2::<f32>()?;
        for (&i, v) in group.iter().zip(pooled) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Mean of the `k` largest values (all of them when fewer; 0 when empty).
pub fn top_k_mean(values: &[f32], k: usize) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    v.truncate(k.max(1));
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f32>() / v.len() as f32
    }
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Moves a probability so the head's tuned threshold lands on 0.5 (the verdict threshold):
/// `σ(logit(p) − logit(t))`.
fn recentre(p: f32, threshold: f32) -> f32 {
    sigmoid(logit(p) - logit(threshold))
}

/// E5's training used `query: ` for texts to classify.
pub const PREFIX: Prefix = Prefix::Query;

impl BatchModel for TextClassifier {
    type Input = String;
    type Output = TextPrediction;

    fn cost(&self, input: &String) -> usize {
        // A cheap estimate (the exact count would tokenize twice): ~1 token per 3 bytes,
        // capped at the encoder's budget per window (per chunk when tuned).
        let window = self.encoder.options().max_tokens;
        match &self.tuned {
            None => (input.len() / 3 + 2).min(window),
            Some(t) => (input.len() / 3 + 2).min(window * t.config.segment.max_chunks.max(1)),
        }
    }

    fn run_batch(&self, inputs: Vec<String>) -> Vec<Result<TextPrediction, ModelError>> {
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        match self.predict(&refs) {
            Ok(predictions) => predictions.into_iter().map(Ok).collect(),
            Err(e) => {
                let message = e.to_string();
                inputs
                    .iter()
                    .map(|_| Err(ModelError::runtime("text", &message)))
                    .collect()
            }
        }
    }

    fn warm_up(&self) -> Result<(), ModelError> {
        self.predict(&["warm-up", "khởi động"])
            .map(|_| ())
            .map_err(|e| ModelError::runtime("text", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_mean_and_recentring() {
        assert_eq!(top_k_mean(&[1.0, 5.0, 3.0], 2), 4.0);
        assert_eq!(top_k_mean(&[1.0], 2), 1.0);
        assert_eq!(top_k_mean(&[], 2), 0.0);
        assert!((recentre(0.3, 0.3) - 0.5).abs() < 1e-6);
        assert!(recentre(0.4, 0.3) > 0.5);
    }
}
