//! One module per subcommand; `dispatch` loads the config once and routes.

mod bench;
mod classify;
mod crawl;
mod doctor;
mod eval;
mod fusion;
mod models;
mod retrain;
mod run;
mod status;
mod train;
mod users;
mod web;

use crate::cli::{Cli, Command, Global};
use anyhow::Context;
use clipguard_core::Config;
use std::process::ExitCode;

/// Defaults < `--config` file < `CLIPGUARD_*` environment < command-line flags.
pub fn load_config(global: &Global) -> anyhow::Result<Config> {
    let mut config = Config::load(global.config.as_deref()).context("loading the configuration")?;
    if let Some(dir) = &global.data {
        config.data.dir = dir.clone();
    }
    if global.allow_private_network {
        config.crawl.allow_private_network = true;
    }
    Ok(config)
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = load_config(&cli.global)?;
    match cli.command {
        Command::Run {
            once,
            addr,
            sources,
        } => run::run(config, once, addr, &sources).await,
        Command::Ingest { sources, requeue } => run::ingest_only(config, &sources, requeue).await,
        Command::Worker { once } => run::worker_only(config, once).await,
        Command::Crawl(args) => crawl::crawl(config, args).await,
        Command::Status { json } => status::status(config, json).await,
        Command::Doctor => doctor::doctor(config).await,
        Command::Train { command } => train::train(config, command).await,
        Command::Retrain { train, json } => retrain::retrain(config, train, json).await,
        Command::Models { command } => models::models(config, command).await,
        Command::Bench { command, json } => bench::bench(config, command, json).await,
        Command::Eval(args) => eval::eval(config, args).await,
        Command::Serve { addr } => web::serve(config, addr).await,
        Command::Users { command } => users::users(config, command).await,
        Command::Classify { target, json } => classify::classify(config, &target, json).await,
    }
}
