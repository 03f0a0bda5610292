//! `crawl`: discover with yt-dlp, download what is new, queue it (`clipguard_pipeline::crawl`).

use clipguard_core::{Config, WeakLabel};
use clipguard_pipeline::crawl::{CrawlRequest, Target, crawl as run_crawl};
use clipguard_pipeline::topology::Backends;
use std::process::ExitCode;
use std::time::Duration;

/// What `clipguard crawl` was asked for.
#[derive(Debug)]
pub struct CrawlArgs {
    pub hashtags: Vec<String>,
    pub users: Vec<String>,
    pub urls: Vec<String>,
    pub label: Option<String>,
    pub max: Option<usize>,
    pub delay_ms: Option<u64>,
    pub json: bool,
}

pub async fn crawl(config: Config, args: CrawlArgs) -> anyhow::Result<ExitCode> {
    let mut targets = Vec::new();
    for h in &args.hashtags {
        targets.push(Target::hashtag(h)?);
    }
    for u in &args.users {
        targets.push(Target::user(u)?);
    }
    for u in &args.urls {
        targets.push(Target::url(u)?);
    }
    anyhow::ensure!(
        !targets.is_empty(),
        "nothing to crawl: give --hashtag, --user or URLs"
    );
    let label = match args.label.as_deref() {
        None => None,
        Some(l) => Some(
            WeakLabel::parse(l)
                .ok_or_else(|| anyhow::anyhow!("--label must be harmful or safe, not `{l}`"))?,
        ),
    };
    let request = CrawlRequest {
        targets,
        label,
        max_per_target: args.max.unwrap_or(config.crawl.max_per_run),
        delay: Duration::from_millis(args.delay_ms.unwrap_or(config.crawl.delay_ms)),
    };
    let backends = Backends::open(config).await?;
    let report = run_crawl(&backends, &request).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
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
    Ok(ExitCode::SUCCESS)
}
