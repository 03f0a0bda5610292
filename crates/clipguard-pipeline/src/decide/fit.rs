//! Fitting the fusion combiner on labelled videos (`clipguard train fusion`).
//!
//! The data are stored verdicts whose video a reviewer labelled harmful or safe: each brings the
//! analysers' raw scores (`Verdict::modalities`), which is everything fusion reads, so refitting
//! needs no model inference and takes milliseconds. What is fitted is what [`FusionParams`]
//! holds: one reliability per analyser (the `r` of the noisy-OR) and a Platt scaling `(a, b)`
//! shared by the categories and the harmful score (reviewers label harmful/safe; per-category
//! calibration waits for category labels). The objective is the class-balanced log loss of the
//! video's overall score — exactly the number `decide` compares with its threshold — plus an L2
//! pull towards the starting parameters, so a few dozen labels nudge the combiner instead of
//! overturning it. With ≤ 10 parameters, central-difference gradients and Adam are plenty, and
//! the result is deterministic.
//!
//! [`cross_validate`] gives out-of-fold scores (stratified folds by video id), the honest
//! numbers a candidate is judged by: a combiner is never scored on the labels it was fitted on.

use super::fusion::FusionParams;
use clipguard_core::ModalityScore;
use std::collections::BTreeSet;

/// One reviewed video: the analysers' scores from its stored verdict and the reviewer's label.
#[derive(Debug, Clone)]
pub struct LabelledVideo {
    pub video_id: String,
    pub scores: Vec<ModalityScore>,
    pub harmful: bool,
}

#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Strength of the pull towards the starting parameters.
    pub l2: f32,
    pub iterations: usize,
    pub learning_rate: f32,
    /// Folds of [`cross_validate`].
    pub folds: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 0.02,
            iterations: 300,
            learning_rate: 0.05,
            folds: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(
        "not enough labelled videos to fit the combiner: {harmful} harmful and {safe} safe \
         (need at least {min} of each, each with a stored `ok` verdict); review more videos"
    )]
    TooFewLabels {
        harmful: usize,
        safe: usize,
        min: usize,
    },
}

/// The fewest labels of each class [`fit`] and [`cross_validate`] accept.
pub const MIN_PER_CLASS: usize = 3;

/// Checks there is something to learn from.
pub fn check(data: &[LabelledVideo], folds: usize) -> Result<(), FitError> {
    let harmful = data.iter().filter(|v| v.harmful).count();
    let safe = data.len() - harmful;
    let min = MIN_PER_CLASS.max(folds.min(data.len()));
    if harmful < min || safe < min {
        return Err(FitError::TooFewLabels { harmful, safe, min });
    }
    Ok(())
}

/// The free parameters as one vector: `logit(r)` per analyser, `ln a`, `b`.
struct Layout {
    analysers: Vec<String>,
}

impl Layout {
    fn of(data: &[LabelledVideo]) -> Self {
        let names: BTreeSet<&str> = data
            .iter()
            .flat_map(|v| &v.scores)
            .map(|s| s.analyser.as_str())
            .collect();
        Layout {
            analysers: names.into_iter().map(str::to_string).collect(),
        }
    }

    fn encode(&self, p: &FusionParams) -> Vec<f32> {
        let mut theta: Vec<f32> = self
            .analysers
            .iter()
            .map(|a| logit(p.reliability_of(a)))
            .collect();
        let (a, b) = p.harmful_platt;
        theta.push(a.max(1e-3).ln());
        theta.push(b);
        theta
    }

    fn decode(&self, base: &FusionParams, theta: &[f32]) -> FusionParams {
        let mut p = base.clone();
        for (name, u) in self.analysers.iter().zip(theta) {
            p.reliability.insert(name.clone(), sigmoid(*u));
        }
        let n = self.analysers.len();
        let platt = (theta[n].exp(), theta[n + 1]);
        p.harmful_platt = platt;
        for v in p.platt.values_mut() {
            *v = platt;
        }
        p
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// Class-balanced mean log loss of the overall scores, plus the L2 pull.
fn objective(
    layout: &Layout,
    base: &FusionParams,
    theta: &[f32],
    start: &[f32],
    data: &[LabelledVideo],
    l2: f32,
) -> f32 {
    let params = layout.decode(base, theta);
    let positives = data.iter().filter(|v| v.harmful).count().max(1) as f32;
    let negatives = (data.len() as f32 - positives).max(1.0);
    let mut loss = 0.0;
    for v in data {
        let p = params.overall(&v.scores).clamp(1e-6, 1.0 - 1e-6);
        loss += if v.harmful {
            -p.ln() / positives
        } else {
            -(1.0 - p).ln() / negatives
        };
    }
    let pull: f32 = theta.iter().zip(start).map(|(t, s)| (t - s).powi(2)).sum();
    loss / 2.0 + l2 * pull
}

/// Fits the combiner on `data`, starting from (and pulled towards) `base`.
pub fn fit(
    base: &FusionParams,
    data: &[LabelledVideo],
    options: &FitOptions,
) -> Result<FusionParams, FitError> {
    check(data, 1)?;
    let layout = Layout::of(data);
    let start = layout.encode(base);
    let mut theta = start.clone();
    let (beta1, beta2, eps, h) = (0.9f32, 0.999f32, 1e-8f32, 1e-3f32);
    let mut m = vec![0.0f32; theta.len()];
    let mut s = vec![0.0f32; theta.len()];
    for step in 1..=options.iterations {
        let mut grad = vec![0.0f32; theta.len()];
        for i in 0..theta.len() {
            let mut up = theta.clone();
            up[i] += h;
            let mut down = theta.clone();
            down[i] -= h;
            grad[i] = (objective(&layout, base, &up, &start, data, options.l2)
                - objective(&layout, base, &down, &start, data, options.l2))
                / (2.0 * h);
        }
        for i in 0..theta.len() {
            m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
            s[i] = beta2 * s[i] + (1.0 - beta2) * grad[i] * grad[i];
            let m_hat = m[i] / (1.0 - beta1.powi(step as i32));
            let s_hat = s[i] / (1.0 - beta2.powi(step as i32));
            theta[i] -= options.learning_rate * m_hat / (s_hat.sqrt() + eps);
        }
    }
    Ok(layout.decode(base, &theta))
}

/// Out-of-fold overall scores, in `data`'s order: each video is scored by a combiner fitted
/// without it. Folds are stratified and assigned by video id, so they do not depend on the
/// order the labels arrived in.
pub fn cross_validate(
    base: &FusionParams,
    data: &[LabelledVideo],
    options: &FitOptions,
) -> Result<Vec<f32>, FitError> {
    let folds = options.folds.max(2);
    check(data, folds)?;
    let fold_of = fold_assignment(data, folds);
    let mut scores = vec![0.0f32; data.len()];
    for fold in 0..folds {
        let train: Vec<LabelledVideo> = data
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(v, _)| v.clone())
            .collect();
        let fitted = fit(base, &train, options)?;
        for (i, v) in data.iter().enumerate() {
            if fold_of[i] == fold {
                scores[i] = fitted.overall(&v.scores);
            }
        }
    }
    Ok(scores)
}

/// Round-robin over each class sorted by video id.
fn fold_assignment(data: &[LabelledVideo], folds: usize) -> Vec<usize> {
    let mut out = vec![0usize; data.len()];
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..data.len())
            .filter(|&i| data[i].harmful == class)
            .collect();
        idx.sort_by(|&a, &b| data[a].video_id.cmp(&data[b].video_id));
        for (k, i) in idx.into_iter().enumerate() {
            out[i] = k % folds;
        }
    }
    out
}

