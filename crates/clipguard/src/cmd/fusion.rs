//! `train fusion` and `eval --model fusion`: the combiner fitted and judged on labelled videos.
//!
//! A labelled video is a stored `ok` verdict (its analysers' raw scores) plus a label: the
//! reviewers' latest decision by default, or a labels file (`--labels FILE.csv`, a video id or
//! platform id column and a label column). Fitting and cross-validation are in
//! `clipguard_pipeline::decide::fit`; this file gathers the data, writes the bundle, registers
//! it and runs the gate, comparing with the champion re-measured on the same labels.

use crate::cli::{FusionLabelArgs, TrainFusionArgs};
use anyhow::Context;
use clipguard_core::manifest::{ModelManifest, names::FUSION};
use clipguard_core::{Config, VerdictStatus};
use clipguard_pipeline::decide::bundle as fusion_bundle;
use clipguard_pipeline::decide::fit::{self, FitOptions, LabelledVideo};
use clipguard_pipeline::decide::fusion::FusionParams;
use clipguard_pipeline::store::SqlStore;
use clipguard_pipeline::topology::hot_swap::label;
use clipguard_pipeline::topology::open_stores;
use clipguard_pipeline::topology::registry::{bundle_cache, gate_policy, open_registry_only};
use clipguard_registry::gate::{self, Remeasured};
use clipguard_registry::{Action, Registry};
use clipguard_train::datasets::{CsvSpec, read_csv};
use clipguard_train::eval::{EvalSummary, evaluate};
use clipguard_train::metrics::Report;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Labelled videos and the name of the set they form (`reviews@<fingerprint>`, …).
pub struct LabelledSet {
    pub videos: Vec<LabelledVideo>,
    pub name: String,
    /// Labels whose video has no stored `ok` verdict (nothing to fuse).
    pub skipped: usize,
}

