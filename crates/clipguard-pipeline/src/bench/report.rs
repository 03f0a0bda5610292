//! What every bench reports: items per second, latency percentiles and peak RSS, plus the
//! bench's own figures (tokens, real-time factor, …) flattened into the same JSON object.

use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// Latency percentiles in milliseconds (nearest-rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(samples: &[Duration]) -> Latency {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |q: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let i = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Latency {
            p50: rank(0.50),
            p95: rank(0.95),
            max: ms.last().copied().unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub bench: &'static str,
    /// Model (or pipeline) version measured.
    pub model: String,
    pub items: usize,
    /// Wall-clock seconds of the measured part (model loading excluded, see `load_s`).
    pub seconds: f64,
    pub items_per_s: f64,
    pub latency_ms: Latency,
    pub load_s: f64,
    /// Worker threads the models may use (available parallelism).
    pub threads: usize,
    /// Peak resident memory of the process (VmHWM), loading included.
    pub peak_rss_mb: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BenchReport {
    pub fn new(bench: &'static str, model: String, items: usize, elapsed: Duration) -> Self {
        let seconds = elapsed.as_secs_f64();
        BenchReport {
            bench,
            model,
            items,
            seconds,
            items_per_s: if seconds > 0.0 {
                items as f64 / seconds
            } else {
                0.0
            },
            latency_ms: Latency::default(),
            load_s: 0.0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            peak_rss_mb: peak_rss_mb(),
            extra: Map::new(),
        }
    }

    pub fn latency(mut self, samples: &[Duration]) -> Self {
        self.latency_ms = Latency::of(samples);
        self
    }

    pub fn load(mut self, load: Duration) -> Self {
        self.load_s = load.as_secs_f64();
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// The human-readable summary printed without `--json`.
    pub fn human(&self) -> String {
        let mut s = format!(
            "{}: {} items in {:.2} s = {:.1} items/s; latency p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; load {:.2} s; peak RSS {}\n  model: {}",
            self.bench,
            self.items,
            self.seconds,
            self.items_per_s,
            self.latency_ms.p50,
            self.latency_ms.p95,
            self.latency_ms.max,
            self.load_s,
            self.peak_rss_mb
                .map_or("unknown".into(), |m| format!("{m:.0} MB")),
            self.model
        );
        for (k, v) in &self.extra {
            s.push_str(&format!("\n  {k}: {v}"));
        }
        s
    }
}

/// Peak resident set size of this process in MB, from `/proc/self/status` (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::of(&samples);
        assert_eq!((l.p50, l.p95, l.max), (50.0, 95.0, 100.0));
        assert_eq!(Latency::of(&[]), Latency::default());
        let one = Latency::of(&[Duration::from_millis(7)]);
        assert_eq!((one.p50, one.p95), (7.0, 7.0));
    }

    #[test]
    fn report_flattens_extra_figures_and_reads_peak_rss() {
        let r =
            BenchReport::new("text", "m".into(), 10, Duration::from_secs(2)).with("tokens", 123);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["items_per_s"], 5.0);
        assert_eq!(v["tokens"], 123);
        if cfg!(target_os = "linux") {
            assert!(r.peak_rss_mb.unwrap() > 1.0);
        }
    }
}
