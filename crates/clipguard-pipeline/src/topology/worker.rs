//! The worker loop: lease a batch → analyse each video → decide → store the verdict → ack.
//!
//! The ack comes only after the verdict is stored, so a crash at any point loses nothing: the
//! lease expires and the message is delivered again; the verdict upsert makes that harmless.
//! What happens to a failure depends on its class (see `clipguard_core::error`): bad input
//! becomes a stored `failed` verdict and is acked; anything else is retried with backoff and,
//! after the last attempt, dead-lettered *and* stored as `failed`, so every video ends with a
//! verdict a person can see. A database that cannot be reached is not the message's fault:
//! the worker waits for it (backing off, the message unacknowledged, its attempts untouched)
//! and carries on where it was when the database is back.

use crate::analyse::{self, AnalyserSet};
use crate::decide::{DecideContext, decide};
use crate::queue::VideoMessage;
use crate::sources::seed_kafka::SeedMessage;
use clipguard_core::config::Config;
use clipguard_core::error::Classify;
use clipguard_core::stage::{
    Delivery, MediaStore, Queue, QueueError, RetryOutcome, Store, StoreError,
};
use clipguard_core::{ErrorClass, StageError, Verdict, Video};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Stop when the queue is empty (nothing ready, nothing leased): `run --once`.
    Drain,
    /// Keep polling until shutdown.
    Forever,
}

/// What one worker did, for the summary `run --once` prints.
#[derive(Debug, Default)]
pub struct WorkerSummary {
    pub processed: AtomicU64,
    pub harmful: AtomicU64,
    pub safe: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
}

impl WorkerSummary {
    pub fn get(&self, field: &AtomicU64) -> u64 {
        field.load(Ordering::Relaxed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A callback run after each stored verdict.
pub type VerdictHook = Arc<dyn Fn(&Verdict) + Send + Sync>;

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    media: Arc<dyn MediaStore>,
    analysers: AnalyserSet,
    config: Config,
    summary: Arc<WorkerSummary>,
    /// Called after each stored verdict (progress bars, live feeds).
    on_verdict: Option<VerdictHook>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("analysers", &self.analysers)
            .finish()
    }
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        media: Arc<dyn MediaStore>,
        analysers: AnalyserSet,
        config: Config,
    ) -> Self {
        Worker {
            store,
            queue,
            media,
            analysers,
            config,
            summary: Arc::default(),
            on_verdict: None,
        }
    }

    pub fn on_verdict(mut self, f: impl Fn(&Verdict) + Send + Sync + 'static) -> Self {
        self.on_verdict = Some(Arc::new(f));
        self
    }

    pub fn summary(&self) -> Arc<WorkerSummary> {
        self.summary.clone()
    }

    /// Runs until the queue is drained (`Drain`) or `shutdown` turns true. A batch in flight is
    /// always finished before returning.
    pub async fn run(
        &self,
        mode: RunMode,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), WorkerError> {
        let result = self.run_until(mode, &mut shutdown).await;
        self.queue.close().await;
        result
    }

    async fn run_until(
        &self,
        mode: RunMode,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), WorkerError> {
        let poll = Duration::from_millis(self.config.queue.poll_interval_ms);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let batch = match self.queue.lease(self.config.worker.batch_size).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("lease failed, retrying: {e}");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                if mode == RunMode::Drain && self.queue.stats().await?.depth == 0 {
                    return Ok(());
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            futures::future::join_all(batch.into_iter().map(|d| self.handle(d))).await;
        }
    }

    /// Handles one delivery end to end. Never returns an error: every path ends in an ack, a
    /// retry or a dead letter (a backend outage during those is logged and the lease expires).
    async fn handle(&self, delivery: Delivery) {
        if let Err(e) = self.try_handle(&delivery).await {
            tracing::warn!(receipt = %delivery.receipt, "could not settle message: {e}");
        }
    }

