//! `clipguard train head`: the provisional starter head on the frozen e5 encoder.
//!
//! - harmful: logistic regression on a balanced sample of ViHSD train (offensive or hate =
//!   harmful) plus the seed's TikTok train table, threshold tuned for F1 on the validation
//!   splits (ViHSD dev sample + the seed's eval split) — never on a test split;
//! - hate_harassment: logistic regression on the ViHSD sample alone (its labels are exactly
//!   offensive / hateful language);
//! - the other categories: prototype heads from the keyword rules' phrases, with the cosine
//!   shift set where only 0.5 % of safe validation texts would score above 0.5.
//!
//! #4 replaces this with fine-tuned top layers; the result is committed as
//! `models/starter/text-head.json` so a fresh clone works without the datasets.

use crate::datasets::{self, Example};
use crate::metrics::{self, Report};
use clipguard_core::Category;
use clipguard_models::text::encoder::{E5Encoder, Prefix};
use clipguard_models::text::head::{
    CategoryHead, LogRegOptions, TextHead, max_cosine, train_logreg,
};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct StarterOptions {
    pub vihsd_train: usize,
    pub vihsd_dev: usize,
    pub seed: u64,
}

impl Default for StarterOptions {
    fn default() -> Self {
        StarterOptions {
            vihsd_train: 2000,
            vihsd_dev: 500,
            seed: 7,
        }
    }
}

#[derive(Debug)]
pub struct StarterResult {
    pub head: TextHead,
    pub reports: BTreeMap<String, Report>,
}

#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    #[error("encoder: {0}")]
    Encoder(String),
    #[error("rules: {0}")]
    Rules(String),
}

fn embed(
    encoder: &E5Encoder,
    texts: &[&str],
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Vec<f32>>, StarterError> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(16) {
        out.extend(
            encoder
                .embed(chunk, Prefix::Query)
                .map_err(|e| StarterError::Encoder(e.to_string()))?,
        );
        progress(out.len(), texts.len());
    }
    Ok(out)
}

/// Phrases per category from a rules TOML (`[[rule]] category, phrases`).
pub(crate) fn rule_phrases(
    rules_toml: &str,
) -> Result<BTreeMap<Category, Vec<String>>, StarterError> {
    let v: toml::Value =
        toml::from_str(rules_toml).map_err(|e| StarterError::Rules(e.to_string()))?;
    let mut out: BTreeMap<Category, Vec<String>> = BTreeMap::new();
    for rule in v
        .get("rule")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let Some(cat) = rule
            .get("category")
            .and_then(|c| c.as_str())
            .and_then(|c| c.parse().ok())
        else {
            continue;
        };
        let phrases = rule
            .get("phrases")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten();
        out.entry(cat)
            .or_default()
            .extend(phrases.filter_map(|p| p.as_str().map(str::to_string)));
    }
    Ok(out)
}

pub(crate) fn quantile(mut v: Vec<f32>, q: f32) -> f32 {
    if v.is_empty() {
        return 1.0;
    }
    v.sort_by(f32::total_cmp);
    let i = ((v.len() - 1) as f32 * q).round() as usize;
    v[i.min(v.len() - 1)]
}

