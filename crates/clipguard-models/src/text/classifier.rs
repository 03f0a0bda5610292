//! The text classifier: the e5 encoder plus a [`TextHead`], run as a [`BatchModel`] on its own
//! thread. Inputs are batched by token count, so many short captions share one forward pass.

use super::encoder::{E5Encoder, Prefix};
use super::head::TextHead;
use crate::ModelError;
use crate::thread::BatchModel;
use clipguard_core::Category;
use std::collections::BTreeMap;

/// One text's scores: harmful probability and per-category probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPrediction {
    pub harmful: f32,
    pub categories: BTreeMap<Category, f32>,
}

#[derive(Debug)]
pub struct TextClassifier {
    pub encoder: E5Encoder,
    pub head: TextHead,
}

impl TextClassifier {
    pub fn version(&self) -> String {
        format!("{}+{}", self.encoder.version(), self.head.version)
    }
}

/// Moves a probability so the head's tuned threshold lands on 0.5 (the verdict threshold):
/// `σ(logit(p) − logit(t))`.
fn recentre(p: f32, threshold: f32) -> f32 {
    let logit = |x: f32| {
        let x = x.clamp(1e-6, 1.0 - 1e-6);
        (x / (1.0 - x)).ln()
    };
    1.0 / (1.0 + (-(logit(p) - logit(threshold))).exp())
}

/// E5's training used `query: ` for texts to classify.
const PREFIX: Prefix = Prefix::Query;

impl BatchModel for TextClassifier {
    type Input = String;
    type Output = TextPrediction;

    fn cost(&self, input: &String) -> usize {
        // A cheap estimate (the exact count would tokenize twice): ~1 token per 3 bytes,
        // capped at the encoder's budget.
        (input.len() / 3 + 2).min(self.encoder.options().max_tokens)
    }

    fn run_batch(&self, inputs: Vec<String>) -> Vec<Result<TextPrediction, ModelError>> {
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        match self.encoder.embed(&refs, PREFIX) {
            Ok(embeddings) => embeddings
                .iter()
                .map(|e| {
                    let (harmful, categories) = self.head.predict(e);
                    Ok(TextPrediction {
                        harmful: recentre(harmful, self.head.threshold),
                        categories,
                    })
                })
                .collect(),
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
        self.encoder
            .embed(&["warm-up", "khởi động"], PREFIX)
            .map(|_| ())
            .map_err(|e| ModelError::runtime("text", e))
    }
}
