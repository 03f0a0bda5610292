//! The frozen bottom of the encoder, run once: hidden states after `from_layer` layers for
//! every chunk of every training text, truncated to the chunk's real length. Training then
//! runs only the top layers, epoch after epoch, on these states.
//!
//! A cache is also written to disk (f16 safetensors, keyed by a hash of the encoder, the
//! layer and the chunk texts) so a second run — or a resumed one — skips the expensive part.

use candle_core::{DType, Device, Tensor};
use clipguard_models::text::classifier::PREFIX;
use clipguard_models::text::encoder::{E5Encoder, EncoderError, length_groups};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Hidden states of chunks after the frozen layers: one `[len, hidden]` f32 tensor each.
#[derive(Debug, Clone)]
pub struct ChunkStates {
    pub states: Vec<Tensor>,
}

impl ChunkStates {
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Chunks `ids` padded into one batch: (`[b, s, h]` states, `[b, s]` 0/1 mask).
    pub fn batch(&self, ids: &[usize]) -> candle_core::Result<(Tensor, Tensor)> {
        let longest = ids
            .iter()
            .map(|&i| self.states[i].dim(0))
            .collect::<candle_core::Result<Vec<_>>>()?
            .into_iter()
            .max()
            .unwrap_or(1);
        let mut rows = Vec::with_capacity(ids.len());
        let mut mask = Vec::with_capacity(ids.len() * longest);
        for &i in ids {
            let t = &self.states[i];
            let n = t.dim(0)?;
            rows.push(t.pad_with_zeros(0, 0, longest - n)?);
            mask.extend((0..longest).map(|j| if j < n { 1f32 } else { 0.0 }));
        }
        let hidden = Tensor::stack(&rows, 0)?;
        let mask = Tensor::from_vec(mask, (ids.len(), longest), &Device::Cpu)?;
        Ok((hidden, mask))
    }
}

/// A key naming the cache of these chunks at this layer of this encoder.
pub fn cache_key(encoder: &E5Encoder, from_layer: usize, chunks: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(encoder.version().as_bytes());
    h.update(from_layer.to_le_bytes());
    h.update(encoder.options().max_tokens.to_le_bytes());
    for c in chunks {
        h.update(c.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..20].to_string()
}

fn cache_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("states-{key}.safetensors"))
}

/// Hidden states of `chunks` after `from_layer` layers, from `cache_dir` when there, else
/// computed (and saved there). `progress(done, total)` is called as chunks are done.
pub fn chunk_states(
    encoder: &E5Encoder,
    from_layer: usize,
    chunks: &[String],
    cache_dir: Option<&Path>,
    progress: &dyn Fn(usize, usize),
) -> Result<ChunkStates, EncoderError> {
    let key = cache_key(encoder, from_layer, chunks);
    if let Some(dir) = cache_dir
        && let Some(states) = load(&cache_path(dir, &key), chunks.len())
    {
        progress(chunks.len(), chunks.len());
        return Ok(states);
    }
    let lengths = chunks
        .iter()
        .map(|c| encoder.count_tokens(c, PREFIX))
        .collect::<Result<Vec<_>, _>>()?;
    let mut states: Vec<Option<Tensor>> = vec![None; chunks.len()];
    let mut done = 0;
    for group in length_groups(&lengths, 4096, 32) {
        let texts: Vec<&str> = group.iter().map(|&i| chunks[i].as_str()).collect();
        let hs = encoder.hidden_states_at_layer(&texts, PREFIX, from_layer)?;
        for (j, &i) in group.iter().enumerate() {
            let n = hs.lengths[j];
            states[i] = Some(hs.hidden.get(j)?.narrow(0, 0, n)?.contiguous()?);
        }
        done += group.len();
        progress(done, chunks.len());
    }
    let states = ChunkStates {
        states: states
            .into_iter()
            .map(|s| s.expect("every chunk in a group"))
            .collect(),
    };
    if let Some(dir) = cache_dir {
        // A cache that cannot be written only costs time on the next run.
        let _ = std::fs::create_dir_all(dir).map(|_| save(&cache_path(dir, &key), &states));
    }
    Ok(states)
}

fn save(path: &Path, s: &ChunkStates) -> candle_core::Result<()> {
    let lengths: Vec<u32> = s
        .states
        .iter()
        .map(|t| t.dim(0).map(|n| n as u32))
        .collect::<candle_core::Result<_>>()?;
    let n = lengths.len();
    let mut map = HashMap::new();
    map.insert(
        "hidden".to_string(),
        Tensor::cat(&s.states, 0)?.to_dtype(DType::F16)?,
    );
    map.insert(
        "lengths".to_string(),
        Tensor::from_vec(lengths, n, &Device::Cpu)?,
    );
    let tmp = path.with_extension("tmp");
    candle_core::safetensors::save(&map, &tmp)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn load(path: &Path, expected: usize) -> Option<ChunkStates> {
    let map = candle_core::safetensors::load(path, &Device::Cpu).ok()?;
    let hidden = map.get("hidden")?.to_dtype(DType::F32).ok()?;
    let lengths = map.get("lengths")?.to_vec1::<u32>().ok()?;
    if lengths.len() != expected {
        return None;
    }
    let mut at = 0;
    let mut states = Vec::with_capacity(expected);
    for n in lengths {
        let n = n as usize;
        states.push(hidden.narrow(0, at, n).ok()?.contiguous().ok()?);
        at += n;
    }
    Some(ChunkStates { states })
}
