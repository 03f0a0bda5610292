//! `bench text|frames|asr|pipeline|queue`: runs one measurement from `clipguard_pipeline::bench`
//! and prints it (one JSON object with `--json`).

use crate::cli::{BenchCommand, TextMode};
use clipguard_core::Config;
use clipguard_pipeline::bench::{asr, frames, pipeline, queue, text};
use std::process::ExitCode;

pub async fn bench(
    mut config: Config,
    command: BenchCommand,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let report = match command {
        BenchCommand::Text {
            input,
            text_col,
            limit,
            batch,
            concurrency,
            mode,
            precision,
        } => {
            if let Some(p) = precision {
                config.text_model.precision = p;
                config.validate()?;
            }
            let options = text::TextBench {
                input,
                text_col,
                limit,
                batch,
                concurrency,
                mode: match mode {
                    TextMode::Direct => text::TextMode::Direct,
                    TextMode::Served => text::TextMode::Served,
                },
            };
            text::run(&config, &options).await?
        }
        BenchCommand::Frames {
            input,
            limit,
            batch,
            fps,
        } => {
            let options = frames::FramesBench {
                input,
                limit,
                batch,
                fps,
            };
            frames::run(&config, &options).await?
        }
        BenchCommand::Asr {
            input,
            language,
            max_seconds,
        } => {
            let options = asr::AsrBench {
                input,
                language,
                max_seconds,
            };
            asr::run(&config, &options).await?
        }
        BenchCommand::Queue {
            messages,
            batch,
            brokers,
        } => {
            let options = queue::QueueBench {
                messages,
                batch,
                brokers,
            };
            queue::run(&config, &options).await?
        }
        BenchCommand::Pipeline { sources } => {
            let sources = if sources.is_empty() {
                vec![std::env::var("CLIPGUARD_SAMPLES_DIR").unwrap_or_else(|_| "samples".into())]
            } else {
                sources
            };
            pipeline::run(&config, &pipeline::PipelineBench { sources }).await?
        }
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.human());
    }
    Ok(ExitCode::SUCCESS)
}
