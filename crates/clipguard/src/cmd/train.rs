//! `train head`: the provisional starter text head (see `clipguard_train::starter`).
//! `train text`: fine-tuned top e5 layers + head, written as a bundle folder (see
//! `clipguard_train::finetune` and `clipguard_train::bundle`).
//! `train fusion`: see `super::fusion`.

use crate::cli::{TrainCommand, TrainTextArgs};
use anyhow::Context;
use clipguard_core::Config;
use clipguard_models::fetch::{self, ModelStore};
use clipguard_models::text::encoder::{E5Encoder, EncoderOptions};
use clipguard_models::text::segment::SegmentOptions;
use clipguard_pipeline::analyse::keywords::BUILTIN_RULES;
use clipguard_train::finetune::{FinetuneOptions, Progress, RunDirs, TrainSets, finetune};
use clipguard_train::lexical::LexicalTrainOptions;
use clipguard_train::starter::{StarterOptions, train_starter};
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn train(config: Config, command: TrainCommand) -> anyhow::Result<ExitCode> {
    match command {
        TrainCommand::Head { out, vihsd_train } => train_head(config, out, vihsd_train).await,
        TrainCommand::Text(args) => train_text(config, args).await,
        TrainCommand::Fusion(args) => super::fusion::train_fusion(config, args).await,
    }
}

fn datasets_root(config: &Config) -> anyhow::Result<PathBuf> {
    config
        .datasets_dir()
        .context("no datasets folder: set CLIPGUARD_DATASETS (it needs vihsd/ and seed-tiktok/)")
}

async fn train_head(config: Config, out: PathBuf, vihsd_train: usize) -> anyhow::Result<ExitCode> {
    let root = datasets_root(&config)?;
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

pub async fn train_text(config: Config, args: TrainTextArgs) -> anyhow::Result<ExitCode> {
    let root = datasets_root(&config)?;
    let store = ModelStore::new(&config.models.dir);
    let weights = store.path(fetch::E5_WEIGHTS)?;
    let tokenizer = store.path(fetch::E5_TOKENIZER)?;
    let max_tokens = args.max_tokens.unwrap_or(config.text_model.max_tokens);
    let options = FinetuneOptions {
        from_layer: args.from_layer,
        segment: SegmentOptions {
            chunk_chars: args.chunk_chars,
            max_chunks: args.max_chunks,
        },
        top_k: args.top_k,
        epochs: args.epochs,
        patience: args.patience,
        batch_docs: args.batch,
        lr_layers: args.lr_layers,
        lr_head: args.lr_head,
        weight_decay: 0.01,
        vihsd_train: args.vihsd_train,
        vihsd_weight: args.vihsd_weight,
        seed: args.seed,
        max_steps: args.max_steps,
        lexical: LexicalTrainOptions {
            weight: args.lexical_weight,
            ..LexicalTrainOptions::default()
        },
    };
    let cache = args.cache.clone().or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/clipguard/train-cache"))
    });
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| {
        let mut name = args.out.as_os_str().to_owned();
        name.push(".checkpoint");
        PathBuf::from(name)
    });
    let dirs = RunDirs {
        cache,
        checkpoint: Some(checkpoint.clone()),
        resume: args.resume,
    };
    let out = args.out.clone();
    let extra = args.extra.clone();
    let started = std::time::Instant::now();
    let (result, manifest) = tokio::task::spawn_blocking(move || {
        let mut sets = TrainSets::load(&root, options.vihsd_train, options.seed)?;
        for path in &extra {
            let rows = clipguard_train::datasets::read_csv(
                path,
                &clipguard_train::datasets::CsvSpec {
                    text_col: "text".into(),
                    label_col: "label".into(),
                    harmful_values: vec!["1".into()],
                },
            )?;
            eprintln!("extra training rows: {} from {}", rows.len(), path.display());
            sets.seed_train.extend(rows);
        }
        eprintln!(
            "training on seed-tiktok/train {} + vihsd/train {} (sample); validation seed-tiktok/eval {}; vihsd/dev {} reported",
            sets.seed_train.len(),
            sets.vihsd_train.len(),
            sets.seed_eval.len(),
            sets.vihsd_dev.len()
        );
        let encoder = E5Encoder::load(
            &weights,
            &tokenizer,
            EncoderOptions {
                max_tokens,
                ..EncoderOptions::default()
            },
        )?;
        let bar = crate::progress::bar(0, "");
        let result = finetune(
            &encoder,
            &weights,
            &sets,
            BUILTIN_RULES,
            &options,
            &dirs,
            &|p| match p {
                Progress::Stage { name, done, total } => {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                    bar.set_message(name.to_string());
                }
                Progress::Epoch(s) => bar.suspend(|| eprintln!(
                    "epoch {:>2}: loss {}  seed-eval F1 {:.3} AUC {:.3} (threshold {:.3})  {:.0} s{}",
                    s.epoch,
                    s.loss.map_or("-".to_string(), |l| format!("{l:.4}")),
                    s.eval_f1,
                    s.eval_auc,
                    s.threshold,
                    s.seconds,
                    if s.best { "  *best" } else { "" }
                )),
                Progress::Message(m) => bar.suspend(|| eprintln!("{m}")),
            },
        );
        bar.finish_and_clear();
        let result = result?;
        let manifest = clipguard_train::bundle::write(
            &out,
            &result,
            &options,
            env!("CARGO_PKG_VERSION"),
        )?;
        anyhow::Ok((result, manifest))
    })
    .await??;
    let size: u64 = manifest
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(args.out.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "wrote {} ({}, {:.1} MB) in {:.0} s (cache {:.0} s, training {:.0} s); best epoch {}",
        args.out.display(),
        manifest.version,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        result.seconds.get("cache").copied().unwrap_or_default(),
        result.seconds.get("train").copied().unwrap_or_default(),
        result.best_epoch
    );
    let r = &result.eval;
    println!(
        "  seed-tiktok/eval n={} F1(harmful)={:.3} P={:.3} R={:.3} AUC={:.3} acc={:.3} threshold={:.3} (tuned on this validation split)",
        r.n, r.f1_harmful, r.precision, r.recall, r.auc, r.accuracy, r.threshold
    );
    for (view, r) in &result.views {
        println!(
            "    {view} alone: F1(harmful)={:.3} AUC={:.3} (threshold tuned for it)",
            r.f1_harmful, r.auc
        );
    }
    if let Some(v) = &result.vihsd_dev {
        println!(
            "  vihsd/dev        n={} macro-F1(3 classes)={:.3} acc={:.3} F1 clean/offensive/hate={:.3}/{:.3}/{:.3}; offensive-or-hate F1={:.3} AUC={:.3}",
            v.n,
            v.macro_f1,
            v.accuracy,
            v.f1_per_class[0],
            v.f1_per_class[1],
            v.f1_per_class[2],
            v.binary.f1_harmful,
            v.binary.auc
        );
    }
    println!(
        "  checkpoint: {} (--resume continues it)",
        checkpoint.display()
    );
    Ok(ExitCode::SUCCESS)
}
