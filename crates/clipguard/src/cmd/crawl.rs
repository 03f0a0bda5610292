//! `crawl`: discover with yt-dlp, download what is new, queue it (`clipguard_pipeline::crawl`).

use crate::cli::CrawlArgs;
use clipguard_core::Config;
use clipguard_pipeline::crawl::target::weak_label;
use clipguard_pipeline::crawl::{CrawlReport, CrawlRequest, Target, crawl as run_crawl, jobs};
use clipguard_pipeline::topology::Backends;
use std::process::ExitCode;
use std::time::Duration;

pub async fn crawl(config: Config, args: CrawlArgs) -> anyhow::Result<ExitCode> {
    if args.jobs || args.forever {
        return run_jobs(config, args.forever, args.json).await;
    }
    let targets = Target::all(&args.hashtag, &args.user, &args.urls, &args.search)?;
    anyhow::ensure!(
        !targets.is_empty(),
        "nothing to crawl: give --hashtag, --user, --search or URLs (or --jobs)"
    );
    let request = CrawlRequest {
        targets,
        label: weak_label(args.label.as_deref().unwrap_or(""))?,
        max_per_target: args.max.unwrap_or(config.crawl.max_per_run),
        delay: Duration::from_millis(args.delay_ms.unwrap_or(config.crawl.delay_ms)),
        jitter: Duration::from_millis(config.crawl.jitter_ms),
        job: None,
    };
    let backends = Backends::open(config).await?;
    let report = run_crawl(&backends, &request).await?;
    print_report(&report, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// The configured jobs: the due ones once, or on their schedules until Ctrl-C / SIGTERM.
async fn run_jobs(config: Config, forever: bool, json: bool) -> anyhow::Result<ExitCode> {
    let backends = Backends::open(config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if forever {
        tokio::spawn(async move {
            super::run::wait_for_signal().await;
            let _ = stop.send(true);
        });
    }
    let done = jobs::run(&backends, forever, stopped)
        .await
        .map_err(anyhow::Error::msg)?;
    if done.is_empty() && !json {
        println!("crawl: no job is due");
    }
    for (name, outcome) in done {
        match outcome {
            Ok(report) => {
                if !json {
                    print!("{name}: ");
                }
                print_report(&report, json)?;
            }
            Err(e) => println!("{name}: failed: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &CrawlReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!(
            "crawl: {} found, {} new, {} downloaded, {} queued, {} failed",
            report.found,
            report.new,
            report.downloaded,
            report.queued,
            report.failed.len()
        );
        for (what, why) in &report.failed {
            println!("  failed  {what}: {why}");
        }
    }
    Ok(())
}
