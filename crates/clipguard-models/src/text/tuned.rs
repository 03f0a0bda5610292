//! Fine-tuned top encoder layers: the part of e5 a text bundle replaces.
//!
//! A fine-tuned text model keeps the bottom `from_layer` layers of the pinned e5 file frozen
//! (run by [`E5Encoder`] in any precision) and carries its own copy of the layers above, in
//! f32 tensors that training updates with autograd. The forward pass here uses only ops with
//! a backward pass in candle (composed softmax and layer norm, not the fused no-backward
//! kernels), so the same code trains and serves; a test checks it equals the encoder's own
//! forward on the original weights.
//!
//! Tensor names in a bundle's safetensors: `top.{k}.{qkv,ao,fi,fo}.{w,b}` and
//! `top.{k}.{aln,oln}.{w,b}` for the k-th tuned layer (k = 0 is layer `from_layer`).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, DType, Device, Tensor};

use super::encoder::{EncoderError, HiddenStates};
use crate::files::e5s1::{E5s1File, Header};

/// One post-LayerNorm BERT layer as plain tensors (`w` in PyTorch `[out, in]` order).
#[derive(Debug, Clone)]
pub struct LayerParams {
    pub qkv_w: Tensor,
    pub qkv_b: Tensor,
    pub ao_w: Tensor,
    pub ao_b: Tensor,
    pub aln_w: Tensor,
    pub aln_b: Tensor,
    pub fi_w: Tensor,
    pub fi_b: Tensor,
    pub fo_w: Tensor,
    pub fo_b: Tensor,
    pub oln_w: Tensor,
    pub oln_b: Tensor,
}

/// Parameter suffixes, in a fixed order (safetensors names, optimiser order).
pub const PARAM_NAMES: [&str; 12] = [
    "qkv.w", "qkv.b", "ao.w", "ao.b", "aln.w", "aln.b", "fi.w", "fi.b", "fo.w", "fo.b", "oln.w",
    "oln.b",
];

impl LayerParams {
    /// Layer `i` of an E5S1 file, dequantized to f32 (q, k, v fused as the encoder does).
    pub fn from_e5s1(file: &E5s1File, i: usize, device: &Device) -> Result<Self, EncoderError> {
        let h = file.header();
        let (hid, ffn) = (h.hidden, h.ffn);
        let t = |name: String, shape: &[usize]| -> Result<Tensor, EncoderError> {
            let data = file.tensor_f32(&name)?;
            if data.len() != shape.iter().product::<usize>() {
                return Err(EncoderError::Shape {
                    name,
                    expected: shape.iter().product(),
                    found: data.len(),
                });
            }
            Ok(Tensor::from_vec(data, shape, device)?)
        };
        let n = |s: &str| format!("l{i}.{s}");
        let qkv_w = Tensor::cat(
            &[
                t(n("q.w"), &[hid, hid])?,
                t(n("k.w"), &[hid, hid])?,
                t(n("v.w"), &[hid, hid])?,
            ],
            0,
        )?;
        let qkv_b = Tensor::cat(
            &[
                t(n("q.b"), &[hid])?,
                t(n("k.b"), &[hid])?,
                t(n("v.b"), &[hid])?,
            ],
            0,
        )?;
        Ok(Self {
            qkv_w,
            qkv_b,
            ao_w: t(n("ao.w"), &[hid, hid])?,
            ao_b: t(n("ao.b"), &[hid])?,
            aln_w: t(n("aln.w"), &[hid])?,
            aln_b: t(n("aln.b"), &[hid])?,
            fi_w: t(n("fi.w"), &[ffn, hid])?,
            fi_b: t(n("fi.b"), &[ffn])?,
            fo_w: t(n("fo.w"), &[hid, ffn])?,
            fo_b: t(n("fo.b"), &[hid])?,
            oln_w: t(n("oln.w"), &[hid])?,
            oln_b: t(n("oln.b"), &[hid])?,
        })
    }