/// The labels (reviews, or the file) joined with each video's latest `ok` verdict.
pub async fn labelled_set(
    store: &SqlStore,
    labels: &FusionLabelArgs,
) -> anyhow::Result<LabelledSet> {
    use clipguard_core::stage::Store;
    let (pairs, source) = match &labels.labels {
        None => (store.review_decisions().await?, "reviews".to_string()),
        Some(path) => {
            let spec = CsvSpec {
                text_col: labels.id_col.clone(),
                label_col: labels.label_col.clone(),
                harmful_values: labels.harmful_values.clone(),
            };
            let mut pairs = Vec::new();
            for row in read_csv(path, &spec)? {
                if let Some(id) = store.resolve_video_id(&row.text).await? {
                    pairs.push((id, row.harmful));
                }
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            (pairs, name)
        }
    };
    let mut videos = Vec::new();
    let mut skipped = 0;
    for (video_id, harmful) in pairs {
        match store.latest_verdict(&video_id).await? {
            Some(v) if v.status == VerdictStatus::Ok && !v.modalities.is_empty() => {
                videos.push(LabelledVideo {
                    video_id,
                    scores: v.modalities,
                    harmful,
                })
            }
            _ => skipped += 1,
        }
    }
    let name = format!("{source}@{}", &fit::fingerprint(&videos)[..12]);
    Ok(LabelledSet {
        videos,
        name,
        skipped,
    })
}

fn truth(set: &LabelledSet) -> Vec<bool> {
    set.videos.iter().map(|v| v.harmful).collect()
}

fn scores_of(params: &FusionParams, set: &LabelledSet) -> Vec<f32> {
    set.videos
        .iter()
        .map(|v| params.overall(&v.scores))
        .collect()
}

/// The serving fusion parameters (the champion's, or the built-in ones) and the champion's
/// registry version.
async fn serving(
    config: &Config,
    registry: &dyn Registry,
) -> anyhow::Result<(FusionParams, Option<String>)> {
    Ok(clipguard_pipeline::topology::hot_swap::fusion_start(config, registry).await?)
}

fn report_line(name: &str, r: &Report) -> String {
    format!(
        "{name:<28} F1(harmful)={:.3} P={:.3} R={:.3} AUC={:.3} acc={:.3} at {:.2}",
        r.f1_harmful, r.precision, r.recall, r.auc, r.accuracy, r.threshold
    )
}

pub async fn train_fusion(config: Config, args: TrainFusionArgs) -> anyhow::Result<ExitCode> {
    let (store, _) = open_stores(&config).await?;
    let set = labelled_set(&store, &args.labels).await?;
    let registry = open_registry_only(&config).await?;
    let (base, champion) = serving(&config, registry.as_ref()).await?;
    let options = FitOptions {
        folds: args.folds,
        iterations: args.iterations,
        l2: args.l2,
        ..FitOptions::default()
    };
    let threshold = config.decide.threshold;
    let truth = truth(&set);
    let oof = fit::cross_validate(&base, &set.videos, &options)?;
    let (candidate_report, _) = evaluate(&oof, &truth, threshold);
    let (current_report, _) = evaluate(&scores_of(&base, &set), &truth, threshold);
    let mut fitted = fit::fit(&base, &set.videos, &options)?;
    let fingerprint = fit::fingerprint(&set.videos);
    let now = chrono::Utc::now();
    fitted.version = format!(
        "fusion-{}-{}",
        now.format("%Y%m%dT%H%MZ"),
        &fingerprint[..4]
    );
    fitted.note = format!(
        "fitted by `clipguard train fusion` on {} labelled videos ({}), from {}",
        set.videos.len(),
        set.name,
        base.version
    );
    let out = args.out.clone().unwrap_or_else(|| {
        config
            .data
            .dir
            .join("runs")
            .join(now.format("%Y%m%dT%H%M%SZ").to_string())
            .join("fusion")
    });
    let mut manifest = manifest(
        &set,
        &fitted.version,
        &candidate_report,
        &options,
        &base,
        threshold,
        now,
    );
    // The PR curve and confusion matrix of the cross-validated scores go with the bundle.
    manifest.files = clipguard_train::plots::write_pair(
        &out,
        &format!("fusion, {}-fold CV on {}", options.folds, set.name),
        &oof,
        &truth,
        &candidate_report,
    )?;
    let manifest = fusion_bundle::write(&out, &fitted, manifest)?;
    println!(
        "wrote {} ({}) from {} labelled videos ({} labels without a stored ok verdict skipped)",
        out.display(),
        manifest.version,
        set.videos.len(),
        set.skipped
    );
    println!(
        "  {}",
        report_line(
            &format!("candidate ({}-fold CV)", options.folds),
            &candidate_report
        )
    );
    println!(
        "  {}",
        report_line(&format!("serving {}", base.version), &current_report)
    );
    println!(
        "  reliabilities {:?}; Platt (a, b) = ({:.3}, {:.3})",
        fitted.reliability, fitted.harmful_platt.0, fitted.harmful_platt.1
    );
    if !(args.register || args.promote) {
        return Ok(ExitCode::SUCCESS);
    }
    let registered = registry.register(&out).await?;
    println!("registered fusion v{}", registered.version);
    if !args.promote {
        return Ok(ExitCode::SUCCESS);
    }
    let champion_now = champion.map(|_| Remeasured {
        eval_set: set.name.clone(),
        f1_harmful: current_report.f1_harmful,
    });
    let decision = gate::promote_remeasured(
        registry.as_ref(),
        FUSION,
        &registered.version,
        &gate_policy(&config),
        champion_now,
    )
    .await?;
    println!("{decision}");
    Ok(if decision.action == Action::Refused {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn manifest(
    set: &LabelledSet,
    version: &str,
    r: &Report,
    options: &FitOptions,
    base: &FusionParams,
    threshold: f32,
    now: chrono::DateTime<chrono::Utc>,
) -> ModelManifest {
    let fingerprint = fit::fingerprint(&set.videos);
    ModelManifest {
        name: FUSION.into(),
        modality: "fused".into(),
        version: version.to_string(),
        parent: Some(base.version.clone()),
        base_model: None,
        data_fingerprint: fingerprint,
        data: BTreeMap::from([("labelled_videos".to_string(), set.videos.len() as u64)]),
        metrics: BTreeMap::from([
            ("f1_harmful".to_string(), r.f1_harmful),
            ("precision".to_string(), r.precision),
            ("recall".to_string(), r.recall),
            ("auc".to_string(), r.auc),
            ("accuracy".to_string(), r.accuracy),
            ("n".to_string(), r.n as f64),
        ]),
        eval_set: set.name.clone(),
        thresholds: BTreeMap::from([("harmful".to_string(), threshold)]),
        params: BTreeMap::from([
            ("folds".to_string(), options.folds.to_string()),
            ("iterations".to_string(), options.iterations.to_string()),
            ("l2".to_string(), options.l2.to_string()),
            (
                "metrics".to_string(),
                "out-of-fold (cross-validated) on the labelled set at decide.threshold".to_string(),
            ),
        ]),
        files: Vec::new(),
        code_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: now,
    }
}

/// What `eval --model fusion` scores: a bundle folder, a registry version or alias, or (neither)
/// what serves now.
pub struct FusionEvalTarget<'a> {
    pub bundle: Option<&'a Path>,
    pub version: Option<&'a str>,
}

/// Scores the labelled set with the chosen parameters; returns the summary `eval` prints.
pub async fn eval_fusion(
    config: &Config,
    target: FusionEvalTarget<'_>,
    labels: &FusionLabelArgs,
    threshold: Option<f32>,
    plots: Option<&Path>,
) -> anyhow::Result<EvalSummary> {
    let started = std::time::Instant::now();
    let (store, _) = open_stores(config).await?;
    let set = labelled_set(&store, labels).await?;
    anyhow::ensure!(
        !set.videos.is_empty(),
        "no labelled video with a stored ok verdict ({} labels skipped): review videos or give --labels",
        set.skipped
    );
    let params = match (target.bundle, target.version) {
        (Some(dir), _) => fusion_bundle::load(dir)?,
        (None, Some(version)) => {
            let registry = open_registry_only(config).await?;
            let version = super::models::resolve(registry.as_ref(), FUSION, version).await?;
            let registered = registry.get_version(FUSION, &version).await?;
            let dir: PathBuf = registry
                .fetch(FUSION, &version, &bundle_cache(config))
                .await?;
            let mut p = fusion_bundle::load(&dir).with_context(|| format!("fusion v{version}"))?;
            p.version = label(&registered);
            p
        }
        (None, None) => {
            let registry = open_registry_only(config).await?;
            serving(config, registry.as_ref()).await?.0
        }
    };
    let threshold = threshold.unwrap_or(config.decide.threshold);
    let scores = scores_of(&params, &set);
    let truth = truth(&set);
    let (report, oracle) = evaluate(&scores, &truth, threshold);
    if let Some(dir) = plots {
        clipguard_train::plots::write_pair(
            dir,
            &format!("fusion — {}", set.name),
            &scores,
            &truth,
            &report,
        )?;
    }
    Ok(EvalSummary {
        report,
        model: params.version.clone(),
        dataset: set.name,
        score: "harmful".into(),
        threshold_source: if threshold == config.decide.threshold {
            "decide.threshold".into()
        } else {
            "--threshold".into()
        },
        oracle_f1: oracle,
        seconds: started.elapsed().as_secs_f64(),
    })
}
