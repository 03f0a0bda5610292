//! Logit filters for greedy decoding and the repetition guard.
//!
//! The filters follow `whisper.decoding` (`SuppressTokens`, `SuppressBlank`,
//! `ApplyTimestampRules`): suppressed ids never win; the first sampled token is a timestamp
//! of at most 1 s; timestamps come in pairs, never go backwards, and are forced when their
//! total probability beats every single text token.

/// Ids of the special tokens the decoder needs (all checked against the vocabulary).
#[derive(Debug, Clone)]
pub struct SpecialTokens {
    pub eot: u32,
    pub sot: u32,
    pub transcribe: u32,
    pub no_speech: u32,
    /// `<|0.00|>`; timestamp `t` is `timestamp_begin + t / 0.02`.
    pub timestamp_begin: u32,
}

/// Whisper's timestamp resolution in seconds.
pub const TIME_PRECISION: f32 = 0.02;
/// The first timestamp may be at most 1.0 s (`max_initial_timestamp` in Whisper).
const MAX_INITIAL_TIMESTAMP_INDEX: u32 = 50;

/// Applies the suppression and timestamp rules to one step's logits.
#[derive(Debug, Clone)]
pub struct LogitRules {
    /// Always suppressed (config `suppress_ids`, all non-timestamp specials except EOT).
    suppress: Vec<u32>,
    /// Suppressed at the first sampled position (config `suppress_ids_begin`: blank, EOT).
    suppress_begin: Vec<u32>,
    eot: u32,
    timestamp_begin: u32,
}

impl LogitRules {
    /// `suppress` and `suppress_begin` come from the CTranslate2 config; every special token
    /// between EOT and the timestamps (SOT, languages, tasks, no-speech, no-timestamps) is
    /// added so that greedy decoding can only emit text, timestamps or EOT.
    pub fn new(
        tokens: &SpecialTokens,
        suppress: &[u32],
        suppress_begin: &[u32],
        vocab: usize,
    ) -> Self {
        let mut all: Vec<u32> = suppress
            .iter()
            .copied()
            .filter(|&t| (t as usize) < vocab)
            .collect();
        all.extend(tokens.eot + 1..tokens.timestamp_begin);
        all.sort_unstable();
        all.dedup();
        Self {
            suppress: all,
            suppress_begin: suppress_begin
                .iter()
                .copied()
                .filter(|&t| (t as usize) < vocab)
                .collect(),
            eot: tokens.eot,
            timestamp_begin: tokens.timestamp_begin,
        }
    }

    /// Filters `logits` (full vocabulary) given the tokens sampled so far in this window.
    pub fn apply(&self, logits: &mut [f32], sampled: &[u32]) {
        let ninf = f32::NEG_INFINITY;
        let ts = self.timestamp_begin as usize;
        let eot = self.eot as usize;
        let vocab = logits.len();
        let kill = |range: std::ops::Range<usize>, logits: &mut [f32]| {
            let range = range.start.min(vocab)..range.end.min(vocab);
            logits[range].fill(ninf);
        };
        for &t in &self.suppress {
            logits[t as usize] = ninf;
        }
        if sampled.is_empty() {
            for &t in &self.suppress_begin {
                logits[t as usize] = ninf;
            }
        }
        let is_ts = |t: u32| t >= self.timestamp_begin;
        let n = sampled.len();
        let last_was_ts = n >= 1 && is_ts(sampled[n - 1]);
        let penultimate_was_ts = n < 2 || is_ts(sampled[n - 2]);
        if last_was_ts {
            if penultimate_was_ts {
                kill(ts..vocab, logits);
            } else {
                kill(0..eot, logits);
            }
        }
        if let Some(&last_ts) = sampled.iter().rev().find(|&&t| is_ts(t)) {
            let floor = if last_was_ts && !penultimate_was_ts {
                last_ts
            } else {
                last_ts + 1
            };
            kill(ts..floor as usize, logits);
        }
        if n == 0 {
            kill(0..ts, logits);
            kill(ts + MAX_INITIAL_TIMESTAMP_INDEX as usize + 1..vocab, logits);
        }
        // Force a timestamp when the timestamps together are likelier than any text token.
        let lse = log_sum_exp(&logits[ts.min(vocab)..]);
        let max_text = logits[..ts.min(vocab)].iter().copied().fold(ninf, f32::max);
        if lse > max_text {
            kill(0..ts, logits);
        }
    }
}

