//! Whisper's text decoder with a key/value cache for self-attention.
//!
//! candle's stock `TextDecoder` caches only the cross-attention keys/values, so every step
//! re-runs the whole token prefix (quadratic in the tokens of a window). This decoder loads
//! the same tensors (same names, same `VarBuilder`) but keeps each layer's self-attention
//! keys/values, so a step costs one token. It also uses exact (erf) GELU, as Whisper does.

use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};

/// One multi-head attention projection set (key has no bias in Whisper).
#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    n_head: usize,
}

impl Attention {
    fn load(d: usize, n_head: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let lin = |name: &str, bias: bool| -> candle_core::Result<Linear> {
            let vb = vb.pp(name);
            let w = vb.get((d, d), "weight")?;
            let b = if bias { Some(vb.get(d, "bias")?) } else { None };
            Ok(Linear::new(w, b))
        };
        Ok(Self {
            q: lin("q_proj", true)?,
            k: lin("k_proj", false)?,
            v: lin("v_proj", true)?,
            out: lin("out_proj", true)?,
            n_head,
        })
    }

    /// `(n, d)` → `(heads, n, d/heads)`, contiguous.
    fn heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, d) = x.dims2()?;
        x.reshape((n, self.n_head, d / self.n_head))?
            .transpose(0, 1)?
            .contiguous()
    }

    /// Keys and values of `x` (`(n, d)`), split into heads.
    fn kv(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        Ok((
            self.heads(&self.k.forward(x)?)?,
            self.heads(&self.v.forward(x)?)?,
        ))
    }

    /// Attends queries from `x` (`(n, d)`) to `k`/`v` (`(heads, L, dh)`); `mask` is `(n, L)`.
    fn attend(
        &self,
        x: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (n, d) = x.dims2()?;
        let scale = 1.0 / ((d / self.n_head) as f64).sqrt();
        let q = (self.heads(&self.q.forward(x)?)? * scale)?;
        let mut w = q.matmul(&k.t()?)?;
        if let Some(mask) = mask {
            w = w.broadcast_add(mask)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&w)?;
        let y = w.matmul(v)?.transpose(0, 1)?.reshape((n, d))?;
        self.out.forward(&y)
    }
}

#[derive(Debug, Clone)]
struct Block {
    self_attn: Attention,
    self_ln: LayerNorm,
    cross_attn: Attention,
    cross_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    ffn_ln: LayerNorm,
}

fn layer_norm(d: usize, vb: VarBuilder) -> candle_core::Result<LayerNorm> {
    Ok(LayerNorm::new(
        vb.get(d, "weight")?,
        vb.get(d, "bias")?,
        1e-5,
    ))
}

fn linear(rows: usize, cols: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    Ok(Linear::new(
        vb.get((rows, cols), "weight")?,
        Some(vb.get(rows, "bias")?),
    ))
}

/// Per-call decoding state: cross-attention K/V of one audio window and the self-attention
/// cache of the tokens fed so far.
#[derive(Debug)]
pub struct DecoderState {
    cross: Vec<(Tensor, Tensor)>,
    cache: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl DecoderState {
    /// Tokens fed so far (the next token's position).
    pub fn position(&self) -> usize {
        self.len
    }
}

/// The text decoder (token + position embeddings, blocks, final norm, tied output projection).
#[derive(Debug, Clone)]
pub struct Decoder {
    embed: Tensor,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    device: Device,
}

impl Decoder {
    /// Loads from the `model.decoder` prefix of the candle tensor names.
    pub fn load(
        vb: VarBuilder,
        d: usize,
        n_head: usize,
        layers: usize,
        vocab: usize,
        max_positions: usize,
    ) -> candle_core::Result<Self> {
        let blocks = (0..layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    self_attn: Attention::load(d, n_head, vb.pp("self_attn"))?,
                    self_ln: layer_norm(d, vb.pp("self_attn_layer_norm"))?,
                    cross_attn: Attention::load(d, n_head, vb.pp("encoder_attn"))?,
                    cross_ln: layer_norm(d, vb.pp("encoder_attn_layer_norm"))?,
                    fc1: linear(4 * d, d, vb.pp("fc1"))?,
                    fc2: linear(d, 4 * d, vb.pp("fc2"))?,
                    ffn_ln: layer_norm(d, vb.pp("final_layer_norm"))?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            embed: vb.get((vocab, d), "embed_tokens.weight")?,
            positions: vb.get((max_positions, d), "embed_positions.weight")?,
            blocks,
            ln: layer_norm(d, vb.pp("layer_norm"))?,
            device: vb.device().clone(),
        })
    }

    /// Maximum number of tokens one window can hold.
    pub fn max_positions(&self) -> usize {
        self.positions.dim(0).unwrap_or(0)
    }

    /// Starts decoding against encoder output `audio` (`(1, frames, d)`).
    pub fn start(&self, audio: &Tensor) -> candle_core::Result<DecoderState> {
        let audio = audio.squeeze(0)?;
        let cross = self
            .blocks
            .iter()
            .map(|b| b.cross_attn.kv(&audio))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(DecoderState {
            cross,
            cache: vec![None; self.blocks.len()],
            len: 0,
        })
    }

    /// Feeds `tokens` after those already in `state`; returns their final hidden states
    /// `(tokens.len(), d)`. Fails (no panic) past the position limit.
    pub fn forward(&self, tokens: &[u32], state: &mut DecoderState) -> candle_core::Result<Tensor> {
        let n = tokens.len();
        let past = state.len;
        if past + n > self.max_positions() {
            candle_core::bail!(
                "decoder position limit: {past} + {n} > {}",
                self.max_positions()
            );
        }
        let ids = Tensor::new(tokens, &self.device)?;
        let mut x = self
            .embed
            .embedding(&ids)?
            .add(&self.positions.narrow(0, past, n)?)?;
        // Causal mask over (new tokens) × (all tokens); only needed when feeding several.
        let mask = if n > 1 {
            let m: Vec<f32> = (0..n)
                .flat_map(|i| {
                    (0..past + n).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(m, (n, past + n), &self.device)?)
        } else {
            None
        };
        for (block, (cache, (ck, cv))) in self
            .blocks
            .iter()
            .zip(state.cache.iter_mut().zip(&state.cross))
        {
            let h = block.self_ln.forward(&x)?;
            let (k, v) = block.self_attn.kv(&h)?;
            let (k, v) = match cache.take() {
                Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 1)?, Tensor::cat(&[&pv, &v], 1)?),
                None => (k, v),
            };
            let a = block.self_attn.attend(&h, &k, &v, mask.as_ref())?;
            *cache = Some((k, v));
            x = (x + a)?;
            let h = block.cross_ln.forward(&x)?;
            x = (&x + block.cross_attn.attend(&h, ck, cv, None)?)?;
            let h = block.ffn_ln.forward(&x)?;
            let h = block.fc2.forward(&block.fc1.forward(&h)?.gelu_erf()?)?;
            x = (x + h)?;
        }
        state.len += n;
        self.ln.forward(&x)
    }

    /// Vocabulary logits of hidden state row `row` of `hidden` (tied output projection).
    pub fn logits(&self, hidden: &Tensor, row: usize) -> candle_core::Result<Vec<f32>> {
        let h = hidden.i(row..row + 1)?;
        h.matmul(&self.embed.t()?)?
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .to_vec1()
    }
}
