//! Training the text model's lexical view ([`clipguard_models::text::lexical`]) and its blend
//! with the e5 logit.
//!
//! The n-gram model is a class-weighted, L2-regularised logistic regression on the seed's
//! training table, fitted by full-batch Adam (convex, so the order of examples does not matter
//! and the result is deterministic). Its blend with e5 is set on the validation split without
//! its labels: both logits standardised by their spread there and averaged with
//! `lexical_weight` (fixed beforehand, not searched); the threshold is then tuned on that split
//! as for e5 alone. Test splits are never read here.

use crate::datasets::Example;
use clipguard_models::text::lexical::{
    Blend, Features, LexicalConfig, LexicalModel, LexicalOptions, Scale, counts, weigh,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LexicalTrainOptions {
    pub features: LexicalOptions,
    /// Inverse regularisation strength (as scikit-learn's `C`: larger fits harder).
    pub c: f64,
    pub iterations: usize,
    pub lr: f64,
    /// The lexical view's share of the blend (0 turns the view off).
    pub weight: f32,
}

impl Default for LexicalTrainOptions {
    fn default() -> Self {
        Self {
            features: LexicalOptions::default(),
            c: 1.0,
            iterations: 400,
            lr: 0.05,
            weight: 0.5,
        }
    }
}

/// Smoothed idf per slot of both views (`ln((1 + n) / (1 + df)) + 1`), 0 under `min_df`.
fn idf(docs: &[[std::collections::HashMap<u32, u32>; 2]], options: &LexicalOptions) -> Vec<f32> {
    let b = options.buckets;
    let mut df = vec![0u32; 2 * b];
    for doc in docs {
        for (view, c) in doc.iter().enumerate() {
            for slot in c.keys() {
                df[view * b + *slot as usize] += 1;
            }
        }
    }
    let n = docs.len() as f32;
    df.iter()
        .map(|&d| {
            if (d as usize) < options.min_df.max(1) {
                0.0
            } else {
                ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0
            }
        })
        .collect()
}

/// Fits the n-gram model on `train` (`harmful` labels).
pub fn train(train: &[Example], options: &LexicalTrainOptions) -> LexicalModel {
    let f = options.features;
    let docs: Vec<_> = train.iter().map(|e| counts(&e.text, &f)).collect();
    let idf = idf(&docs, &f);
    let x: Vec<Features> = docs.iter().map(|d| weigh(d, &idf, f.buckets)).collect();
    let y: Vec<f32> = train
        .iter()
        .map(|e| f32::from(u8::from(e.harmful)))
        .collect();
    let (w, b) = logistic(&x, &y, 2 * f.buckets, options);
    LexicalModel {
        options: f,
        idf,
        w,
        b,
    }
}

/// Balanced class weights; minimises `mean(cᵢ·lossᵢ) + ‖w‖² / (2·C·n)` with Adam.
fn logistic(x: &[Features], y: &[f32], dim: usize, o: &LexicalTrainOptions) -> (Vec<f32>, f32) {
    let n = y.len().max(1) as f64;
    let positives = y.iter().filter(|v| **v > 0.5).count() as f64;
    let class_weight = |label: f32| {
        let count = if label > 0.5 {
            positives
        } else {
            n - positives
        };
        if count == 0.0 { 0.0 } else { n / (2.0 * count) }
    };
    let c: Vec<f64> = y.iter().map(|&l| class_weight(l)).collect();
    let l2 = 1.0 / (o.c.max(1e-9) * n);
    let (mut w, mut b) = (vec![0f64; dim], 0f64);
    let (mut m, mut v) = (vec![0f64; dim + 1], vec![0f64; dim + 1]);
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let mut g = vec![0f64; dim + 1];
    for t in 1..=o.iterations {
        g.iter_mut().for_each(|v| *v = 0.0);
        for ((xi, &yi), &ci) in x.iter().zip(y).zip(&c) {
            let z = xi
                .iter()
                .map(|(s, v)| w[*s as usize] * f64::from(*v))
                .sum::<f64>()
                + b;
            let r = ci * (1.0 / (1.0 + (-z).exp()) - f64::from(yi)) / n;
            for (s, v) in xi {
                g[*s as usize] += r * f64::from(*v);
            }
            g[dim] += r;
        }
        let (bc1, bc2) = (1.0 - beta1.powi(t as i32), 1.0 - beta2.powi(t as i32));
        for k in 0..=dim {
            let param = if k < dim { w[k] } else { b };
            let gk = g[k] + if k < dim { l2 * param } else { 0.0 };
            m[k] = beta1 * m[k] + (1.0 - beta1) * gk;
            v[k] = beta2 * v[k] + (1.0 - beta2) * gk * gk;
            let step = o.lr * (m[k] / bc1) / ((v[k] / bc2).sqrt() + eps);
            if k < dim {
                w[k] -= step;
            } else {
                b -= step;
            }
        }
    }
    (w.into_iter().map(|v| v as f32).collect(), b as f32)
}

/// A trained lexical view and its blend with the e5 logits of the validation split.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub model: LexicalModel,
    pub config: LexicalConfig,
    /// The blended logits of the validation texts.
    pub eval_logits: Vec<f32>,
    /// The lexical view alone on the validation texts (reported next to the blend).
    pub lexical_eval_logits: Vec<f32>,
}

