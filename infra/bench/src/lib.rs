//! Shared bits of the benchmark drivers.

use std::time::Duration;

/// Percentiles of a sample, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Summarises durations.
pub fn summarise(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        micros(samples[index])
    };
    let total: f64 = samples.iter().map(|d| micros(*d)).sum();
    Summary {
        n: samples.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: micros(samples[samples.len() - 1]),
        mean: total / samples.len() as f64,
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.1}µs p90={:.1}µs p99={:.1}µs max={:.1}µs mean={:.1}µs",
            self.n, self.p50, self.p90, self.p99, self.max, self.mean
        )
    }
}