/// `log Σ exp(x)`, stable; `-inf` for an empty or all `-inf` slice.
pub fn log_sum_exp(x: &[f32]) -> f32 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// Index and log-probability of the best token (`None` if every logit is `-inf` or NaN).
pub fn argmax_logprob(logits: &[f32]) -> Option<(u32, f32)> {
    let (best, &v) = logits
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    Some((best as u32, v - log_sum_exp(logits)))
}

/// Softmax probability of `index` among `logits`.
pub fn probability(logits: &[f32], index: usize) -> f32 {
    logits
        .get(index)
        .map_or(0.0, |&v| (v - log_sum_exp(logits)).exp())
}

/// Longest n-gram the guard looks for, in text tokens.
const MAX_NGRAM: usize = 16;

/// How many back-to-back copies of an n-gram count as a decoding loop.
fn repeats_needed(n: usize) -> usize {
    match n {
        1 => 8,
        2 => 5,
        3 => 4,
        _ => 3,
    }
}

/// If the text tokens of `sampled` (timestamps ignored) end in an n-gram repeated
/// back-to-back often enough to be a decoding loop, returns the index in `sampled` where the
/// second copy starts, so that cutting there keeps exactly one copy.
pub fn repetition_cut(sampled: &[u32], timestamp_begin: u32) -> Option<usize> {
    let text: Vec<usize> = (0..sampled.len())
        .filter(|&i| sampled[i] < timestamp_begin)
        .collect();
    let len = text.len();
    for n in 1..=MAX_NGRAM {
        let reps = repeats_needed(n);
        if n * reps > len {
            break;
        }
        let tail = &text[len - n * reps..];
        let gram: Vec<u32> = tail[..n].iter().map(|&i| sampled[i]).collect();
        let looping = tail
            .chunks_exact(n)
            .all(|c| c.iter().zip(&gram).all(|(&i, &g)| sampled[i] == g));
        if looping {
            return Some(tail[n]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: u32 = 100;

    fn rules() -> LogitRules {
        let tokens = SpecialTokens {
            eot: 90,
            sot: 91,
            transcribe: 92,
            no_speech: 93,
            timestamp_begin: TS,
        };
        LogitRules::new(&tokens, &[5], &[1, 90], 200)
    }

    fn best(sampled: &[u32], logits: &mut [f32]) -> u32 {
        rules().apply(logits, sampled);
        argmax_logprob(logits).unwrap().0
    }

    #[test]
    fn first_token_is_an_early_timestamp() {
        let mut l = vec![0.0; 200];
        l[5] = 10.0;
        l[199] = 9.0;
        l[120] = 1.0;
        assert_eq!(best(&[], &mut l), 120);
        assert_eq!(l[151], f32::NEG_INFINITY);
    }

    #[test]
    fn timestamps_pair_and_never_go_back() {
        // After "<t=10> text", a timestamp is allowed but not below 10.
        let mut l = vec![0.0; 200];
        l[TS as usize + 5] = 50.0;
        l[TS as usize + 12] = 40.0;
        assert_eq!(best(&[TS + 10, 7], &mut l), TS + 12);
        // After an unpaired timestamp only a timestamp (≥ it) or EOT may follow.
        let mut l = vec![-10.0; 200];
        l[7] = 50.0;
        l[90] = 1.0;
        assert_eq!(best(&[TS, 7, TS + 20], &mut l), 90);
        // After a pair, text must follow.
        let mut l = vec![0.0; 200];
        l[TS as usize + 30] = 50.0;
        l[8] = 1.0;
        assert_eq!(best(&[TS, 7, TS + 20, TS + 20], &mut l), 8);
    }

    #[test]
    fn detects_loops_and_keeps_one_copy() {
        let s = [
            TS,
            1,
            2,
            3,
            4,
            TS + 5,
            TS + 5,
            1,
            2,
            3,
            4,
            TS + 9,
            TS + 9,
            1,
            2,
            3,
            4,
        ];
        assert_eq!(repetition_cut(&s, TS), Some(7));
        assert_eq!(repetition_cut(&[1, 2, 3, 4, 1, 2, 3], TS), None);
        assert_eq!(repetition_cut(&[7; 8], TS), Some(1));
        assert_eq!(repetition_cut(&[7; 7], TS), None);
    }

    #[test]
    fn all_suppressed_gives_none() {
        assert!(argmax_logprob(&[f32::NEG_INFINITY; 3]).is_none());
        assert!((probability(&[0.0, 0.0], 1) - 0.5).abs() < 1e-6);
    }
}
