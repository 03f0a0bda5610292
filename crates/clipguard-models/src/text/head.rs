//! The text classification head on top of frozen e5 embeddings (384-d, L2-normalised).
//!
//! - `harmful`: logistic regression trained on labelled text (class-weighted, L2, Adam,
//!   full batch, deterministic: same data → same weights);
//! - per category: a linear head when labelled data exists for it, otherwise a prototype head
//!   — the cosine to the nearest embedded example phrase of the category (the keyword rules'
//!   phrases), scaled and shifted through a sigmoid. Prototypes generalise beyond the exact
//!   words the rules match (paraphrases, other spellings) without category labels.
//!
//! The whole head is a small JSON document, shipped as the provisional starter head until
//! #4's fine-tuned bundles replace it.

use clipguard_core::Category;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub w: Vec<f32>,
    pub b: f32,
}

impl Linear {
    pub fn logit(&self, x: &[f32]) -> f32 {
        self.w.iter().zip(x).map(|(w, x)| w * x).sum::<f32>() + self.b
    }

    pub fn prob(&self, x: &[f32]) -> f32 {
        sigmoid(self.logit(x))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CategoryHead {
    Linear(Linear),
    /// `σ(scale · (max cosine to a prototype − shift))`.
    Prototype {
        prototypes: Vec<Vec<f32>>,
        scale: f32,
        shift: f32,
    },
    /// A softmax over `classes` (e.g. ViHSD's clean / offensive / hate); the category's
    /// probability is the total of the `positive` classes.
    Softmax {
        labels: Vec<String>,
        classes: Vec<Linear>,
        positive: Vec<usize>,
    },
}

impl CategoryHead {
    pub fn prob(&self, x: &[f32]) -> f32 {
        match self {
            CategoryHead::Linear(l) => l.prob(x),
            CategoryHead::Prototype {
                prototypes,
                scale,
                shift,
            } => {
                let best = max_cosine(prototypes, x);
                if prototypes.is_empty() {
                    0.0
                } else {
                    sigmoid(scale * (best - shift))
                }
            }
            CategoryHead::Softmax {
                classes, positive, ..
            } => {
                let p = softmax(classes, x);
                positive.iter().filter_map(|i| p.get(*i)).sum()
            }
        }
    }
}

/// Class probabilities of a softmax head.
pub fn softmax(classes: &[Linear], x: &[f32]) -> Vec<f32> {
    let z: Vec<f32> = classes.iter().map(|c| c.logit(x)).collect();
    let max = z.iter().copied().fold(f32::MIN, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = e.iter().sum::<f32>().max(f32::MIN_POSITIVE);
    e.into_iter().map(|v| v / total).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextHead {
    /// e.g. `head-provisional-2026-12-04-ab12cd34`.
    pub version: String,
    /// `provisional` for the starter head, `trained` for #4's.
    pub kind: String,
    pub encoder: String,
    pub dim: usize,
    pub harmful: Linear,
    /// Decision threshold for `harmful`, tuned on validation data.
    pub threshold: f32,
    pub categories: BTreeMap<Category, CategoryHead>,
    /// Training data fingerprint and metrics, for the manifest.
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
}

impl TextHead {
    /// (harmful probability, per-category probabilities) for one embedding.
    pub fn predict(&self, x: &[f32]) -> (f32, BTreeMap<Category, f32>) {
        let cats = self
            .categories
            .iter()
            .map(|(c, h)| (*c, h.prob(x)))
            .collect();
        (self.harmful.prob(x), cats)
    }
}

/// The best dot product of `x` with any prototype (cosine: both are unit length), `f32::MIN`
/// when there is none. What a prototype head scores at inference, and what training
/// calibrates its `shift` on.
pub fn max_cosine(prototypes: &[Vec<f32>], x: &[f32]) -> f32 {
    prototypes
        .iter()
        .map(|p| p.iter().zip(x).map(|(a, b)| a * b).sum::<f32>())
        .fold(f32::MIN, f32::max)
}

pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRegOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// Weigh the classes so each contributes equally to the loss.
    pub balance: bool,
}

impl Default for LogRegOptions {
    fn default() -> Self {
        LogRegOptions {
            epochs: 300,
            learning_rate: 0.05,
            l2: 1e-4,
            balance: true,
        }
    }
}

/// Full-batch logistic regression with Adam. Deterministic (zero init, fixed order).
pub fn train_logreg(x: &[Vec<f32>], y: &[bool], opts: LogRegOptions) -> Linear {
    let dim = x.first().map_or(0, Vec::len);
    let n = x.len().max(1) as f32;
    let pos = y.iter().filter(|v| **v).count().max(1) as f32;
    let neg = (y.len() as f32 - pos).max(1.0);
    let (wp, wn) = if opts.balance {
        (n / (2.0 * pos), n / (2.0 * neg))
    } else {
        (1.0, 1.0)
    };
    let mut w = vec![0.0f32; dim + 1];
    let (mut m, mut v) = (vec![0.0f32; dim + 1], vec![0.0f32; dim + 1]);
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    for t in 1..=opts.epochs {
        let mut g = vec![0.0f32; dim + 1];
        for (xi, yi) in x.iter().zip(y) {
            let z = xi.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>() + w[dim];
            let (target, weight) = if *yi { (1.0, wp) } else { (0.0, wn) };
            let err = (sigmoid(z) - target) * weight;
            for (gj, xj) in g.iter_mut().zip(xi) {
                *gj += err * xj;
            }
            g[dim] += err;
        }
        for j in 0..=dim {
            let reg = if j < dim { opts.l2 * w[j] } else { 0.0 };
            let gj = g[j] / n + reg;
            m[j] = b1 * m[j] + (1.0 - b1) * gj;
            v[j] = b2 * v[j] + (1.0 - b2) * gj * gj;
            let mh = m[j] / (1.0 - b1.powi(t as i32));
            let vh = v[j] / (1.0 - b2.powi(t as i32));
            w[j] -= opts.learning_rate * mh / (vh.sqrt() + eps);
        }
    }
    let b = w.pop().unwrap_or(0.0);
    Linear { w, b }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_regression_separates_a_separable_set_deterministically() {
        let x: Vec<Vec<f32>> = (0..40)
            .map(|i| vec![(i as f32 - 20.0) / 10.0, 1.0])
            .collect();
        let y: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let a = train_logreg(&x, &y, LogRegOptions::default());
        assert_eq!(a, train_logreg(&x, &y, LogRegOptions::default()));
        let correct = x
            .iter()
            .zip(&y)
            .filter(|(xi, yi)| (a.prob(xi) >= 0.5) == **yi)
            .count();
        assert!(correct >= 38, "{correct}/40");
    }

    #[test]
    fn prototype_heads_score_by_nearest_prototype() {
        let h = CategoryHead::Prototype {
            prototypes: vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            scale: 20.0,
            shift: 0.8,
        };
        assert!(h.prob(&[0.0, 1.0]) > 0.95);
        assert!(h.prob(&[0.6, -0.8]) < 0.05);
        let json = serde_json::to_string(&h).unwrap();
        assert!(json.contains("\"kind\":\"prototype\""));
    }

    #[test]
    fn softmax_heads_sum_their_positive_classes() {
        let lin = |w: f32| Linear { w: vec![w], b: 0.0 };
        let h = CategoryHead::Softmax {
            labels: vec!["clean".into(), "offensive".into(), "hate".into()],
            classes: vec![lin(0.0), lin(1.0), lin(1.0)],
            positive: vec![1, 2],
        };
        // z = (0, 1, 1): positive mass 2e / (1 + 2e).
        let e = std::f32::consts::E;
        assert!((h.prob(&[1.0]) - 2.0 * e / (1.0 + 2.0 * e)).abs() < 1e-6);
        assert!((h.prob(&[0.0]) - 2.0 / 3.0).abs() < 1e-6);
        let again: CategoryHead =
            serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(again, h);
    }
}
