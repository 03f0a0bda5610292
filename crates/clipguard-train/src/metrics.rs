//! Binary classification metrics for harmful-vs-safe: F1 of the harmful class, precision,
//! recall, accuracy, ROC AUC, the confusion matrix, and threshold tuning (on validation data
//! only — the caller's responsibility, enforced by the dataset readers refusing test splits
//! for training).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub n: usize,
    pub f1_harmful: f64,
    pub precision: f64,
    pub recall: f64,
    pub auc: f64,
    pub accuracy: f64,
    pub threshold: f64,
    /// [[true safe, false harmful], [false safe, true harmful]] (rows: truth safe, harmful).
    pub confusion: [[usize; 2]; 2],
}

pub fn report(scores: &[f32], truth: &[bool], threshold: f32) -> Report {
    let mut c = [[0usize; 2]; 2];
    for (s, t) in scores.iter().zip(truth) {
        c[usize::from(*t)][usize::from(*s >= threshold)] += 1;
    }
    let (tp, fp, fneg) = (c[1][1] as f64, c[0][1] as f64, c[1][0] as f64);
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fneg > 0.0 {
        tp / (tp + fneg)
    } else {
        0.0
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let n = scores.len();
    Report {
        n,
        f1_harmful: f1,
        precision,
        recall,
        auc: auc(scores, truth),
        accuracy: (c[0][0] + c[1][1]) as f64 / n.max(1) as f64,
        threshold: f64::from(threshold),
        confusion: c,
    }
}

/// ROC AUC by the rank statistic (ties count half).
pub fn auc(scores: &[f32], truth: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let (mut rank_sum, mut i) = (0.0f64, 0usize);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|k| truth[idx[*k]]).count() as f64 * avg;
        i = j + 1;
    }
    let pos = truth.iter().filter(|t| **t).count() as f64;
    let neg = truth.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// The threshold maximising F1(harmful) on these (validation) scores: halfway between the
/// lowest score called harmful and the next lower score, so a text scored exactly at the
/// threshold is not decided by the last bit of floating-point noise.
pub fn best_threshold(scores: &[f32], truth: &[bool]) -> f32 {
    let mut candidates: Vec<f32> = scores.to_vec();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let best = candidates
        .iter()
        .enumerate()
        .map(|(i, &t)| (report(scores, truth, t).f1_harmful, i))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    match best {
        None => 0.5,
        Some((_, 0)) => candidates[0],
        Some((_, i)) => (candidates[i] + candidates[i - 1]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let s = [0.9, 0.8, 0.3, 0.6, 0.1, 0.2];
        let t = [true, true, true, false, false, false];
        let r = report(&s, &t, 0.5);
        assert_eq!(r.confusion, [[2, 1], [1, 2]]);
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((r.f1_harmful - 2.0 / 3.0).abs() < 1e-9);
        // AUC: pairs (pos > neg): 0.9,0.8 beat all 3; 0.3 beats 0.1,0.2 → 8/9.
        assert!((r.auc - 8.0 / 9.0).abs() < 1e-9);
        let best = best_threshold(&s, &t);
        assert!(report(&s, &t, best).f1_harmful >= r.f1_harmful);
        // The best cut calls 0.9, 0.8, 0.6 and 0.3 harmful (F1 6/7): halfway to 0.2.
        assert!((best - 0.25).abs() < 1e-6, "{best}");
    }
}
