//! Evaluating a text classifier on labelled texts: scores through the same
//! [`TextClassifier::predict`] production uses, the metrics at a threshold fixed beforehand
//! (the bundle's, tuned on validation data — never on the evaluated split), the
//! precision–recall curve and the confusion matrix.

use crate::datasets::Example;
use crate::metrics::{self, Report};
use clipguard_core::Category;
use clipguard_models::text::classifier::{TextClassifier, TextPrediction};
use clipguard_models::text::encoder::EncoderError;
use serde::{Deserialize, Serialize};

/// Which score is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Score {
    /// The harmful probability (the head's own scale; its threshold is `head.threshold`).
    Harmful,
    /// A category's probability (threshold 0.5).
    Category(Category),
}

impl Score {
    pub fn of(self, p: &TextPrediction) -> f32 {
        match self {
            Score::Harmful => p.raw_harmful,
            Score::Category(c) => p.categories.get(&c).copied().unwrap_or(0.0),
        }
    }
}

/// Predictions for every example, `batch` texts per call; `progress(done, total)`.
pub fn predict_all(
    classifier: &TextClassifier,
    examples: &[Example],
    batch: usize,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<TextPrediction>, EncoderError> {
    let mut out = Vec::with_capacity(examples.len());
    for part in examples.chunks(batch.max(1)) {
        let texts: Vec<&str> = part.iter().map(|e| e.text.as_str()).collect();
        out.extend(classifier.predict(&texts)?);
        progress(out.len(), examples.len());
    }
    Ok(out)
}

/// One point of the precision–recall curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
}

/// Precision and recall at every distinct score used as the threshold, by decreasing
/// threshold (recall rising).
pub fn pr_curve(scores: &[f32], truth: &[bool]) -> Vec<PrPoint> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let positives = truth.iter().filter(|t| **t).count().max(1) as f64;
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut out = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == s {
            if truth[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push(PrPoint {
            threshold: s,
            precision: tp as f64 / (tp + fp) as f64,
            recall: tp as f64 / positives,
        });
    }
    out
}

/// The JSON `clipguard eval --json` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSummary {
    #[serde(flatten)]
    pub report: Report,
    pub model: String,
    pub dataset: String,
    pub score: String,
    /// Where the threshold came from (`bundle (tuned on seed-tiktok/eval)`, `--threshold`).
    pub threshold_source: String,
    /// Best F1 over all thresholds on this split: an optimistic ceiling, for reference only
    /// (choosing the threshold on the evaluated split is not allowed for the headline number).
    pub oracle_f1: f64,
    pub seconds: f64,
}

/// Metrics of `scores` at `threshold`, plus the oracle-threshold F1 for reference.
pub fn evaluate(scores: &[f32], truth: &[bool], threshold: f32) -> (Report, f64) {
    let report = metrics::report(scores, truth, threshold);
    let oracle = metrics::report(scores, truth, metrics::best_threshold(scores, truth)).f1_harmful;
    (report, oracle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_curve_walks_thresholds_downwards() {
        let s = [0.9, 0.8, 0.8, 0.3];
        let t = [true, false, true, false];
        let c = pr_curve(&s, &t);
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].precision, c[0].recall), (1.0, 0.5));
        assert_eq!((c[1].precision, c[1].recall), (2.0 / 3.0, 1.0));
        assert_eq!((c[2].precision, c[2].recall), (0.5, 1.0));
        let (r, oracle) = evaluate(&s, &t, 0.85);
        assert_eq!(r.confusion, [[2, 0], [1, 1]]);
        assert!(oracle >= r.f1_harmful);
    }
}