    async fn try_handle(&self, delivery: &Delivery) -> Result<(), WorkerError> {
        let parsed = serde_json::from_value::<VideoMessage>(delivery.message.payload.clone());
        let message = match (parsed, SeedMessage::from_payload(&delivery.message.payload)) {
            (Ok(m), _) => m,
            (Err(_), Some(seed)) => match self.patiently(|| self.adopt(&seed)).await {
                Ok(video_id) => VideoMessage { video_id },
                Err(e) => {
                    return self
                        .give_back(delivery, &delivery.message.key, &e.to_string())
                        .await;
                }
            },
            (Err(e), None) => {
                let reason = format!("malformed message: {e}");
                self.queue.dead_letter(delivery, &reason).await?;
                self.summary.dead_lettered.fetch_add(1, Ordering::Relaxed);
                self.event(
                    "error",
                    &delivery.message.key,
                    &format!("{}: {reason}", delivery.message.key),
                )
                .await;
                return Ok(());
            }
        };
        let started = Instant::now();
        let video = match self
            .patiently(|| self.store.get_video(&message.video_id))
            .await
        {
            Ok(Some(v)) => v,
            Ok(None) => {
                let reason = format!("video `{}` is not in the store", message.video_id);
                self.queue.dead_letter(delivery, &reason).await?;
                self.summary.dead_lettered.fetch_add(1, Ordering::Relaxed);
                self.event("error", &message.video_id, &reason).await;
                return Ok(());
            }
            Err(e) => {
                return self
                    .give_back(delivery, &message.video_id, &e.to_string())
                    .await;
            }
        };
        let mut verdict = match self.verdict_for(&video).await {
            Ok(v) => v,
            Err(e) if e.class == ErrorClass::Input => self.failed(&video.id, &e.message),
            Err(e) => return self.give_back(delivery, &video.id, &e.message).await,
        };
        verdict.latency_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.patiently(|| self.store.put_verdict(&verdict)).await {
            return self.give_back(delivery, &video.id, &e.to_string()).await;
        }
        if let Err(e) = self.queue.publish_verdict(&verdict).await {
            // Stored but not announced: deliver again (the upsert keeps one row).
            return self.give_back(delivery, &video.id, &e.to_string()).await;
        }
        self.count(&verdict);
        if let Some(f) = &self.on_verdict {
            f(&verdict);
        }
        match self.queue.ack(delivery).await {
            Ok(()) => Ok(()),
            // Another worker took the message over after our lease expired; it will upsert the
            // same verdict row, so there is nothing to undo.
            Err(QueueError::LeaseLost(r)) => {
                tracing::warn!("lease {r} lost before ack; the verdict is stored");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Analyses one video into a verdict. `Err` only for errors that are not the input's fault
    /// (or input errors, which the caller turns into a `failed` verdict).
    pub async fn verdict_for(&self, video: &Video) -> Result<Verdict, StageError> {
        let media = match &video.media_key {
            Some(key) => Some(
                self.media
                    .local_copy(key)
                    .await
                    .map_err(|e| StageError::new(e.class(), format!("media: {e}")))?,
            ),
            None => None,
        };
        analyse_and_decide(
            video,
            media.as_ref().map(|m| m.path.as_path()),
            &self.analysers,
            &self.config,
        )
        .await
    }

    /// A retryable failure: back off, or dead-letter with a stored `failed` verdict after the
    /// last attempt.
    async fn give_back(
        &self,
        delivery: &Delivery,
        video_id: &str,
        error: &str,
    ) -> Result<(), WorkerError> {
        match self.queue.retry(delivery, error).await? {
            RetryOutcome::RetryAfter(wait) => {
                self.summary.retried.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    video_id,
                    attempt = delivery.attempt,
                    ?wait,
                    "retrying: {error}"
                );
            }
            RetryOutcome::DeadLettered => {
                self.summary.dead_lettered.fetch_add(1, Ordering::Relaxed);
                let reason = format!(
                    "gave up after {} attempts (dead letter): {error}",
                    delivery.attempt
                );
                let verdict = self.failed(video_id, &reason);
                // Best effort: the database may be what is failing.
                if self.store.put_verdict(&verdict).await.is_ok() {
                    self.count(&verdict);
                }
                self.event("error", video_id, &format!("{video_id}: {reason}"))
                    .await;
            }
        }
        Ok(())
    }

    /// Stores the video a seed message describes (once: the insert is idempotent), with its
    /// media when ClipGuard's media store has the seed's object; returns the video id.
    async fn adopt(&self, seed: &SeedMessage) -> Result<String, StoreError> {
        let topic = &self.config.queue.seed_topic;
        let mut video = seed.video(topic);
        for key in seed.media_keys() {
            if let Ok(true) = self.media.exists(&key).await {
                video.media_key = Some(key);
                break;
            }
        }
        self.store.insert_video(&video).await?;
        Ok(video.id)
    }

    /// Runs a store call, waiting out an unreachable database: backoff from 200 ms to 5 s, for
    /// at most `PATIENCE`; other errors (and the last one) go back to the caller.
    async fn patiently<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        const PATIENCE: Duration = Duration::from_secs(600);
        let started = Instant::now();
        let mut wait = Duration::from_millis(200);
        loop {
            match op().await {
                Err(StoreError::Unavailable(e)) if started.elapsed() < PATIENCE => {
                    if wait == Duration::from_millis(200) {
                        tracing::warn!("store unavailable, waiting for it: {e}");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    fn failed(&self, video_id: &str, reason: &str) -> Verdict {
        let mut v = Verdict::failed(
            video_id,
            reason,
            self.config.decide.threshold,
            self.analysers.pipeline_version(),
        );
        v.model_versions = self.analysers.versions();
        v
    }

    fn count(&self, v: &Verdict) {
        let s = &self.summary;
        s.processed.fetch_add(1, Ordering::Relaxed);
        let field = match v.label() {
            "harmful" => &s.harmful,
            "safe" => &s.safe,
            _ => &s.failed,
        };
        field.fetch_add(1, Ordering::Relaxed);
    }

    /// Logs to the events table; `video_id` lets the dashboard show a video's history.
    async fn event(&self, level: &str, video_id: &str, message: &str) {
        if let Err(e) = self
            .store
            .log_event(
                "worker",
                level,
                message,
                serde_json::json!({ "video_id": video_id }),
            )
            .await
        {
            tracing::warn!("cannot log event: {e}");
        }
    }
}

/// Prepare → analyse → decide for one video whose media (if any) is at `media`. Shared by the
/// worker and by `classify`, so both give the same verdict for the same file.
pub async fn analyse_and_decide(
    video: &Video,
    media: Option<&std::path::Path>,
    analysers: &AnalyserSet,
    config: &Config,
) -> Result<Verdict, StageError> {
    let started = Instant::now();
    let prepared = analyse::prepare(video, media, config).await?;
    let Some(input) = prepared.input else {
        return Err(StageError::internal("preparation produced no input"));
    };
    let outputs = analysers.run(&input).await?;
    let fusion = analysers.fusion();
    let thresholds = analysers.decide_config();
    let versions = analysers.versions_used(&outputs, &fusion);
    Ok(decide(
        DecideContext {
            video_id: &video.id,
            config: &thresholds,
            pipeline_version: analyse::pipeline_version_of(&versions),
            model_versions: versions,
            notes: prepared.notes,
            latency_ms: started.elapsed().as_millis() as u64,
            fusion: &fusion,
        },
        outputs,
    ))
}
