//! `classify FILE|URL`: one verdict, no queue, nothing stored.

use clipguard_core::{Config, Verdict, VerdictStatus};
use clipguard_pipeline::analyse::AnalyserSet;
use clipguard_pipeline::topology::classify::classify as classify_one;
use std::process::ExitCode;

pub async fn classify(config: Config, target: &str, json: bool) -> anyhow::Result<ExitCode> {
    let analysers = AnalyserSet::from_config(&config).await?;
    let verdict = classify_one(target, &analysers, &config).await;
    if json {
        println!("{}", serde_json::to_string(&verdict)?);
    } else {
        print_human(&verdict);
    }
    Ok(match verdict.status {
        VerdictStatus::Ok => ExitCode::SUCCESS,
        VerdictStatus::Failed => ExitCode::from(2),
    })
}

fn print_human(v: &Verdict) {
    let score = v
        .harmful_score
        .map(|s| format!("{s:.2}"))
        .unwrap_or_else(|| "—".into());
    println!(
        "{}: {} (score {score}, threshold {:.2})",
        v.video_id,
        v.label().to_uppercase(),
        v.threshold
    );
    if let Some(reason) = &v.reason {
        println!("  reason: {reason}");
    }
    for (category, score) in &v.categories {
        match score {
            Some(s) => println!("  {category:<18} {s:.2}"),
            None => println!("  {category:<18} not covered"),
        }
    }
    for e in &v.evidence {
        let at = e.time_s.map(|t| format!(" @{t:.1}s")).unwrap_or_default();
        let rule = e
            .rule_id
            .as_deref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        println!("  - {:?}/{:?}{at}{rule}: {}", e.kind, e.modality, e.excerpt);
    }
    for t in &v.texts {
        let end = t.end_s.map(|e| format!("–{e:.1}")).unwrap_or_default();
        println!(
            "  text {:?} @{:.1}{end}s: {}",
            t.modality,
            t.time_s,
            t.text.replace('\n', " / ")
        );
    }
    println!("  versions: {}", v.pipeline_version);
}
