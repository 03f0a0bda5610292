//! Maps CTranslate2 Whisper variables onto the tensor names candle's whisper model loads.
//!
//! CTranslate2 fuses projections: self-attention `linear_0` is `[q; k; v]` (3d × d) and the
//! decoder cross-attention `linear_1` is `[k; v]` (2d × d). Whisper's key projections have no
//! bias (CTranslate2 stores zeros there), and candle loads them with `linear_no_bias`, so the
//! key bias slice is dropped. Layer norms are `gamma`/`beta` in CTranslate2 and
//! `weight`/`bias` in candle. Float16 weights are widened to f32 (candle's CPU f16 matmul is
//! slower than f32 here).

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use super::AsrError;
use crate::files::ct2::Ct2Model;

/// Model dimensions read from (and checked against) the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub n_mels: usize,
    pub d_model: usize,
    pub encoder_heads: usize,
    pub decoder_heads: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub vocab: usize,
    pub source_positions: usize,
    pub target_positions: usize,
}

impl Dims {
    /// Reads the dimensions from the shapes of a few variables and the `num_heads` scalars.
    pub fn from_ct2(m: &Ct2Model) -> Result<Self, AsrError> {
        let shape =
            |name: &str| -> Result<Vec<usize>, AsrError> { Ok(m.require(name)?.dims.to_vec()) };
        let heads = |name: &str| -> Result<usize, AsrError> {
            let v = m.require(name)?.to_i64()?;
            match v.as_slice() {
                [h] if *h > 0 => Ok(*h as usize),
                _ => Err(AsrError::InvalidModel(format!("{name} = {v:?}"))),
            }
        };
        let conv1 = shape("encoder/conv1/weight")?;
        let emb = shape("decoder/embeddings/weight")?;
        let enc_pos = shape("encoder/position_encodings/encodings")?;
        let dec_pos = shape("decoder/position_encodings/encodings")?;
        let count = |side: &str| {
            (0..)
                .take_while(|i| {
                    m.get(&format!("{side}/layer_{i}/ffn/linear_0/weight"))
                        .is_some()
                })
                .count()
        };
        let bad = |what: &str, dims: &[usize]| AsrError::InvalidModel(format!("{what} {dims:?}"));
        let [d_model, n_mels, 3] = conv1[..] else {
            return Err(bad("encoder/conv1/weight", &conv1));
        };
        let [vocab, d_emb] = emb[..] else {
            return Err(bad("decoder/embeddings/weight", &emb));
        };
        let [source_positions, d_enc] = enc_pos[..] else {
            return Err(bad("encoder/position_encodings", &enc_pos));
        };
        let [target_positions, d_dec] = dec_pos[..] else {
            return Err(bad("decoder/position_encodings", &dec_pos));
        };
        if d_emb != d_model || d_enc != d_model || d_dec != d_model {
            return Err(AsrError::InvalidModel(format!(
                "model widths differ: conv {d_model}, embeddings {d_emb}, positions {d_enc}/{d_dec}"
            )));
        }
        let dims = Self {
            n_mels,
            d_model,
            encoder_heads: heads("encoder/num_heads")?,
            decoder_heads: heads("decoder/num_heads")?,
            encoder_layers: count("encoder"),
            decoder_layers: count("decoder"),
            vocab,
            source_positions,
            target_positions,
        };
        if dims.encoder_layers == 0
            || dims.decoder_layers == 0
            || d_model % dims.encoder_heads != 0
            || d_model % dims.decoder_heads != 0
        {
            return Err(AsrError::InvalidModel(format!("{dims:?}")));
        }
        Ok(dims)
    }

    /// candle's whisper config with these dimensions.
    pub fn candle_config(
        &self,
        suppress_tokens: Vec<u32>,
    ) -> candle_transformers::models::whisper::Config {
        candle_transformers::models::whisper::Config {
            num_mel_bins: self.n_mels,
            max_source_positions: self.source_positions,
            d_model: self.d_model,
            encoder_attention_heads: self.encoder_heads,
            encoder_layers: self.encoder_layers,
            vocab_size: self.vocab,
            max_target_positions: self.target_positions,
            decoder_attention_heads: self.decoder_heads,
            decoder_layers: self.decoder_layers,
            suppress_tokens,
        }
    }
}

