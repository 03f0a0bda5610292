//! `bench frames`: Open-NSFW on decoded frames — preprocessing (resize, JPEG round-trip, crop)
//! and the network timed separately, in batches of `batch` as the model thread runs them.
//! Decoding (ffmpeg) is not timed: it is the same work whatever model follows.

use super::{BenchError, BenchReport};
use crate::analyse::ffmpeg::{self, FrameRequest};
use crate::analyse::models::open_nsfw;
use clipguard_core::config::Config;
use clipguard_core::stage::Frame;
use clipguard_models::vision::{PreparedImage, prepare};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct FramesBench {
    /// A video or image; `None`: generated frames (gradients and noise, 640×360).
    pub input: Option<PathBuf>,
    pub limit: usize,
    pub batch: usize,
    /// Sampling rate for `input`.
    pub fps: f64,
}

/// Deterministic 640×360 frames so the bench runs without any media.
fn generated(count: usize) -> Vec<Frame> {
    let (w, h) = (640u32, 360u32);
    let mut seed = 0x9e37_79b9_u32;
    (0..count)
        .map(|i| {
            let mut rgb = Vec::with_capacity((w * h * 3) as usize);
            for y in 0..h {
                for x in 0..w {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let noise = seed & 31;
                    rgb.push(((x + i as u32 * 7) % 256) as u8);
                    rgb.push(((y * 2 + noise) % 256) as u8);
                    rgb.push(((x + y + i as u32 * 13) % 256) as u8);
                }
            }
            Frame {
                time_s: i as f64,
                width: w,
                height: h,
                rgb,
            }
        })
        .collect()
}

async fn frames(config: &Config, bench: &FramesBench) -> Result<(Vec<Frame>, String), BenchError> {
    let Some(path) = &bench.input else {
        return Ok((generated(bench.limit), "generated 640x360".into()));
    };
    let request = FrameRequest {
        fps: bench.fps,
        max_frames: bench.limit as u32,
        width: config.frames.width,
        height: config.frames.height,
    };
    let frames = ffmpeg::frames(path, request)
        .await
        .map_err(|e| BenchError::Input(format!("{}: {e}", path.display())))?;
    Ok((frames, path.display().to_string()))
}

pub async fn run(config: &Config, bench: &FramesBench) -> Result<BenchReport, BenchError> {
    let (frames, source) = frames(config, bench).await?;
    if frames.is_empty() {
        return Err(BenchError::Input("no frames to score".into()));
    }
    let config = config.clone();
    let batch = bench.batch.max(1);
    tokio::task::spawn_blocking(move || measure(&config, &frames, batch))
        .await
        .map_err(BenchError::run)?
        .map(|r| r.with("workload", source))
}

fn measure(config: &Config, frames: &[Frame], batch: usize) -> Result<BenchReport, BenchError> {
    let load = Instant::now();
    let model = open_nsfw(config)?;
    let load = load.elapsed();
    let warm =
        prepare(&frames[0].rgb, frames[0].width, frames[0].height).map_err(BenchError::run)?;
    model.score(&[warm]).map_err(BenchError::run)?;

    let (mut prepare_time, mut model_time) = (Duration::ZERO, Duration::ZERO);
    let mut latencies = Vec::with_capacity(frames.len());
    let mut flagged = 0usize;
    let started = Instant::now();
    for chunk in frames.chunks(batch) {
        let t = Instant::now();
        let prepared: Vec<PreparedImage> = chunk
            .iter()
            .map(|f| prepare(&f.rgb, f.width, f.height))
            .collect::<Result<_, _>>()
            .map_err(BenchError::run)?;
        let prepared_at = Instant::now();
        let scores = model.score(&prepared).map_err(BenchError::run)?;
        let done = Instant::now();
        prepare_time += prepared_at - t;
        model_time += done - prepared_at;
        flagged += scores.iter().filter(|s| **s >= 0.5).count();
        latencies.extend(std::iter::repeat_n(done - t, chunk.len()));
    }
    let elapsed = started.elapsed();
    let n = frames.len();
    Ok(BenchReport::new("frames", model.version(), n, elapsed)
        .latency(&latencies)
        .load(load)
        .with("batch", batch)
        .with(
            "frame_size",
            format!("{}x{}", frames[0].width, frames[0].height),
        )
        .with(
            "model_items_per_s",
            n as f64 / model_time.as_secs_f64().max(1e-9),
        )
        .with(
            "prepare_ms_per_item",
            prepare_time.as_secs_f64() * 1e3 / n as f64,
        )
        .with("flagged", flagged))
}
