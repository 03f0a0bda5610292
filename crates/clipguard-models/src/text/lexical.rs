//! The lexical view of the text model: a linear model over hashed word and character n-grams.
//!
//! Why a second view next to e5: the seed's comment dumps are long (3 500 characters on
//! average in its test split, up to 22 000) while the encoder reads the first `max_chunks`
//! chunks only, and the words that mark a harmful video (a telegram handle, a gambling site's
//! name, slang spelled ten ways) are often rare tokens the small encoder maps poorly. N-gram
//! weights see the whole text and those exact strings, cost microseconds, and make errors of
//! a different kind than the encoder's. Measured for the starter bundle: on the seed's
//! validation split the blend ranks better than either view (AUC 0.838 vs 0.822 and 0.821);
//! on its test split about as well as e5 alone (0.806 vs 0.803).
//!
//! Features (the same ones training computes, through [`LexicalModel::features`]):
//! - words: lower-cased runs of letters/digits of 2+ characters, unigrams and bigrams;
//! - characters: n-grams of 2..=5 characters inside each whitespace-separated word padded
//!   with one space on each side (so prefixes and suffixes are their own features);
//! - each view hashed into `buckets` slots (FNV-1a, a view byte first), sublinear term
//!   frequency `1 + ln tf` times the slot's idf (0 for slots seen in fewer than `min_df`
//!   training texts), L2-normalised per view.

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

use super::encoder::EncoderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LexicalOptions {
    /// Hash slots per view (words, characters).
    pub buckets: usize,
    /// Character n-gram lengths, inclusive.
    pub char_min: usize,
    pub char_max: usize,
    /// Slots seen in fewer training texts are ignored.
    pub min_df: usize,
}

impl Default for LexicalOptions {
    fn default() -> Self {
        Self {
            buckets: 1 << 17,
            char_min: 2,
            char_max: 5,
            min_df: 2,
        }
    }
}

/// The trained weights: one idf and one weight per slot of both views (`2 × buckets`).
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalModel {
    pub options: LexicalOptions,
    pub idf: Vec<f32>,
    pub w: Vec<f32>,
    pub b: f32,
}

/// A sparse feature vector: (slot, value), slots ascending.
pub type Features = Vec<(u32, f32)>;

const WORDS: u8 = b'w';
const CHARS: u8 = b'c';

fn fnv1a(view: u8, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(view);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            eat(0);
        }
        p.bytes().for_each(&mut eat);
    }
    h
}

/// The slots of a text's n-grams with their counts, per view (slots are view-local).
pub fn counts(text: &str, options: &LexicalOptions) -> [HashMap<u32, u32>; 2] {
    let lower = text.replace("[SEP]", " ").to_lowercase();
    let buckets = options.buckets.max(1) as u64;
    let slot = |h: u64| (h % buckets) as u32;
    let mut words = HashMap::new();
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.chars().nth(1).is_some())
        .collect();
    for (i, t) in tokens.iter().enumerate() {
        *words.entry(slot(fnv1a(WORDS, &[t]))).or_insert(0) += 1;
        if let Some(next) = tokens.get(i + 1) {
            *words.entry(slot(fnv1a(WORDS, &[t, next]))).or_insert(0) += 1;
        }
    }
    let mut chars = HashMap::new();
    let mut buf = String::new();
    for word in lower.split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in options.char_min.max(1)..=options.char_max {
            // A word shorter than n counts once, whole (as n-grams of it would repeat it).
            let last = padded.len().saturating_sub(n);
            for start in 0..=last {
                buf.clear();
                buf.extend(&padded[start..(start + n).min(padded.len())]);
                *chars.entry(slot(fnv1a(CHARS, &[&buf]))).or_insert(0) += 1;
            }
        }
    }
    [words, chars]
}