/// Builds the candle tensor map (`model.encoder…`, `model.decoder…`) from a CTranslate2 model.
pub fn candle_tensors(
    m: &Ct2Model,
    dims: &Dims,
    device: &Device,
) -> Result<HashMap<String, Tensor>, AsrError> {
    let d = dims.d_model;
    let mut out = HashMap::new();
    // Loads `src` as f32 with the expected shape.
    let load = |src: &str, expected: &[usize]| -> Result<Tensor, AsrError> {
        let v = m.require(src)?;
        if v.dims != expected {
            return Err(AsrError::WeightShape {
                name: src.to_owned(),
                expected: expected.to_vec(),
                actual: v.dims.to_vec(),
            });
        }
        Ok(Tensor::from_vec(v.to_f32()?, expected, device)?)
    };
    let linear = |out: &mut HashMap<String, Tensor>,
                  src: &str,
                  dst: &str,
                  rows: usize,
                  cols: usize|
     -> Result<(), AsrError> {
        out.insert(
            format!("{dst}.weight"),
            load(&format!("{src}/weight"), &[rows, cols])?,
        );
        out.insert(
            format!("{dst}.bias"),
            load(&format!("{src}/bias"), &[rows])?,
        );
        Ok(())
    };
    let norm = |out: &mut HashMap<String, Tensor>, src: &str, dst: &str| -> Result<(), AsrError> {
        out.insert(
            format!("{dst}.weight"),
            load(&format!("{src}/gamma"), &[d])?,
        );
        out.insert(format!("{dst}.bias"), load(&format!("{src}/beta"), &[d])?);
        Ok(())
    };
    // Splits a fused projection `[a; b; …]` into `parts` (name, keep_bias).
    let split = |out: &mut HashMap<String, Tensor>,
                 src: &str,
                 dst: &str,
                 parts: &[(&str, bool)]|
     -> Result<(), AsrError> {
        let n = parts.len();
        let w = load(&format!("{src}/weight"), &[n * d, d])?;
        let b = load(&format!("{src}/bias"), &[n * d])?;
        for (i, (name, keep_bias)) in parts.iter().enumerate() {
            out.insert(
                format!("{dst}.{name}.weight"),
                w.narrow(0, i * d, d)?.contiguous()?,
            );
            if *keep_bias {
                out.insert(
                    format!("{dst}.{name}.bias"),
                    b.narrow(0, i * d, d)?.contiguous()?,
                );
            }
        }
        Ok(())
    };

    for conv in ["conv1", "conv2"] {
        let cin = if conv == "conv1" { dims.n_mels } else { d };
        out.insert(
            format!("model.encoder.{conv}.weight"),
            load(&format!("encoder/{conv}/weight"), &[d, cin, 3])?,
        );
        out.insert(
            format!("model.encoder.{conv}.bias"),
            load(&format!("encoder/{conv}/bias"), &[d])?,
        );
    }
    for (side, layers) in [
        ("encoder", dims.encoder_layers),
        ("decoder", dims.decoder_layers),
    ] {
        for i in 0..layers {
            let src = format!("{side}/layer_{i}");
            let dst = format!("model.{side}.layers.{i}");
            split(
                &mut out,
                &format!("{src}/self_attention/linear_0"),
                &format!("{dst}.self_attn"),
                &[("q_proj", true), ("k_proj", false), ("v_proj", true)],
            )?;
            linear(
                &mut out,
                &format!("{src}/self_attention/linear_1"),
                &format!("{dst}.self_attn.out_proj"),
                d,
                d,
            )?;
            norm(
                &mut out,
                &format!("{src}/self_attention/layer_norm"),
                &format!("{dst}.self_attn_layer_norm"),
            )?;
            if side == "decoder" {
                linear(
                    &mut out,
                    &format!("{src}/attention/linear_0"),
                    &format!("{dst}.encoder_attn.q_proj"),
                    d,
                    d,
                )?;
                split(
                    &mut out,
                    &format!("{src}/attention/linear_1"),
                    &format!("{dst}.encoder_attn"),
                    &[("k_proj", false), ("v_proj", true)],
                )?;
                linear(
                    &mut out,
                    &format!("{src}/attention/linear_2"),
                    &format!("{dst}.encoder_attn.out_proj"),
                    d,
                    d,
                )?;
                norm(
                    &mut out,
                    &format!("{src}/attention/layer_norm"),
                    &format!("{dst}.encoder_attn_layer_norm"),
                )?;
            }
            linear(
                &mut out,
                &format!("{src}/ffn/linear_0"),
                &format!("{dst}.fc1"),
                4 * d,
                d,
            )?;
            linear(
                &mut out,
                &format!("{src}/ffn/linear_1"),
                &format!("{dst}.fc2"),
                d,
                4 * d,
            )?;
            norm(
                &mut out,
                &format!("{src}/ffn/layer_norm"),
                &format!("{dst}.final_layer_norm"),
            )?;
        }
        norm(
            &mut out,
            &format!("{side}/layer_norm"),
            &format!("model.{side}.layer_norm"),
        )?;
    }
    out.insert(
        "model.decoder.embed_tokens.weight".into(),
        load("decoder/embeddings/weight", &[dims.vocab, d])?,
    );
    out.insert(
        "model.decoder.embed_positions.weight".into(),
        load(
            "decoder/position_encodings/encodings",
            &[dims.target_positions, d],
        )?,
    );
    Ok(out)
}
