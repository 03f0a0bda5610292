//! The live monitor's numbers, computed from recent verdicts: volume per minute by outcome,
//! throughput, harmful rate, ingest→verdict latency percentiles, the score histogram, harmful
//! videos per category, and how often the modalities agree. A pure function of the rows, so
//! every store backend gets the same numbers and the tests need no database.

use crate::{Category, ModalityScore};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the monitor needs of one stored verdict.
#[derive(Debug, Clone)]
pub struct VerdictPoint {
    pub decided_at: DateTime<Utc>,
    pub ingested_at: DateTime<Utc>,
    /// `None` for a failed verdict.
    pub harmful: Option<bool>,
    pub score: Option<f32>,
    pub categories: BTreeMap<Category, Option<f32>>,
    pub modalities: Vec<ModalityScore>,
}

/// One minute of the volume chart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub harmful: u64,
    pub safe: u64,
    pub failed: u64,
    /// Median ingest→verdict latency of the minute, in seconds.
    pub latency_p50_s: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub window_minutes: u32,
    pub buckets: Vec<Bucket>,
    /// Verdicts per minute over the last five minutes.
    pub throughput_per_min: f64,
    /// Harmful share of the window's ok verdicts.
    pub harmful_rate: Option<f64>,
    pub latency_p50_s: Option<f64>,
    pub latency_p95_s: Option<f64>,
    /// Ok verdicts by harmful score, ten bins of 0.1.
    pub score_histogram: [u64; 10],
    /// Harmful verdicts whose category score reached `category_threshold`.
    pub categories: BTreeMap<Category, u64>,
    /// Share of ok verdicts (with ≥ 2 modalities scored) whose modalities all fall on the same
    /// side of 0.5.
    pub modality_agreement: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Summarises `points` (any order) over the `window_minutes` before `now`.
pub fn summarize(
    points: &[VerdictPoint],
    now: DateTime<Utc>,
    window_minutes: u32,
    category_threshold: f32,
) -> Monitor {
    let window = window_minutes.max(1);
    let start = now - Duration::minutes(window as i64);
    let mut buckets: Vec<Bucket> = (0..window)
        .map(|i| Bucket {
            start: start + Duration::minutes(i as i64),
            ..Bucket::default()
        })
        .collect();
    let mut bucket_latencies: Vec<Vec<f64>> = vec![Vec::new(); window as usize];
    let mut latencies = Vec::new();
    let mut m = Monitor {
        window_minutes: window,
        ..Monitor::default()
    };
    let (mut ok, mut harmful, mut recent, mut compared, mut agreeing) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for p in points
        .iter()
        .filter(|p| p.decided_at >= start && p.decided_at <= now)
    {
        let index =
            ((p.decided_at - start).num_seconds() / 60).clamp(0, window as i64 - 1) as usize;
        let latency = (p.decided_at - p.ingested_at).num_milliseconds().max(0) as f64 / 1000.0;
        latencies.push(latency);
        bucket_latencies[index].push(latency);
        if now - p.decided_at <= Duration::minutes(5) {
            recent += 1;
        }
        let b = &mut buckets[index];
        match p.harmful {
            None => b.failed += 1,
            Some(true) => b.harmful += 1,
            Some(false) => b.safe += 1,
        }
        let Some(is_harmful) = p.harmful else {
            continue;
        };
        ok += 1;
        if let Some(score) = p.score {
            let bin = ((score.clamp(0.0, 1.0) * 10.0) as usize).min(9);
            m.score_histogram[bin] += 1;
        }
        if is_harmful {
            harmful += 1;
            for (category, score) in &p.categories {
                if score.is_some_and(|s| s >= category_threshold) {
                    *m.categories.entry(*category).or_default() += 1;
                }
            }
        }
        if p.modalities.len() >= 2 {
            compared += 1;
            let sides: Vec<bool> = p.modalities.iter().map(|s| s.harmful >= 0.5).collect();
            if sides.iter().all(|s| *s == sides[0]) {
                agreeing += 1;
            }
        }
    }
    for (b, mut l) in buckets.iter_mut().zip(bucket_latencies) {
        l.sort_by(f64::total_cmp);
        b.latency_p50_s = percentile(&l, 0.5);
    }
    latencies.sort_by(f64::total_cmp);
    m.buckets = buckets;
    m.throughput_per_min = recent as f64 / 5.0;
    m.harmful_rate = (ok > 0).then(|| harmful as f64 / ok as f64);
    m.latency_p50_s = percentile(&latencies, 0.5);
    m.latency_p95_s = percentile(&latencies, 0.95);
    m.modality_agreement = (compared > 0).then(|| agreeing as f64 / compared as f64);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Modality;

    fn point(minutes_ago: i64, harmful: Option<bool>, score: f32, latency_s: i64) -> VerdictPoint {
        let now = at();
        let decided = now - Duration::minutes(minutes_ago);
        VerdictPoint {
            decided_at: decided,
            ingested_at: decided - Duration::seconds(latency_s),
            harmful,
            score: harmful.map(|_| score),
            categories: [(Category::Violence, Some(score))].into_iter().collect(),
            modalities: vec![
                ModalityScore {
                    modality: Modality::Caption,
                    analyser: "a".into(),
                    harmful: score,
                    categories: BTreeMap::new(),
                    timeline: Vec::new(),
                },
                ModalityScore {
                    modality: Modality::Frames,
                    analyser: "b".into(),
                    harmful: 0.1,
                    categories: BTreeMap::new(),
                    timeline: Vec::new(),
                },
            ],
        }
    }

    fn at() -> DateTime<Utc> {
        "2026-12-05T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn buckets_rates_percentiles_and_histogram() {
        let points = vec![
            point(1, Some(true), 0.9, 2),
            point(1, Some(false), 0.2, 4),
            point(2, None, 0.0, 6),
            point(30, Some(false), 0.05, 8),
            point(120, Some(true), 0.9, 100), // outside the window
        ];
        let m = summarize(&points, at(), 60, 0.5);
        assert_eq!(m.buckets.len(), 60);
        // Bucket i covers [start + i min, start + i + 1 min): one minute ago is the last one.
        let last = &m.buckets[59];
        assert_eq!((last.harmful, last.safe, last.failed), (1, 1, 0));
        assert_eq!(last.latency_p50_s, Some(2.0));
        assert_eq!(m.buckets[58].failed, 1);
        assert_eq!(m.throughput_per_min, 3.0 / 5.0);
        assert_eq!(m.harmful_rate, Some(1.0 / 3.0));
        assert_eq!(m.latency_p50_s, Some(4.0));
        assert_eq!(m.latency_p95_s, Some(8.0));
        assert_eq!(m.score_histogram[9], 1);
        assert_eq!(m.score_histogram[2], 1);
        assert_eq!(m.score_histogram[0], 1);
        assert_eq!(m.categories[&Category::Violence], 1);
        // 0.9 vs 0.1 disagree; 0.2 vs 0.1 and 0.05 vs 0.1 agree.
        assert_eq!(m.modality_agreement, Some(2.0 / 3.0));
    }

    #[test]
    fn nothing_is_nothing() {
        let m = summarize(&[], at(), 10, 0.5);
        assert_eq!(m.buckets.len(), 10);
        assert_eq!(m.harmful_rate, None);
        assert_eq!(m.latency_p95_s, None);
    }
}