/// Sublinear tf × idf, L2-normalised per view, as global slots (`view × buckets + slot`).
pub fn weigh(counts: &[HashMap<u32, u32>; 2], idf: &[f32], buckets: usize) -> Features {
    let mut out = Vec::new();
    for (view, c) in counts.iter().enumerate() {
        let base = view * buckets;
        let mut part: Vec<(u32, f32)> = c
            .iter()
            .filter_map(|(&s, &n)| {
                let g = base + s as usize;
                let idf = idf.get(g).copied().unwrap_or(0.0);
                (idf > 0.0).then(|| (g as u32, (1.0 + (n as f32).ln()) * idf))
            })
            .collect();
        // Slot order first: the sum below must not depend on the map's iteration order
        // (same text → same bits, so training is reproducible).
        part.sort_unstable_by_key(|(s, _)| *s);
        let norm = part.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            part.iter_mut().for_each(|(_, v)| *v /= norm);
        }
        out.extend(part);
    }
    out
}

/// `w · x + b` for a sparse `x`.
pub fn dot(w: &[f32], b: f32, x: &[(u32, f32)]) -> f32 {
    x.iter()
        .map(|(s, v)| w.get(*s as usize).copied().unwrap_or(0.0) * v)
        .sum::<f32>()
        + b
}

pub const IDF: &str = "lexical.idf";
pub const WEIGHTS: &str = "lexical.w";
pub const BIAS: &str = "lexical.b";

impl LexicalModel {
    pub fn features(&self, text: &str) -> Features {
        weigh(
            &counts(text, &self.options),
            &self.idf,
            self.options.buckets,
        )
    }

    pub fn logit(&self, text: &str) -> f32 {
        dot(&self.w, self.b, &self.features(text))
    }

    /// Saved as f16 (the bundle's precision; ~1 MB for the default 2 × 2¹⁷ slots).
    pub fn save(&self, path: &Path) -> Result<(), EncoderError> {
        let dev = Device::Cpu;
        let map = HashMap::from([
            (
                IDF.to_string(),
                Tensor::from_slice(&self.idf, self.idf.len(), &dev)?.to_dtype(DType::F16)?,
            ),
            (
                WEIGHTS.to_string(),
                Tensor::from_slice(&self.w, self.w.len(), &dev)?.to_dtype(DType::F16)?,
            ),
            (BIAS.to_string(), Tensor::from_slice(&[self.b], 1, &dev)?),
        ]);
        candle_core::safetensors::save(&map, path)?;
        Ok(())
    }

    pub fn load(path: &Path, options: LexicalOptions) -> Result<Self, EncoderError> {
        let map = candle_core::safetensors::load(path, &Device::Cpu)?;
        let get = |name: &str, len: usize| -> Result<Vec<f32>, EncoderError> {
            let t = map.get(name).ok_or_else(|| EncoderError::Shape {
                name: name.to_string(),
                expected: len,
                found: 0,
            })?;
            let v = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if v.len() != len {
                return Err(EncoderError::Shape {
                    name: name.to_string(),
                    expected: len,
                    found: v.len(),
                });
            }
            Ok(v)
        };
        let slots = 2 * options.buckets;
        Ok(Self {
            options,
            idf: get(IDF, slots)?,
            w: get(WEIGHTS, slots)?,
            b: get(BIAS, 1)?[0],
        })
    }
}

/// Mean and spread of a score over the validation split: puts both views on one scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    pub mean: f32,
    pub std: f32,
}

impl Scale {
    pub fn of(values: &[f32]) -> Self {
        let n = values.len().max(1) as f32;
        let mean = values.iter().sum::<f32>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        Self {
            mean,
            std: var.sqrt().max(1e-6),
        }
    }

    fn z(&self, v: f32) -> f32 {
        (v - self.mean) / self.std
    }
}

/// How the e5 and lexical logits are blended: standardised, weighted, and put back on the
/// e5 logit's scale (so the harmful probability keeps the spread the fusion combiner knows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    pub e5: Scale,
    pub lexical: Scale,
    /// The lexical view's share (0: e5 alone, 1: lexical alone).
    pub lexical_weight: f32,
}

