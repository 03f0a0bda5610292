//! Hot-swap: the text model follows the registry's `champion` alias while the worker runs.
//!
//! At start, the champion's bundle is fetched and served from the first video (a registry with
//! no text champion first gets the committed starter bundle registered and forced in as
//! `bootstrap`, so it is on record and can be rolled back to). Then a watcher polls the alias
//! every `registry.watch_secs`; when it moves, the new bundle is fetched (sha256-checked),
//! loaded and warmed up on a blocking thread, and swapped into the model thread's slot — the
//! thread picks it up at its next batch. Nothing is restarted and no message is touched; every
//! text score carries the version that produced it, so verdicts name the model that scored
//! them. Rollback is the same path: the alias moves back and the watcher follows.

use super::registry::bundle_cache;
use super::{Pipeline, PipelineError};
use crate::analyse::models::{STARTER_BUNDLE_DIR, TextStart, text_classifier_from_bundle};
use clipguard_core::config::Config;
use clipguard_core::manifest::names::TEXT;
use clipguard_core::stage::Store;
use clipguard_models::text::bundle;
use clipguard_registry::{ChampionWatcher, RegisteredVersion, Registry, gate};
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

/// Who bootstrapped the first champion, in the audit log.
pub const BOOTSTRAP_ACTOR: &str = "bootstrap";

/// The version verdicts record for a registered bundle: `text-v3:<trainer's label>`.
pub fn label(v: &RegisteredVersion) -> String {
    format!("{}-v{}:{}", v.name, v.version, v.manifest.version)
}

/// The champion to serve at start (bootstrapping the starter when there is none), fetched.
/// `None` when the text model is off, or there is neither a champion nor a starter bundle.
pub async fn text_start(
    config: &Config,
    registry: &dyn Registry,
) -> Result<Option<TextStart>, PipelineError> {
    if !config.text_model.enabled {
        return Ok(None);
    }
    let err = |e: &dyn std::fmt::Display| PipelineError::Registry(e.to_string());
    let mut champion = registry.champion_version(TEXT).await.map_err(|e| err(&e))?;
    let starter = Path::new(STARTER_BUNDLE_DIR);
    if champion.is_none() && bundle::is_bundle(starter) {
        let v = registry.register(starter).await.map_err(|e| err(&e))?;
        // Another worker may have bootstrapped meanwhile: keep its champion.
        champion = registry.champion_version(TEXT).await.map_err(|e| err(&e))?;
        if champion.is_none() {
            gate::force(
                registry,
                TEXT,
                &v.version,
                BOOTSTRAP_ACTOR,
                "initial champion: the committed starter bundle (models/starter/text)",
            )
            .await
            .map_err(|e| err(&e))?;
            champion = Some(v.version);
        }
    }
    let Some(version) = champion else {
        return Ok(None);
    };
    let registered = registry
        .get_version(TEXT, &version)
        .await
        .map_err(|e| err(&e))?;
    let dir = registry
        .fetch(TEXT, &version, &bundle_cache(config))
        .await
        .map_err(|e| err(&e))?;
    Ok(Some(TextStart {
        dir,
        label: label(&registered),
        version,
    }))
}

/// Follows the text champion until `stop` turns true. Returns at once when the text model is
/// off. A bundle that fails to load is reported once and skipped until the alias moves again
/// (the running model keeps serving).
pub async fn watch_text_champion(pipeline: &Pipeline, mut stop: watch::Receiver<bool>) {
    let Some(handle) = pipeline.analysers.text_model.clone() else {
        return;
    };
    let config = pipeline.config.clone();
    let store = pipeline.store.clone();
    let loaded = pipeline.text_start.as_ref().map(|s| s.version.clone());
    let mut watcher = ChampionWatcher::new(
        pipeline.registry.clone(),
        TEXT,
        bundle_cache(&config),
        loaded,
    );
    let every = Duration::from_secs(config.registry.watch_secs);
    let mut refused: Option<String> = None;
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let change = match watcher.poll().await {
            Ok(Some(change)) => change,
            Ok(None) => continue,
            Err(e) => {
                // Reported once per distinct error: a registry outage keeps the current model.
                let message = format!("registry poll failed, serving {:?}: {e}", watcher.loaded());
                if last_error.as_deref() != Some(message.as_str()) {
                    tracing::warn!("{message}");
                    last_error = Some(message);
                }
                continue;
            }
        };
        last_error = None;
        let version = change.version.version.clone();
        if refused.as_deref() == Some(version.as_str()) {
            continue;
        }
        let label = label(&change.version);
        let previous = handle.slot().version();
        let swapped = {
            let (config, handle, label, dir) = (
                config.clone(),
                handle.clone(),
                label.clone(),
                change.dir.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let model = text_classifier_from_bundle(&config, &dir)?;
                handle
                    .swap(model, label)
                    .map_err(|e| clipguard_core::StageError::internal(e.to_string()))
            })
            .await
        };
        let (level, message) = match swapped {
            Ok(Ok(())) => {
                watcher.mark_loaded(version.clone());
                refused = None;
                (
                    "info",
                    format!("text model hot-swapped to {label} (was {previous})"),
                )
            }
            Ok(Err(e)) => {
                refused = Some(version.clone());
                (
                    "error",
                    format!(
                        "text champion v{version} not loaded, still serving {previous}: {}",
                        e.message
                    ),
                )
            }
            Err(e) => {
                refused = Some(version.clone());
                (
                    "error",
                    format!("text champion v{version} not loaded, still serving {previous}: {e}"),
                )
            }
        };
        tracing::info!("{message}");
        let _ = store
            .log_event(
                "models",
                level,
                &message,
                serde_json::json!({ "model": TEXT, "version": version }),
            )
            .await;
    }
}

/// The watcher as a task that stops with `stop`.
pub fn spawn_text_watcher(
    pipeline: &Pipeline,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let pipeline = pipeline.clone();
    tokio::spawn(async move { watch_text_champion(&pipeline, stop).await })
}
