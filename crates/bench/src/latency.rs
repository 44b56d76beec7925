//! Latency distributions: an HdrHistogram of microseconds to three significant figures (any
//! percentile within 0.1 %), read back in milliseconds.

use hdrhistogram::Histogram;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // Three significant figures is within the range the library accepts (0 to 5).
        Latencies(Histogram::new(3).expect("a valid precision"))
    }
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // The histogram grows to fit; only a value beyond any it can track is clamped to its top.
        if self.0.record(micros).is_err() {
            self.0.saturating_record(micros);
        }
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency at quantile `q` (0.99 for p99), in milliseconds; NaN without samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.ms(self.0.value_at_quantile(q))
    }

    /// The longest latency, in milliseconds; NaN without samples.
    pub fn max_ms(&self) -> f64 {
        self.ms(self.0.max())
    }

    fn ms(&self, micros: u64) -> f64 {
        if self.0.is_empty() {
            f64::NAN
        } else {
            micros as f64 / 1000.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_the_precision() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        l.record(Duration::from_micros(250));
        assert_eq!(l.count(), 101);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001;
        assert!(close(l.quantile_ms(0.50), 50.0), "{}", l.quantile_ms(0.50));
        assert!(close(l.quantile_ms(0.99), 99.0), "{}", l.quantile_ms(0.99));
        assert!(close(l.quantile_ms(0.0), 0.25), "{}", l.quantile_ms(0.0));
        assert!(close(l.max_ms(), 100.0), "{}", l.max_ms());
    }

    #[test]
    fn no_samples_read_as_not_a_number() {
        let none = Latencies::default();
        assert!(none.quantile_ms(0.99).is_nan() && none.max_ms().is_nan());
    }
}