    /// The tensors in [`PARAM_NAMES`] order.
    pub fn tensors(&self) -> [&Tensor; 12] {
        [
            &self.qkv_w,
            &self.qkv_b,
            &self.ao_w,
            &self.ao_b,
            &self.aln_w,
            &self.aln_b,
            &self.fi_w,
            &self.fi_b,
            &self.fo_w,
            &self.fo_b,
            &self.oln_w,
            &self.oln_b,
        ]
    }

    /// Built from tensors in [`PARAM_NAMES`] order.
    pub fn from_tensors(t: [Tensor; 12]) -> Self {
        let [
            qkv_w,
            qkv_b,
            ao_w,
            ao_b,
            aln_w,
            aln_b,
            fi_w,
            fi_b,
            fo_w,
            fo_b,
            oln_w,
            oln_b,
        ] = t;
        Self {
            qkv_w,
            qkv_b,
            ao_w,
            ao_b,
            aln_w,
            aln_b,
            fi_w,
            fi_b,
            fo_w,
            fo_b,
            oln_w,
            oln_b,
        }
    }

    /// `x` `[b, s, h]` through the layer; `bias` is the additive attention mask `[b, 1, 1, s]`.
    /// Differentiable with respect to every parameter and `x`.
    pub fn forward(
        &self,
        x: &Tensor,
        bias: &Tensor,
        heads: usize,
        eps: f64,
    ) -> candle_core::Result<Tensor> {
        let (b, s, h) = x.dims3()?;
        let hd = h / heads;
        let qkv = linear(x, &self.qkv_w, &self.qkv_b)?
            .reshape((b, s, 3, heads, hd))?
            .permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)?.contiguous()? * (1.0 / (hd as f64).sqrt()))?;
        let k = qkv.get(1)?.contiguous()?;
        let v = qkv.get(2)?.contiguous()?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
        let probs = softmax_last(&scores)?;
        let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        let a = layer_norm(
            &(linear(&ctx, &self.ao_w, &self.ao_b)? + x)?,
            &self.aln_w,
            &self.aln_b,
            eps,
        )?;
        let ff = linear(&a, &self.fi_w, &self.fi_b)?.gelu_erf()?;
        layer_norm(
            &(linear(&ff, &self.fo_w, &self.fo_b)? + a)?,
            &self.oln_w,
            &self.oln_b,
            eps,
        )
    }
}

/// `x·wᵀ + b` for `x` `[b, s, in]`.
fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    let (bs, s, i) = x.dims3()?;
    x.reshape((bs * s, i))?
        .matmul(&w.t()?)?
        .broadcast_add(b)?
        .reshape((bs, s, ()))
}

/// Softmax over the last dimension from differentiable ops (max-shifted for stability).
fn softmax_last(x: &Tensor) -> candle_core::Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Layer norm over the last dimension from differentiable ops.
fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    xc.broadcast_div(&(var + eps)?.sqrt()?)?
        .broadcast_mul(w)?
        .broadcast_add(b)
}

/// The additive attention bias `[b, 1, 1, s]` of a `[b, s]` 0/1 mask: 0 for tokens and a
/// large negative number for padding.
pub fn attention_bias(mask: &Tensor) -> candle_core::Result<Tensor> {
    let (b, s) = mask.dims2()?;
    ((mask.ones_like()? - mask)? * -1e9)?.reshape((b, 1, 1, s))
}

/// Mean over the tokens of the mask, then L2 normalisation, differentiable: `[b, h]`.
pub fn pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let m = mask.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
    let counts = m.sum(1)?.clamp(1.0, f64::INFINITY)?;
    l2_normalize(&summed.broadcast_div(&counts)?)
}

/// Rows of `[n, h]` scaled to unit length.
pub fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::INFINITY)?;
    x.broadcast_div(&norm)
}

/// The tuned layers `from_layer..from_layer + layers.len()` of the encoder.
#[derive(Debug, Clone)]
pub struct TunedTop {
    pub from_layer: usize,
    pub heads: usize,
    pub eps: f64,
    pub layers: Vec<LayerParams>,
}

