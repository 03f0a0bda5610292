//! `eval --model text`: a text model on labelled texts (see `clipguard_train::eval`);
//! `eval --model fusion`: the combiner on labelled videos (see `super::fusion`). Both print the
//! same summary (`--json`: one object) and write the same plots.

use super::fusion::{FusionEvalTarget, eval_fusion};
use crate::cli::{EvalArgs, EvalModel, FusionLabelArgs};
use anyhow::{Context, bail};
use clipguard_core::manifest::names::TEXT;
use clipguard_core::{Category, Config};
use clipguard_models::fetch::{self, ModelStore};
use clipguard_models::text::bundle;
use clipguard_models::text::encoder::{E5Encoder, EncoderOptions};
use clipguard_pipeline::analyse::models::text_classifier;
use clipguard_pipeline::topology::registry::{bundle_cache, open_registry_only};
use clipguard_train::datasets::{self, CsvSpec};
use clipguard_train::eval::{EvalSummary, Score, evaluate, predict_all};
use clipguard_train::plots;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub async fn eval(config: Config, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let summary = match args.model {
        EvalModel::Text => eval_text(config, &args).await?,
        EvalModel::Fusion => {
            anyhow::ensure!(
                args.dataset.is_none(),
                "--model fusion scores stored videos: give reviewers' labels (the default) or --csv FILE --id-col C --label-col L --harmful-values V"
            );
            let labels = FusionLabelArgs {
                labels: args.csv.clone(),
                id_col: args.id_col.clone(),
                label_col: args.label_col.clone().unwrap_or_else(|| "label".into()),
                harmful_values: args
                    .harmful_values
                    .clone()
                    .unwrap_or_else(|| vec!["1".into(), "harmful".into()]),
            };
            let target = FusionEvalTarget {
                bundle: args.bundle.as_deref(),
                version: args.version.as_deref(),
            };
            eval_fusion(
                &config,
                target,
                &labels,
                args.threshold,
                args.plots.as_deref(),
            )
            .await?
        }
    };
    print_summary(&summary, args.json, args.plots.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

fn print_summary(summary: &EvalSummary, json: bool, plots: Option<&Path>) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
        return Ok(());
    }
    let r = &summary.report;
    println!(
        "{} on {} ({}): n={} F1(harmful)={:.3} P={:.3} R={:.3} AUC={:.3} acc={:.3} threshold={:.3} [{}]",
        summary.model,
        summary.dataset,
        summary.score,
        r.n,
        r.f1_harmful,
        r.precision,
        r.recall,
        r.auc,
        r.accuracy,
        r.threshold,
        summary.threshold_source
    );
    println!(
        "  confusion (rows truth safe/harmful, columns predicted safe/harmful): {:?}",
        r.confusion
    );
    if let Some(dir) = plots {
        println!("  plots: {}/pr_curve.svg, confusion.svg", dir.display());
    }
    Ok(())
}

/// A registered text version (or alias) fetched into the bundle cache.
async fn registered_text_bundle(config: &Config, version: &str) -> anyhow::Result<PathBuf> {
    let registry = open_registry_only(config).await?;
    let version = super::models::resolve(registry.as_ref(), TEXT, version).await?;
    Ok(registry
        .fetch(TEXT, &version, &bundle_cache(config))
        .await?)
}

async fn eval_text(config: Config, args: &EvalArgs) -> anyhow::Result<EvalSummary> {
    let (path, spec, name) = match (&args.dataset, &args.csv) {
        (Some(dataset), _) => {
            let split = args.split.clone().unwrap_or_default();
            let root = config.datasets_dir().context(
                "no datasets folder: set CLIPGUARD_DATASETS (it needs vihsd/ and seed-tiktok/)",
            )?;
            let (path, spec) = datasets::named(&root, dataset, &split)?;
            (path, spec, format!("{dataset}/{split}"))
        }
        (None, Some(csv)) => (
            csv.clone(),
            CsvSpec {
                text_col: args
                    .text_col
                    .clone()
                    .context("--model text with --csv needs --text-col")?,
                label_col: args.label_col.clone().unwrap_or_default(),
                harmful_values: args.harmful_values.clone().unwrap_or_default(),
            },
            csv.display().to_string(),
        ),
        (None, None) => bail!("give --dataset NAME --split SPLIT or --csv FILE"),
    };
    let mut examples = datasets::read_csv(&path, &spec)?;
    if let Some(n) = args.limit {
        examples.truncate(n);
    }
    if examples.is_empty() {
        bail!("{name}: no labelled texts");
    }
    let score = match args.score.as_str() {
        "harmful" => Score::Harmful,
        other => Score::Category(
            other
                .parse::<Category>()
                .map_err(|_| anyhow::anyhow!("--score {other}: not harmful nor a category"))?,
        ),
    };
    let bundle_dir = match &args.version {
        Some(v) => Some(registered_text_bundle(&config, v).await?),
        None => args.bundle.clone(),
    };
    let started = std::time::Instant::now();
    let (predictions, version, head_threshold) = tokio::task::spawn_blocking(move || {
        let classifier = match &bundle_dir {
            Some(dir) => {
                let store = ModelStore::new(&config.models.dir);
                let encoder = E5Encoder::load(
                    &store.path(fetch::E5_WEIGHTS)?,
                    &store.path(fetch::E5_TOKENIZER)?,
                    EncoderOptions {
                        max_tokens: config.text_model.max_tokens,
                        ..EncoderOptions::default()
                    },
                )?;
                bundle::load(dir, encoder)?
            }
            None => text_classifier(&config).map_err(|e| anyhow::anyhow!("{}", e.message))?,
        };
        let bar = crate::progress::bar(examples.len() as u64, "score");
        let p = predict_all(&classifier, &examples, 8, &|d, _| {
            bar.set_position(d as u64)
        })?;
        bar.finish_and_clear();
        anyhow::Ok((
            (p, examples),
            classifier.version(),
            classifier.head.threshold,
        ))
    })
    .await??;
    let (predictions, examples) = predictions;
    let scores: Vec<f32> = predictions.iter().map(|p| score.of(p)).collect();
    let truth: Vec<bool> = examples.iter().map(|e| e.harmful).collect();
    let (threshold, source) = match (args.threshold, score) {
        (Some(t), _) => (t, "--threshold".to_string()),
        (None, Score::Harmful) => (
            head_threshold,
            "the model's (tuned on its validation split)".to_string(),
        ),
        (None, Score::Category(_)) => (0.5, "0.5 (category probability)".to_string()),
    };
    let (report, oracle) = evaluate(&scores, &truth, threshold);
    if let Some(file) = &args.scores {
        write_scores(file, &examples, &scores)?;
    }
    if let Some(dir) = &args.plots {
        plots::write_pair(
            dir,
            &format!("{} — {name}", args.score),
            &scores,
            &truth,
            &report,
        )?;
    }
    Ok(EvalSummary {
        report,
        model: version,
        dataset: name,
        score: args.score.clone(),
        threshold_source: source,
        oracle_f1: oracle,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One row per example: its position in the input, its label, whether that label is harmful
/// and the evaluated score.
fn write_scores(file: &Path, examples: &[datasets::Example], scores: &[f32]) -> anyhow::Result<()> {
    let mut out = String::from("row,label,harmful,score\n");
    for (i, (e, s)) in examples.iter().zip(scores).enumerate() {
        let label = e.label.replace('"', "\"\"");
        out.push_str(&format!("{i},\"{label}\",{},{s}\n", u8::from(e.harmful)));
    }
    std::fs::write(file, out).with_context(|| format!("writing {}", file.display()))
}
