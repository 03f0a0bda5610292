//! Rules and thresholds saved from the dashboard: what is in force at start, a watcher that
//! swaps a newly saved version in while the worker runs (each video takes one snapshot), and
//! the checks the dashboard runs before saving (the same parsers the worker uses, so a saved
//! version always loads).

use super::{Pipeline, PipelineError};
use crate::analyse::keywords::KeywordRules;
use crate::store::SqlStore;
use clipguard_core::Category;
use clipguard_core::config::{Config, DecideConfig};
use clipguard_core::stage::settings::kinds;
use clipguard_core::stage::{Settings, SettingsCheck, Store};
use std::time::Duration;
use tokio::sync::watch;

/// The saved versions the pipeline started on (`None`: the config's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsLoaded {
    pub rules: Option<i64>,
    pub thresholds: Option<i64>,
}

pub fn parse_rules(config: &Config, body: &str) -> Result<KeywordRules, String> {
    KeywordRules::from_toml(body, config.rules.diacritic_insensitive).map_err(|e| e.to_string())
}

pub fn parse_thresholds(body: &str) -> Result<DecideConfig, String> {
    let decide: DecideConfig =
        serde_json::from_str(body).map_err(|e| format!("thresholds JSON: {e}"))?;
    let bad = |what: String, v: f32| {
        (!(0.0..=1.0).contains(&v)).then(|| format!("{what} is {v}, expected 0..=1"))
    };
    if let Some(e) = bad("threshold".into(), decide.threshold) {
        return Err(e);
    }
    for (c, v) in &decide.category_thresholds {
        if let Some(e) = bad(format!("threshold of {c}"), *v) {
            return Err(e);
        }
    }
    Ok(decide)
}

/// What the dashboard checks before saving.
pub struct PipelineSettingsCheck {
    pub config: Config,
}

impl SettingsCheck for PipelineSettingsCheck {
    fn check(&self, kind: &str, body: &str) -> Result<String, String> {
        match kind {
            kinds::RULES => {
                let rules = parse_rules(&self.config, body)?;
                Ok(format!(
                    "{} rules ({})",
                    rules.rules().len(),
                    rules.version()
                ))
            }
            kinds::THRESHOLDS => {
                let d = parse_thresholds(body)?;
                Ok(format!(
                    "threshold {:.2}, {} category threshold(s)",
                    d.threshold,
                    d.category_thresholds.len()
                ))
            }
            kinds::CRAWL_JOBS => {
                let jobs = crate::crawl::jobs::parse_saved(&self.config, body)?;
                let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
                Ok(format!("{} crawl job(s): {}", jobs.len(), names.join(", ")))
            }
            other => Err(format!(
                "unknown setting `{other}` (rules, thresholds, crawl_jobs)"
            )),
        }
    }

    fn initial(&self, kind: &str) -> Result<String, String> {
        match kind {
            kinds::RULES => {
                let path = self.config.rules.path.trim();
                if path.is_empty() {
                    Ok(crate::analyse::keywords::BUILTIN_RULES.to_string())
                } else {
                    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
                }
            }
            kinds::THRESHOLDS => {
                let mut d = self.config.decide.clone();
                for c in Category::ALL {
                    d.category_thresholds.entry(c).or_insert(d.threshold);
                }
                serde_json::to_string_pretty(&d).map_err(|e| e.to_string())
            }
            kinds::CRAWL_JOBS => Ok(crate::crawl::jobs::SAVED_TEMPLATE.to_string()),
            other => Err(format!("unknown setting `{other}`")),
        }
    }
}

/// The saved rules and thresholds in force at start.
pub async fn settings_start(
    store: &SqlStore,
    config: &Config,
) -> Result<(Option<KeywordRules>, DecideConfig, SettingsLoaded), PipelineError> {
    let err = |e: String| PipelineError::Settings(e);
    let mut loaded = SettingsLoaded::default();
    let rules = match store
        .latest_setting(kinds::RULES)
        .await
        .map_err(|e| err(e.to_string()))?
    {
        Some(v) => {
            loaded.rules = Some(v.id);
            Some(
                parse_rules(config, &v.body)
                    .map_err(|e| err(format!("saved rules #{}: {e}", v.id)))?,
            )
        }
        None => None,
    };
    let decide = match store
        .latest_setting(kinds::THRESHOLDS)
        .await
        .map_err(|e| err(e.to_string()))?
    {
        Some(v) => {
            loaded.thresholds = Some(v.id);
            parse_thresholds(&v.body)
                .map_err(|e| err(format!("saved thresholds #{}: {e}", v.id)))?
        }
        None => config.decide.clone(),
    };
    Ok((rules, decide, loaded))
}

/// Polls for newly saved versions every `registry.watch_secs` until `stop`, and swaps them in.
pub async fn watch_settings(pipeline: Pipeline, mut stop: watch::Receiver<bool>) {
    let mut loaded = pipeline.settings_loaded.clone();
    let every = Duration::from_secs(pipeline.config.registry.watch_secs);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        for kind in kinds::WORKER {
            let Ok(Some(latest)) = pipeline.store.latest_setting(kind).await else {
                continue;
            };
            let current = if kind == kinds::RULES {
                &mut loaded.rules
            } else {
                &mut loaded.thresholds
            };
            if *current == Some(latest.id) {
                continue;
            }
            *current = Some(latest.id);
            let applied = if kind == kinds::RULES {
                parse_rules(&pipeline.config, &latest.body)
                    .map(|r| pipeline.analysers.rules.swap(r))
            } else {
                parse_thresholds(&latest.body).map(|d| pipeline.analysers.swap_decide(d))
            };
            let (level, message) = match applied {
                Ok(()) => (
                    "info",
                    format!("{kind} #{} by {} in force", latest.id, latest.author),
                ),
                Err(e) => ("error", format!("{kind} #{} not applied: {e}", latest.id)),
            };
            tracing::info!("{message}");
            let _ = pipeline
                .store
                .log_event(
                    "settings",
                    level,
                    &message,
                    serde_json::json!({ "kind": kind, "id": latest.id }),
                )
                .await;
        }
    }
}
