//! The built-in retraining schedule of `clipguard run`: every `retrain.every_hours`, or as soon
//! as `retrain.min_new_labels` review labels arrived since the last retraining, it runs
//! `clipguard retrain` (train → evaluate → register → promotion gate) as a child process — so a
//! long training run never shares memory or a crash with the worker — and logs the outcome as
//! a `retrain` event. An admin can also ask for one from the dashboard: that logs a
//! `retrain-request` event, which the schedule honours at its next check even when the automatic
//! triggers are off. The champion watcher then swaps a promoted model in. Airflow's
//! `clipguard_retrain` DAG is the external equivalent; run one of the two per registry.

use super::Backends;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use clipguard_core::config::RetrainConfig;
use clipguard_core::stage::Store;
use std::ffi::OsString;
use std::time::Duration;
use tokio::sync::watch;

pub use clipguard_core::stats::event_kinds::{
    RETRAIN as EVENT_KIND, RETRAIN_REQUEST as REQUEST_KIND,
};

/// A request newer than the last retraining, as a reason.
pub fn requested(request: Option<DateTime<Utc>>, last: Option<DateTime<Utc>>) -> Option<String> {
    match (request, last) {
        (Some(r), Some(l)) if r <= l => None,
        (Some(_), _) => Some("requested from the dashboard".to_string()),
        (None, _) => None,
    }
}

/// Why a retraining is due, or `None`.
pub fn due(
    config: &RetrainConfig,
    last: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    new_labels: u64,
    now: DateTime<Utc>,
) -> Option<String> {
    if !config.enabled {
        return None;
    }
    if config.min_new_labels > 0 && new_labels >= config.min_new_labels {
        return Some(format!(
            "{new_labels} new review label(s) (threshold {})",
            config.min_new_labels
        ));
    }
    if config.every_hours > 0.0 {
        let since = last.unwrap_or(started);
        let period = ChronoDuration::milliseconds((config.every_hours * 3_600_000.0) as i64);
        if now - since >= period {
            return Some(format!(
                "{} h since the last retraining",
                config.every_hours
            ));
        }
    }
    None
}

/// Checks every `retrain.check_secs` until `stop`; runs `command` (the `clipguard … retrain`
/// invocation) when due. One retraining at a time: the check waits for the child. It runs in
/// `run` and `serve` (one process per deployment), never in `worker`, so N workers do not
/// start N trainings.
pub async fn schedule(
    pipeline: &Backends,
    command: Vec<OsString>,
    mut stop: watch::Receiver<bool>,
) {
    let config = pipeline.config.retrain.clone();
    if command.is_empty() {
        return;
    }
    let started = Utc::now();
    let store = pipeline.store.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(config.check_secs)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let last = store.last_event_at(EVENT_KIND).await.ok().flatten();
        let labels = store
            .reviews_since(last.unwrap_or(DateTime::<Utc>::MIN_UTC))
            .await
            .unwrap_or(0);
        let request = store.last_event_at(REQUEST_KIND).await.ok().flatten();
        let Some(reason) =
            requested(request, last).or_else(|| due(&config, last, started, labels, Utc::now()))
        else {
            continue;
        };
        tracing::info!("retraining: {reason}");
        let run = tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .kill_on_drop(true)
            .output();
        let (level, message) = tokio::select! {
            out = run => match out {
                Ok(out) if out.status.success() || out.status.code() == Some(3) => (
                    "info",
                    format!(
                        "retrained ({reason}): {}",
                        String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("")
                    ),
                ),
                Ok(out) => (
                    "error",
                    format!(
                        "retraining ({reason}) failed with {}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
                    ),
                ),
                Err(e) => ("error", format!("retraining ({reason}) did not start: {e}")),
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let _ = store
            .log_event(
                EVENT_KIND,
                level,
                &message,
                serde_json::json!({ "reason": reason }),
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hours: f64, labels: u64) -> RetrainConfig {
        RetrainConfig {
            enabled: true,
            every_hours: hours,
            min_new_labels: labels,
            check_secs: 60,
        }
    }

    #[test]
    fn due_by_labels_or_by_time_and_never_when_disabled() {
        let t0 = Utc::now();
        let h = |n: i64| t0 + ChronoDuration::hours(n);
        assert!(
            due(&config(24.0, 50), None, t0, 50, h(1))
                .unwrap()
                .contains("50 new")
        );
        assert!(due(&config(24.0, 50), None, t0, 49, h(1)).is_none());
        assert!(
            due(&config(24.0, 50), None, t0, 0, h(24))
                .unwrap()
                .contains("24 h")
        );
        // The last retraining, not the process start, is the reference.
        assert!(due(&config(24.0, 0), Some(h(10)), t0, 0, h(24)).is_none());
        assert!(due(&config(24.0, 0), Some(h(10)), t0, 0, h(34)).is_some());
        // 0 disables a trigger.
        assert!(due(&config(0.0, 0), None, t0, 1000, h(1000)).is_none());
        let mut off = config(1.0, 1);
        off.enabled = false;
        assert!(due(&off, None, t0, 10, h(10)).is_none());
        // A request counts once: until the next retraining.
        assert!(requested(Some(h(2)), Some(h(1))).is_some());
        assert!(requested(Some(h(1)), Some(h(2))).is_none());
        assert!(requested(Some(h(1)), None).is_some());
        assert!(requested(None, None).is_none());
    }
}
