//! `retrain`: train → register → promotion gate, in one command. The bundle goes to
//! `<data>/runs/<UTC time>/bundle` (whatever `--out` says), so every candidate stays on disk
//! beside the registry's copy.

use crate::cli::TrainTextArgs;
use clipguard_core::Config;
use clipguard_core::manifest::names::TEXT;
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
    let bundle = run.join("bundle");
    train.out = bundle.clone();
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