/// sha256 over the (video id, label) pairs, sorted: the identity of a labelled set.
pub fn fingerprint(data: &[LabelledVideo]) -> String {
    use sha2::{Digest, Sha256};
    let mut rows: Vec<(&str, bool)> = data
        .iter()
        .map(|v| (v.video_id.as_str(), v.harmful))
        .collect();
    rows.sort();
    let mut h = Sha256::new();
    for (id, harmful) in rows {
        h.update(id.as_bytes());
        h.update(if harmful { b"\x001\n" } else { b"\x000\n" });
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clipguard_core::{Category, Modality};

    fn score(analyser: &str, v: f32) -> ModalityScore {
        ModalityScore {
            modality: Modality::Caption,
            analyser: analyser.into(),
            harmful: v,
            categories: [(Category::Violence, v)].into_iter().collect(),
            timeline: Vec::new(),
        }
    }

    /// `noisy` fires on every video (harmful or not), `good` only on harmful ones: fitting must
    /// trust `good` more than `noisy`, and the fitted combiner must separate the classes better.
    fn data() -> Vec<LabelledVideo> {
        (0..40)
            .map(|i| {
                let harmful = i % 2 == 0;
                let jitter = (i % 7) as f32 / 20.0;
                LabelledVideo {
                    video_id: format!("v{i:02}"),
                    scores: vec![
                        score("noisy", 0.6 + jitter / 2.0),
                        score("good", if harmful { 0.5 + jitter } else { 0.05 }),
                    ],
                    harmful,
                }
            })
            .collect()
    }

    fn log_loss(p: &FusionParams, data: &[LabelledVideo]) -> f32 {
        data.iter()
            .map(|v| {
                let s = p.overall(&v.scores).clamp(1e-6, 1.0 - 1e-6);
                if v.harmful { -s.ln() } else { -(1.0 - s).ln() }
            })
            .sum::<f32>()
            / data.len() as f32
    }

    #[test]
    fn fitting_trusts_the_informative_source_and_lowers_the_loss() {
        let base = FusionParams::default();
        let d = data();
        let fitted = fit(&base, &d, &FitOptions::default()).unwrap();
        assert!(
            fitted.reliability_of("good") > fitted.reliability_of("noisy"),
            "{:?}",
            fitted.reliability
        );
        assert!(log_loss(&fitted, &d) < log_loss(&base, &d) - 0.05);
        // Deterministic.
        assert_eq!(fitted, fit(&base, &d, &FitOptions::default()).unwrap());
    }

    #[test]
    fn cross_validation_scores_every_video_out_of_fold() {
        let d = data();
        let oof = cross_validate(&FusionParams::default(), &d, &FitOptions::default()).unwrap();
        assert_eq!(oof.len(), d.len());
        let mean = |harmful: bool| {
            let s: Vec<f32> = d
                .iter()
                .zip(&oof)
                .filter(|(v, _)| v.harmful == harmful)
                .map(|(_, s)| *s)
                .collect();
            s.iter().sum::<f32>() / s.len() as f32
        };
        assert!(mean(true) > mean(false) + 0.2, "{oof:?}");
    }

    #[test]
    fn too_few_labels_is_a_clear_error() {
        let d: Vec<LabelledVideo> = data().into_iter().take(4).collect();
        let e = cross_validate(&FusionParams::default(), &d, &FitOptions::default()).unwrap_err();
        assert!(e.to_string().contains("review more videos"), "{e}");
    }

    #[test]
    fn fingerprint_ignores_order() {
        let mut d = data();
        let a = fingerprint(&d);
        d.reverse();
        assert_eq!(a, fingerprint(&d));
        d[0].harmful = !d[0].harmful;
        assert_ne!(a, fingerprint(&d));
    }
}
