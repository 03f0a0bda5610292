//! `train head`: the provisional starter text head (see `clipguard_train::starter`).

use crate::cli::TrainCommand;
use anyhow::Context;
use clipguard_core::Config;
use clipguard_models::fetch::{self, ModelStore};
use clipguard_models::text::encoder::{E5Encoder, EncoderOptions};
use clipguard_pipeline::analyse::keywords::BUILTIN_RULES;
use clipguard_train::starter::{StarterOptions, train_starter};
use std::process::ExitCode;

pub async fn train(config: Config, command: TrainCommand) -> anyhow::Result<ExitCode> {
    let TrainCommand::Head { out, vihsd_train } = command;
    let root = config
        .datasets_dir()
        .context("no datasets folder: set CLIPGUARD_DATASETS (it needs vihsd/ and seed-tiktok/)")?;
    let store = ModelStore::new(&config.models.dir);
    let weights = store.path(fetch::E5_WEIGHTS)?;
    let tokenizer = store.path(fetch::E5_TOKENIZER)?;
    let max_tokens = config.text_model.max_tokens;
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let options = EncoderOptions {
            max_tokens,
            ..EncoderOptions::default()
        };
        let encoder = E5Encoder::load(&weights, &tokenizer, options)?;
        let bar = crate::progress::bar(0, "embed");
        let r = train_starter(
            &encoder,
            &root,
            BUILTIN_RULES,
            &StarterOptions {
                vihsd_train,
                ..StarterOptions::default()
            },
            &|name, done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(name.to_string());
            },
        );
        bar.finish_and_clear();
        anyhow::Ok(r?)
    })
    .await??;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string(&result.head)?)?;
    println!(
        "wrote {} ({}) in {:.0} s",
        out.display(),
        result.head.version,
        started.elapsed().as_secs_f64()
    );
    for (name, r) in &result.reports {
        println!(
            "  {name:<11} n={:<5} F1(harmful)={:.3} P={:.3} R={:.3} AUC={:.3} acc={:.3} threshold={:.3}",
            r.n, r.f1_harmful, r.precision, r.recall, r.auc, r.accuracy, r.threshold
        );
    }
    Ok(ExitCode::SUCCESS)
}
