//! `retrain`: train → register → promotion gate, in one command. The bundle goes to
//! `<data>/runs/<UTC time>/bundle` (whatever `--out` says), so every candidate stays on disk
//! beside the registry's copy. Reviewers' labels (the `reviews` table) are exported to
//! `<run>/reviews.csv` and added to the training rows.
//!
//! First, the fusion combiner is refitted on the same labels and put to its own gate (it takes
//! seconds and needs no dataset); too few labels only skip that step.

use crate::cli::{FusionLabelArgs, TrainFusionArgs, TrainTextArgs};
use clipguard_core::Config;
use clipguard_core::manifest::names::TEXT;
use clipguard_pipeline::topology::open_stores;
use clipguard_pipeline::topology::registry::{gate_policy, open_registry_only};
use clipguard_registry::{Action, gate};
use std::process::ExitCode;

pub async fn retrain(
    config: Config,
    mut train: TrainTextArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let run = config
        .data
        .dir
        .join("runs")
        .join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string());
    refit_fusion(&config, &run).await;
    let bundle = run.join("bundle");
    train.out = bundle.clone();
    if let Some(csv) = export_review_labels(&config, &run).await? {
        train.extra.push(csv);
    }
    let trained = super::train::train_text(config.clone(), train).await?;
    if trained != ExitCode::SUCCESS {
        return Ok(trained);
    }
    let registry = open_registry_only(&config).await?;
    let registered = registry.register(&bundle).await?;
    let decision = gate::promote(
        registry.as_ref(),
        TEXT,
        &registered.version,
        &gate_policy(&config),
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string(&decision)?);
    } else {
        println!("{decision}");
    }
    Ok(if decision.action == Action::Refused {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// `train fusion --promote` on the reviewers' labels into `<run>/fusion`; the outcome is
/// printed, and a failure does not stop the text model's retraining.
async fn refit_fusion(config: &Config, run: &std::path::Path) {
    let fit = clipguard_pipeline::decide::fit::FitOptions::default();
    let args = TrainFusionArgs {
        out: Some(run.join("fusion")),
        folds: fit.folds,
        iterations: fit.iterations,
        l2: fit.l2,
        register: true,
        promote: true,
        labels: FusionLabelArgs {
            labels: None,
            id_col: "video_id".into(),
            label_col: "label".into(),
            harmful_values: vec!["1".into(), "harmful".into()],
        },
    };
    match super::fusion::train_fusion(config.clone(), args).await {
        Ok(code) if code == ExitCode::SUCCESS => eprintln!("fusion: refitted and promoted"),
        Ok(_) => eprintln!("fusion: refitted; the gate kept the champion"),
        Err(e) => eprintln!("fusion: not refitted: {e:#}"),
    }
}

/// Reviewers' labels as `<run>/reviews.csv` (`video_id,text,label`), or `None` when there are
/// none yet.
async fn export_review_labels(
    config: &Config,
    run: &std::path::Path,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    let (store, _) = open_stores(config).await?;
    let labels = store.review_labels().await?;
    if labels.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(run)?;
    let path = run.join("reviews.csv");
    let mut out = csv::Writer::from_path(&path)?;
    out.write_record(["video_id", "text", "label"])?;
    for (id, text, harmful) in &labels {
        out.write_record([id.as_str(), text.as_str(), if *harmful { "1" } else { "0" }])?;
    }
    out.flush()?;
    eprintln!(
        "reviewers' labels: {} row(s) in {}",
        labels.len(),
        path.display()
    );
    Ok(Some(path))
}
