//! Hot-swap: the text model and the fusion combiner follow the registry's `champion` aliases
//! while the worker runs.
//!
//! At start, the champion's bundle is fetched and served from the first video (a registry with
//! no text champion first gets the committed starter bundle registered and forced in as
//! `bootstrap`, so it is on record and can be rolled back to). Then a watcher polls the alias
//! every `registry.watch_secs`; when it moves, the new bundle is fetched (sha256-checked),
//! loaded and warmed up on a blocking thread, and swapped into the model thread's slot — the
//! thread picks it up at its next batch. Nothing is restarted and no message is touched; every
//! text score carries the version that produced it, so verdicts name the model that scored
//! them. Rollback is the same path: the alias moves back and the watcher follows.
//!
//! Fusion follows its champion the same way (one [`follow_champion`] loop, two ways to apply a
//! bundle): its parameters are swapped whole, each video is decided with one snapshot, and the
//! verdict records the `fusion` version that decided it. With no fusion champion the built-in
//! parameters (`config/fusion-v0.json`) serve.

use super::registry::bundle_cache;
use super::{Pipeline, PipelineError};
use crate::analyse::models::{STARTER_BUNDLE_DIR, TextStart, text_classifier_from_bundle};
use crate::decide::bundle as fusion_bundle;
use crate::decide::fusion::FusionParams;
use clipguard_core::config::Config;
use clipguard_core::manifest::names::{FUSION, TEXT};
use clipguard_core::stage::Store;
use clipguard_models::text::bundle;
use clipguard_registry::{ChampionWatcher, RegisteredVersion, Registry, gate};
use std::path::Path;
use std::sync::Arc;
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

/// The fusion champion's parameters (versioned `fusion-vN:…`) and its registry version, or the
/// built-in parameters when no fusion model was ever promoted.
pub async fn fusion_start(
    config: &Config,
    registry: &dyn Registry,
) -> Result<(FusionParams, Option<String>), PipelineError> {
    let err = |e: &dyn std::fmt::Display| PipelineError::Registry(e.to_string());
    let Some(version) = registry
        .champion_version(FUSION)
        .await
        .map_err(|e| err(&e))?
    else {
        return Ok((FusionParams::default(), None));
    };
    let registered = registry
        .get_version(FUSION, &version)
        .await
        .map_err(|e| err(&e))?;
    let dir = registry
        .fetch(FUSION, &version, &bundle_cache(config))
        .await
        .map_err(|e| err(&e))?;
    let mut params = fusion_bundle::load(&dir).map_err(|e| err(&e))?;
    params.version = label(&registered);
    Ok((params, Some(version)))
}

/// Loads a fetched bundle (on a blocking thread) and swaps it in under the given label;
/// returns the label of what served before.
type Apply = Arc<dyn Fn(&Path, String) -> Result<String, String> + Send + Sync>;

/// Follows `name`'s champion until `stop` turns true, starting from the `loaded` version. A
/// bundle that fails to load is reported once and skipped until the alias moves again (the
/// running model keeps serving).
async fn follow_champion(
    pipeline: &Pipeline,
    name: &'static str,
    loaded: Option<String>,
    apply: Apply,
    mut stop: watch::Receiver<bool>,
) {
    let store = pipeline.store.clone();
    let mut watcher = ChampionWatcher::new(
        pipeline.registry.clone(),
        name,
        bundle_cache(&pipeline.config),
        loaded,
    );
    let every = Duration::from_secs(pipeline.config.registry.watch_secs);
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
                let message = format!(
                    "registry poll for `{name}` failed, serving {:?}: {e}",
                    watcher.loaded()
                );
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
        let swapped = {
            let (apply, label, dir) = (apply.clone(), label.clone(), change.dir.clone());
            tokio::task::spawn_blocking(move || apply(&dir, label)).await
        };
        let (level, message) = match swapped.map_err(|e| e.to_string()) {
            Ok(Ok(previous)) => {
                watcher.mark_loaded(version.clone());
                refused = None;
                (
                    "info",
                    format!("{name} model hot-swapped to {label} (was {previous})"),
                )
            }
            Ok(Err(e)) | Err(e) => {
                refused = Some(version.clone());
                (
                    "error",
                    format!(
                        "{name} champion v{version} not loaded, the current one keeps serving: {e}"
                    ),
                )
            }
        };
        tracing::info!("{message}");
        let _ = store
            .log_event(
                "models",
                level,
                &message,
                serde_json::json!({ "model": name, "version": version }),
            )
            .await;
    }
}

/// The champion watchers (text when the model is on, fusion always) as tasks that stop with
/// `stop`.
pub fn spawn_watchers(
    pipeline: &Pipeline,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(handle) = pipeline.analysers.text_model.clone() {
        let config = pipeline.config.clone();
        let apply: Apply = Arc::new(move |dir, label| {
            let previous = handle.slot().version();
            let model = text_classifier_from_bundle(&config, dir).map_err(|e| e.message)?;
            handle.swap(model, label).map_err(|e| e.to_string())?;
            Ok(previous)
        });
        let loaded = pipeline.text_start.as_ref().map(|s| s.version.clone());
        let (pipeline, stop) = (pipeline.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            follow_champion(&pipeline, TEXT, loaded, apply, stop).await
        }));
    }
    let analysers = pipeline.analysers.clone();
    let apply: Apply = Arc::new(move |dir, label| {
        let previous = analysers.fusion().version.clone();
        let mut params = fusion_bundle::load(dir).map_err(|e| e.to_string())?;
        params.version = label;
        analysers.swap_fusion(params);
        Ok(previous)
    });
    let (loaded, pipeline) = (pipeline.fusion_start.clone(), pipeline.clone());
    tasks.push(tokio::spawn(async move {
        follow_champion(&pipeline, FUSION, loaded, apply, stop).await
    }));
    tasks
}
