//! Configuration: one struct, built from the documented defaults compiled into the binary
//! (`config/clipguard.toml`), then an optional TOML file, then `CLIPGUARD_*` environment
//! variables (`__` separates section and key). Components take the section they need.

use crate::Category;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The documented defaults, compiled in.
pub const DEFAULTS_TOML: &str = include_str!("../../../config/clipguard.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub data: DataConfig,
    pub store: StoreConfig,
    pub queue: QueueConfig,
    pub cache: CacheConfig,
    pub worker: WorkerConfig,
    pub ingest: IngestConfig,
    pub crawl: CrawlConfig,
    pub frames: FramesConfig,
    pub audio: AudioConfig,
    pub models: ModelsConfig,
    pub text_model: TextModelConfig,
    pub vision: VisionConfig,
    pub speech: SpeechConfig,
    pub ocr: OcrConfig,
    pub cascade: CascadeConfig,
    pub rules: RulesConfig,
    pub decide: DecideConfig,
    pub web: WebConfig,
    pub registry: RegistryConfig,
    pub retrain: RetrainConfig,
    pub review: crate::stage::ReviewPolicy,
    pub media: MediaConfig,
}

/// Where media bytes live: empty `url` = `<data>/media`; `s3://BUCKET` = S3 or MinIO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaConfig {
    pub url: String,
    /// S3-compatible endpoint (`http://127.0.0.1:9000` for MinIO); empty = AWS.
    pub endpoint: String,
    pub region: String,
    /// Empty: the `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` environment.
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataConfig {
    pub dir: PathBuf,
    pub datasets: String,
}

/// Where URL ingestion and the crawler may connect (the SSRF guard). Private, loopback and
/// other non-public addresses are refused unless allowed here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlConfig {
    /// Allow every non-public address (`--allow-private-network`).
    pub allow_private_network: bool,
    /// CIDR blocks allowed even though they are not public (e.g. `127.0.0.0/8`).
    pub allow_networks: Vec<String>,
    /// yt-dlp to run; empty = the pinned one from `scripts/ytdlp-venv.sh`, else PATH.
    pub ytdlp: String,
    /// A cookies.txt for yt-dlp (passed by path; never logged or stored).
    pub cookies_file: String,
    /// Pause between two downloads of one crawl (politeness).
    pub delay_ms: u64,
    /// New videos downloaded per target and run at most.
    pub max_per_run: usize,
    /// Up to this much more pause, at random, on top of `delay_ms`.
    pub jitter_ms: u64,
    /// Crawl jobs run by `clipguard crawl --jobs` / `--forever`.
    #[serde(default)]
    pub jobs: Vec<CrawlJob>,
}

/// A named, scheduled crawl: targets, a weak label, a schedule and a pace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrawlJob {
    pub name: String,
    #[serde(default)]
    pub hashtags: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    /// yt-dlp searches (`ytsearch20:terms`; yt-dlp has no TikTok search).
    #[serde(default)]
    pub searches: Vec<String>,
    /// `harmful`, `safe` or empty.
    #[serde(default)]
    pub label: String,
    /// How often the job runs (a failed run is retried sooner, with backoff).
    #[serde(default = "CrawlJob::default_every")]
    pub every_minutes: f64,
    /// Overrides `crawl.max_per_run` / `crawl.delay_ms` for this job.
    #[serde(default)]
    pub max_per_run: Option<usize>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

impl CrawlJob {
    fn default_every() -> f64 {
        60.0
    }
}

/// Where videos, verdicts, reviews and events live: empty `url` = `<data>/clipguard.db`
/// (SQLite); `postgres://…` = PostgreSQL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: u32,
}

/// The optional shared dedup cache: empty `url` = the store's unique keys alone;
/// `redis://host:port` = Redis `SET NX` with a TTL in front of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheConfig {
    pub url: String,
    pub dedup_ttl_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// `embedded` (SQLite, in the store's data folder) or `kafka`.
    pub kind: String,
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Kafka consumer group shared by every worker.
    pub group: String,
    /// Partitions of the topics ClipGuard creates (the most workers that can share the load).
    pub partitions: u32,
    pub session_timeout_ms: u64,
    /// Also consume the seed's messages from this topic (`tiktok_raw_data`); empty = off.
    pub seed_topic: String,
    /// Replication factor of the topics ClipGuard creates (3 on a real cluster).
    pub replication: i32,
    pub visibility_timeout_secs: u64,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub poll_interval_ms: u64,
}