pub fn train_starter(
    encoder: &E5Encoder,
    datasets_root: &Path,
    rules_toml: &str,
    options: &StarterOptions,
    progress: &dyn Fn(&str, usize, usize),
) -> Result<StarterResult, StarterError> {
    let vihsd = datasets::subsample(
        &datasets::for_training(datasets_root, "vihsd", "train")?,
        options.vihsd_train,
        options.seed,
    );
    let seed_train = datasets::for_training(datasets_root, "seed-tiktok", "train")?;
    let vihsd_dev = datasets::subsample(
        &datasets::for_training(datasets_root, "vihsd", "dev")?,
        options.vihsd_dev,
        options.seed,
    );
    let seed_eval = datasets::for_training(datasets_root, "seed-tiktok", "eval")?;
    let texts = |e: &[Example]| e.iter().map(|x| x.text.clone()).collect::<Vec<_>>();
    let run = |name: &str, ex: &[Example]| -> Result<Vec<Vec<f32>>, StarterError> {
        let t = texts(ex);
        let refs: Vec<&str> = t.iter().map(String::as_str).collect();
        embed(encoder, &refs, &|d, n| progress(name, d, n))
    };
    let x_vihsd = run("vihsd-train", &vihsd)?;
    let x_seed = run("seed-train", &seed_train)?;
    let x_vdev = run("vihsd-dev", &vihsd_dev)?;
    let x_seval = run("seed-eval", &seed_eval)?;
    let labels = |e: &[Example]| e.iter().map(|x| x.harmful).collect::<Vec<_>>();

    let x_train: Vec<Vec<f32>> = x_vihsd.iter().chain(&x_seed).cloned().collect();
    let y_train: Vec<bool> = labels(&vihsd)
        .into_iter()
        .chain(labels(&seed_train))
        .collect();
    let harmful = train_logreg(&x_train, &y_train, LogRegOptions::default());
    let x_val: Vec<Vec<f32>> = x_vdev.iter().chain(&x_seval).cloned().collect();
    let y_val: Vec<bool> = labels(&vihsd_dev)
        .into_iter()
        .chain(labels(&seed_eval))
        .collect();
    let val_scores: Vec<f32> = x_val.iter().map(|x| harmful.prob(x)).collect();
    let threshold = metrics::best_threshold(&val_scores, &y_val);

    let mut reports = BTreeMap::new();
    let score = |x: &[Vec<f32>]| x.iter().map(|v| harmful.prob(v)).collect::<Vec<f32>>();
    reports.insert(
        "validation".into(),
        metrics::report(&val_scores, &y_val, threshold),
    );
    reports.insert(
        "vihsd-dev".into(),
        metrics::report(&score(&x_vdev), &labels(&vihsd_dev), threshold),
    );
    reports.insert(
        "seed-eval".into(),
        metrics::report(&score(&x_seval), &labels(&seed_eval), threshold),
    );

    let mut categories = BTreeMap::new();
    let hate = train_logreg(&x_vihsd, &labels(&vihsd), LogRegOptions::default());
    categories.insert(Category::HateHarassment, CategoryHead::Linear(hate));
    let safe_val: Vec<&Vec<f32>> = x_val
        .iter()
        .zip(&y_val)
        .filter(|(_, y)| !**y)
        .map(|(x, _)| x)
        .collect();
    for (category, phrases) in rule_phrases(rules_toml)? {
        if category == Category::HateHarassment {
            continue;
        }
        let refs: Vec<&str> = phrases.iter().map(String::as_str).collect();
        let prototypes = embed(encoder, &refs, &|_, _| {})?;
        let best: Vec<f32> = safe_val
            .iter()
            .map(|x| max_cosine(&prototypes, x))
            .collect();
        let shift = quantile(best, 0.995);
        categories.insert(
            category,
            CategoryHead::Prototype {
                prototypes,
                scale: 40.0,
                shift,
            },
        );
    }
    let data: Vec<Example> = vihsd.iter().chain(&seed_train).cloned().collect();
    let fingerprint = datasets::fingerprint(&data);
    let mut notes = BTreeMap::new();
    notes.insert("data_fingerprint".into(), fingerprint.clone());
    notes.insert(
        "training".into(),
        format!(
            "frozen encoder; logistic harmful head on {} ViHSD-train + {} seed-train texts; threshold tuned on {} validation texts (ViHSD dev sample + seed eval split); no test split used",
            vihsd.len(),
            seed_train.len(),
            y_val.len()
        ),
    );
    for (name, r) in &reports {
        notes.insert(format!("f1_harmful.{name}"), format!("{:.3}", r.f1_harmful));
        notes.insert(format!("auc.{name}"), format!("{:.3}", r.auc));
    }
    Ok(StarterResult {
        head: TextHead {
            version: format!("head-provisional-{fingerprint}"),
            kind: "provisional".into(),
            encoder: encoder.version(),
            dim: encoder.dim(),
            harmful,
            threshold,
            categories,
            notes,
        },
        reports,
    })
}