impl TunedTop {
    /// The original layers `from_layer..` of the E5S1 file: the starting point of training.
    pub fn from_e5s1(weights: &Path, from_layer: usize) -> Result<Self, EncoderError> {
        let file = E5s1File::open(weights)?;
        let header: Header = file.header().clone();
        if from_layer > header.layers {
            return Err(EncoderError::LayerOutOfRange {
                layer: from_layer,
                layers: header.layers,
            });
        }
        let layers = (from_layer..header.layers)
            .map(|i| LayerParams::from_e5s1(&file, i, &Device::Cpu))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            from_layer,
            heads: header.heads,
            eps: f64::from(header.eps),
            layers,
        })
    }

    /// Runs the tuned layers on states that have passed `from_layer` frozen layers.
    pub fn forward(&self, states: &HiddenStates) -> Result<HiddenStates, EncoderError> {
        let bias = attention_bias(&states.mask)?;
        let mut x = states.hidden.clone();
        for l in &self.layers {
            x = l.forward(&x, &bias, self.heads, self.eps)?;
        }
        Ok(HiddenStates {
            hidden: x,
            mask: states.mask.clone(),
            lengths: states.lengths.clone(),
        })
    }

    /// The tensors by safetensors name.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            for (name, t) in PARAM_NAMES.iter().zip(l.tensors()) {
                out.push((format!("top.{k}.{name}"), t.clone()));
            }
        }
        out
    }

    /// Saves the layers as f16 safetensors (half the bytes; inference converts back to f32).
    pub fn save(&self, path: &Path) -> Result<(), EncoderError> {
        let map: HashMap<String, Tensor> = self
            .named_tensors()
            .into_iter()
            .map(|(n, t)| Ok((n, t.to_dtype(DType::F16)?)))
            .collect::<candle_core::Result<_>>()?;
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    /// Loads `layers` tuned layers saved by [`Self::save`].
    pub fn load(
        path: &Path,
        from_layer: usize,
        layers: usize,
        header: &Header,
    ) -> Result<Self, EncoderError> {
        let mut map = candle_core::safetensors::load(path, &Device::Cpu)?;
        let mut out = Vec::with_capacity(layers);
        for k in 0..layers {
            let mut ts = Vec::with_capacity(PARAM_NAMES.len());
            for name in PARAM_NAMES {
                let key = format!("top.{k}.{name}");
                let t = map.remove(&key).ok_or_else(|| EncoderError::Shape {
                    name: key.clone(),
                    expected: 1,
                    found: 0,
                })?;
                ts.push(t.to_dtype(DType::F32)?);
            }
            let arr: [Tensor; 12] = ts
                .try_into()
                .map_err(|_| EncoderError::InvalidOptions("tuned layer tensors".into()))?;
            out.push(LayerParams::from_tensors(arr));
        }
        if from_layer + layers != header.layers {
            return Err(EncoderError::LayerOutOfRange {
                layer: from_layer + layers,
                layers: header.layers,
            });
        }
        let top = Self {
            from_layer,
            heads: header.heads,
            eps: f64::from(header.eps),
            layers: out,
        };
        top.check_shapes(header)?;
        Ok(top)
    }

    fn check_shapes(&self, header: &Header) -> Result<(), EncoderError> {
        let (h, f) = (header.hidden, header.ffn);
        let expected: [&[usize]; 12] = [
            &[3 * h, h],
            &[3 * h],
            &[h, h],
            &[h],
            &[h],
            &[h],
            &[f, h],
            &[f],
            &[h, f],
            &[h],
            &[h],
            &[h],
        ];
        for (k, l) in self.layers.iter().enumerate() {
            for ((name, t), shape) in PARAM_NAMES.iter().zip(l.tensors()).zip(expected) {
                if t.dims() != shape {
                    return Err(EncoderError::Shape {
                        name: format!("top.{k}.{name}"),
                        expected: shape.iter().product(),
                        found: t.elem_count(),
                    });
                }
            }
        }
        Ok(())
    }
}