impl QueueConfig {
    /// Exponential backoff after the failed `attempt` (1-based): base * 2^(attempt-1), capped.
    /// Every queue backend waits this long before delivering a retried message again.
    pub fn backoff(&self, attempt: u32) -> std::time::Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let ms = self
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.backoff_max_ms);
        std::time::Duration::from_millis(ms)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub batch_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestConfig {
    pub max_file_bytes: u64,
    pub max_duration_secs: f64,
    pub download_timeout_secs: u64,
    pub allowed_schemes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameMode {
    Fps,
    Count,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FramesConfig {
    pub mode: FrameMode,
    pub fps: f64,
    pub count: u32,
    pub max_frames: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioConfig {
    pub enabled: bool,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelsConfig {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextModelConfig {
    pub enabled: bool,
    pub precision: String,
    pub max_tokens: usize,
    pub batch_tokens: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    pub enabled: bool,
    pub batch_frames: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechConfig {
    pub enabled: bool,
    pub max_seconds: f32,
    pub language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrConfig {
    pub enabled: bool,
    pub languages: String,
    pub fps: f64,
    pub max_frames: u32,
    pub width: u32,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CascadeConfig {
    pub always_on: Vec<String>,
    pub uncertain_low: f32,
    pub uncertain_high: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesConfig {
    pub path: String,
    pub diacritic_insensitive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecideConfig {
    pub threshold: f32,
    pub category_thresholds: BTreeMap<Category, f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebConfig {
    pub addr: String,
    pub session_hours: u64,
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryConfig {
    /// `builtin` or `mlflow`.
    pub backend: String,
    pub mlflow_url: String,
    /// How often running workers poll the `champion` alias.
    pub watch_secs: u64,
    /// Promotion gate: F1(harmful) floors by model name and the margin over the champion.
    pub floors: BTreeMap<String, f64>,
    pub margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainConfig {
    pub enabled: bool,
    /// Retrain this often (0: never by time).
    pub every_hours: f64,
    /// Retrain once this many review labels arrived since the last retraining (0: never).
    pub min_new_labels: u64,
    pub check_secs: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Default for Config {
    fn default() -> Self {
        Figment::from(Toml::string(DEFAULTS_TOML))
            .extract()
            .expect("the compiled-in defaults parse")
    }
}

impl Config {
    /// Defaults, then `file` (if any), then `CLIPGUARD_<SECTION>__<KEY>` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS_TOML));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "config file `{}` does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Only `SECTION__KEY` variables are settings; CLIPGUARD_DATASETS is read below.
        let env = Env::prefixed("CLIPGUARD_")
            .filter(|k| k.as_str().contains("__"))
            .split("__");
        let mut config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        if let Some(ds) = std::env::var_os("CLIPGUARD_DATASETS") {
            config.data.datasets = ds.to_string_lossy().into_owned();
        }
        config.validate()?;
        Ok(config)
    }

    /// Rejects values that would make a component misbehave rather than fail loudly later.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError(m.to_string()));
        if !["builtin", "mlflow"].contains(&self.registry.backend.as_str()) {
            return bad("registry.backend must be \"builtin\" or \"mlflow\"");
        }
        if self.retrain.check_secs == 0
            || !self.retrain.every_hours.is_finite()
            || self.retrain.every_hours < 0.0
        {
            return bad("retrain.check_secs must be at least 1 and retrain.every_hours >= 0");
        }
        if self.registry.watch_secs == 0 {
            return bad("registry.watch_secs must be at least 1");
        }
        if !["embedded", "kafka"].contains(&self.queue.kind.as_str()) {
            return bad("queue.kind must be \"embedded\" or \"kafka\"");
        }
        if self.queue.kind == "kafka" && self.queue.brokers.trim().is_empty() {
            return bad("queue.brokers must name the Kafka brokers when queue.kind = \"kafka\"");
        }
        if self.queue.partitions == 0 || self.store.max_connections == 0 {
            return bad("queue.partitions and store.max_connections must be at least 1");
        }
        if self.queue.max_attempts == 0 {
            return bad("queue.max_attempts must be at least 1");
        }
        if self.worker.batch_size == 0 {
            return bad("worker.batch_size must be at least 1");
        }
        if !self.frames.fps.is_finite()
            || self.frames.fps <= 0.0
            || self.frames.count == 0
            || self.frames.max_frames == 0
        {
            return bad("frames.fps, frames.count and frames.max_frames must be positive");
        }
        if !self.ocr.fps.is_finite() || self.ocr.fps <= 0.0 || self.ocr.width < 16 {
            return bad("ocr.fps must be positive and ocr.width at least 16");
        }
        if !["f32", "q8", "q4"].contains(&self.text_model.precision.as_str()) {
            return bad("text_model.precision must be \"f32\", \"q8\" or \"q4\"");
        }
        if self.cascade.uncertain_low > self.cascade.uncertain_high {
            return bad("cascade.uncertain_low must not exceed cascade.uncertain_high");
        }
        if !(0.0..=1.0).contains(&self.decide.threshold) {
            return bad("decide.threshold must be within [0, 1]");
        }
        for (c, t) in &self.decide.category_thresholds {
            if !(0.0..=1.0).contains(t) {
                return Err(ConfigError(format!(
                    "decide.category_thresholds.{c} must be within [0, 1]"
                )));
            }
        }
        Ok(())
    }

    /// The datasets folder: the configured one, else `../shared/datasets` when it exists.
    pub fn datasets_dir(&self) -> Option<PathBuf> {
        if !self.data.datasets.is_empty() {
            return Some(PathBuf::from(&self.data.datasets));
        }
        let fallback = PathBuf::from("../shared/datasets");
        fallback.is_dir().then_some(fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_validate() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.web.addr, "127.0.0.1:8080");
        assert_eq!(c.decide.category_thresholds.len(), Category::ALL.len());
    }

    #[test]
    fn a_file_overrides_only_the_keys_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[queue]\nmax_attempts = 2\n").unwrap();
        let c = Config::load(Some(&path)).unwrap();
        assert_eq!(c.queue.max_attempts, 2);
        assert_eq!(
            c.queue.visibility_timeout_secs,
            Config::default().queue.visibility_timeout_secs
        );
    }

    #[test]
    fn invalid_values_are_refused_with_the_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[decide]\nthreshold = 1.5\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("decide.threshold"), "{err}");
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