/// Trains on `train`, then sets the blend from the validation texts' logits (`e5_eval`).
pub fn fit(
    train_set: &[Example],
    eval_set: &[Example],
    e5_eval: &[f32],
    options: &LexicalTrainOptions,
) -> Fitted {
    let model = train(train_set, options);
    let lexical_eval_logits: Vec<f32> = eval_set.iter().map(|e| model.logit(&e.text)).collect();
    let blend = Blend {
        e5: Scale::of(e5_eval),
        lexical: Scale::of(&lexical_eval_logits),
        lexical_weight: options.weight,
    };
    let eval_logits = e5_eval
        .iter()
        .zip(&lexical_eval_logits)
        .map(|(a, b)| blend.logit(*a, *b))
        .collect();
    Fitted {
        config: LexicalConfig {
            options: model.options,
            blend,
        },
        model,
        eval_logits,
        lexical_eval_logits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    fn ex(text: &str, harmful: bool) -> Example {
        Example {
            text: text.into(),
            harmful,
            label: u8::from(harmful).to_string(),
        }
    }

    fn corpus() -> Vec<Example> {
        let harmful = [
            "add me on telegram for the casino bonus",
            "casino bonus link in bio, telegram me",
            "cheap pills, telegram handle in bio",
            "win big at the casino tonight",
        ];
        let safe = [
            "what a cute dog, love this",
            "the recipe looks delicious, thanks",
            "love the music in this video",
            "so cute, the dog is dancing",
            "thanks for the recipe, love it",
            "this dance video is so fun",
        ];
        let mut out: Vec<Example> = harmful.iter().map(|t| ex(t, true)).collect();
        out.extend(safe.iter().map(|t| ex(t, false)));
        out
    }

    fn small() -> LexicalTrainOptions {
        LexicalTrainOptions {
            features: LexicalOptions {
                buckets: 1 << 12,
                min_df: 1,
                ..LexicalOptions::default()
            },
            iterations: 200,
            ..LexicalTrainOptions::default()
        }
    }

    #[test]
    fn learns_the_words_that_separate_the_classes_and_generalises_to_new_text() {
        let data = corpus();
        let model = train(&data, &small());
        let scores: Vec<f32> = data.iter().map(|e| model.logit(&e.text)).collect();
        let truth: Vec<bool> = data.iter().map(|e| e.harmful).collect();
        assert_eq!(metrics::report(&scores, &truth, 0.0).auc, 1.0);
        assert!(model.logit("telegram casino bonus here") > 0.0);
        assert!(model.logit("a cute dog dancing to music") < 0.0);
        // The serving path (features from the text) is what training optimised.
        let x = model.features(&data[0].text);
        let direct = clipguard_models::text::lexical::dot(&model.w, model.b, &x);
        assert!((direct - scores[0]).abs() < 1e-6);
    }

    #[test]
    fn training_is_deterministic_and_min_df_drops_rare_slots() {
        let data = corpus();
        assert_eq!(train(&data, &small()), train(&data, &small()));
        let mut o = small();
        o.features.min_df = 100;
        let model = train(&data, &o);
        assert!(model.idf.iter().all(|v| *v == 0.0));
        assert!(model.features("casino").is_empty());
    }

    #[test]
    fn the_blend_is_set_on_validation_logits_and_weight_zero_keeps_e5() {
        let data = corpus();
        let e5: Vec<f32> = (0..data.len()).map(|i| i as f32 - 3.0).collect();
        let mut o = small();
        o.weight = 0.0;
        let fitted = fit(&data, &data, &e5, &o);
        for (a, b) in fitted.eval_logits.iter().zip(&e5) {
            assert!((a - b).abs() < 1e-4);
        }
        o.weight = 0.5;
        let fitted = fit(&data, &data, &e5, &o);
        assert_eq!(fitted.config.blend.lexical_weight, 0.5);
        assert_ne!(fitted.eval_logits, e5);
        assert_eq!(fitted.lexical_eval_logits.len(), data.len());
    }
}
