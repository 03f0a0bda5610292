//! `status`: what is queued, done, failed and parked.

use clipguard_core::Config;
use clipguard_core::stage::Store;
use clipguard_pipeline::topology::open_stores;
use std::process::ExitCode;

pub async fn status(config: Config, json: bool) -> anyhow::Result<ExitCode> {
    let (store, queue_store) = open_stores(&config).await?;
    let queue = queue_store.stats().await?;
    let verdicts = store.verdict_stats().await?;
    let dead = queue_store.dead_letters(20).await?;
    if json {
        let dead: Vec<_> = dead
            .iter()
            .map(|d| serde_json::json!({"video_id": d.key, "attempts": d.attempts, "error": d.last_error}))
            .collect();
        println!(
            "{}",
            serde_json::json!({ "queue": queue, "verdicts": verdicts, "dead_letters": dead })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("data:          {}", config.data.dir.display());
    println!(
        "queue depth:   {} ({} in flight)",
        queue.depth, queue.in_flight
    );
    println!("videos:        {}", verdicts.videos);
    println!(
        "processed:     {} ({} harmful, {} safe)",
        verdicts.processed, verdicts.harmful, verdicts.safe
    );
    println!("failed:        {}", verdicts.failed);
    println!("dead letters:  {}", queue.dead_letters);
    for d in dead {
        println!(
            "  {} after {} attempt(s): {}",
            d.key,
            d.attempts,
            d.last_error.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