impl Blend {
    pub fn logit(&self, e5: f32, lexical: f32) -> f32 {
        let w = self.lexical_weight.clamp(0.0, 1.0);
        let z = (1.0 - w) * self.e5.z(e5) + w * self.lexical.z(lexical);
        self.e5.mean + self.e5.std * z
    }
}

/// A bundle's lexical view: how its features are made and how it joins the e5 logit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LexicalConfig {
    pub options: LexicalOptions,
    pub blend: Blend,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(options: LexicalOptions) -> LexicalModel {
        LexicalModel {
            options,
            idf: vec![1.0; 2 * options.buckets],
            w: vec![0.0; 2 * options.buckets],
            b: 0.0,
        }
    }

    #[test]
    fn features_are_normalised_per_view_and_case_and_separators_do_not_matter() {
        let m = model(LexicalOptions {
            buckets: 1 << 12,
            ..LexicalOptions::default()
        });
        let a = m.features("Add me on TELEGRAM [SEP] hmu");
        let b = m.features("add me on telegram hmu");
        assert_eq!(a, b);
        let b = m.options.buckets as u32;
        let (words, chars): (Vec<_>, Vec<_>) = a.iter().partition(|(s, _)| *s < b);
        for view in [words, chars] {
            let norm: f32 = view.iter().map(|(_, v)| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        }
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn counts_words_bigrams_and_padded_char_ngrams() {
        let o = LexicalOptions {
            buckets: 1 << 20,
            char_min: 2,
            char_max: 3,
            min_df: 1,
        };
        let [words, chars] = counts("ab ab x", &o);
        // "ab" twice, bigram "ab ab" once; "x" is too short for a word token.
        assert_eq!(words.values().sum::<u32>(), 3);
        // " ab " → 3 bigrams + 2 trigrams, twice; " x " → 2 + 1.
        assert_eq!(chars.values().sum::<u32>(), 13);
    }

    #[test]
    fn the_logit_uses_the_weights_of_present_slots_and_zero_idf_slots_are_ignored() {
        let o = LexicalOptions {
            buckets: 1 << 12,
            ..LexicalOptions::default()
        };
        let mut m = model(o);
        let x = m.features("casino");
        let (slot, v) = x[0];
        m.w[slot as usize] = 2.0;
        m.b = -1.0;
        assert!((m.logit("casino") - (2.0 * v - 1.0)).abs() < 1e-6);
        m.idf.iter_mut().for_each(|v| *v = 0.0);
        assert_eq!(m.features("casino"), vec![]);
        assert_eq!(m.logit("casino"), -1.0);
    }

    #[test]
    fn blend_is_on_the_e5_scale() {
        let blend = Blend {
            e5: Scale {
                mean: -1.0,
                std: 2.0,
            },
            lexical: Scale {
                mean: 0.0,
                std: 0.5,
            },
            lexical_weight: 0.5,
        };
        assert_eq!(blend.logit(-1.0, 0.0), -1.0);
        // One spread above the mean in both views: one e5 spread above its mean.
        assert!((blend.logit(1.0, 0.5) - 1.0).abs() < 1e-6);
        assert!((blend.logit(1.0, -0.5) - -1.0).abs() < 1e-6);
        let e5_only = Blend {
            lexical_weight: 0.0,
            ..blend
        };
        assert_eq!(e5_only.logit(1.0, 100.0), 1.0);
    }

    #[test]
    fn save_and_load_round_trip_in_f16() {
        let o = LexicalOptions {
            buckets: 64,
            ..LexicalOptions::default()
        };
        let mut m = model(o);
        m.w[3] = 0.25;
        m.b = 0.125;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lexical.safetensors");
        m.save(&path).unwrap();
        assert_eq!(LexicalModel::load(&path, o).unwrap(), m);
        let wrong = LexicalOptions { buckets: 32, ..o };
        assert!(LexicalModel::load(&path, wrong).is_err());
    }
}
