//! How long to wait before trying again: one exponential back-off policy for every loop that
//! reconnects or retries (the collector's database and broker links, the gateway's broker
//! links, the hazard worker, webhook deliveries, the store's wait for a starting server, the
//! simulator's devices). Each loop keeps its own figures (from its configuration or a
//! constant); only the arithmetic lives here, so all of them grow, cap and spread the same way.
//!
//! Pure and `no_std`: the policy draws no random numbers itself. A caller that wants jitter
//! passes a uniform sample in `[0, 1)`, so a simulation can keep its delays reproducible.

use core::time::Duration;

/// An exponential back-off: `initial` after the first failure, multiplied by `factor` after
/// each further one, never above `max`; optionally spread by `jitter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// What each further failure multiplies the wait by.
    pub factor: u32,
    /// The longest wait (before jitter).
    pub max: Duration,
    /// How far [`Backoff::jittered`] may move a wait: by up to this fraction either way
    /// (0.5: from half to one and a half times the wait).
    pub jitter: f64,
}

impl Backoff {
    /// Doubling from `initial` up to `max`, without jitter.
    pub const fn doubling(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, factor: 2, max, jitter: 0.0 }
    }

    /// The same policy spreading each wait by up to `jitter` (a fraction, 0 to 1) either way.
    pub const fn with_jitter(self, jitter: f64) -> Backoff {
        Backoff { jitter, ..self }
    }

    /// The wait after `failures` failures in a row (1 for the first; 0 counts as 1):
    /// `initial × factor^(failures − 1)`, at most `max`. Saturates rather than overflows, so
    /// any count of failures is safe.
    pub fn delay(&self, failures: u32) -> Duration {
        let growth = self.factor.checked_pow(failures.saturating_sub(1));
        growth.and_then(|g| self.initial.checked_mul(g)).map_or(self.max, |d| d.min(self.max))
    }

    /// [`Backoff::delay`] spread by the jitter: `unit` is a uniform sample in `[0, 1)`, mapped
    /// to a factor between `1 − jitter` and `1 + jitter`. Applied after the cap, so waits that
    /// reached `max` still spread out.
    pub fn jittered(&self, failures: u32, unit: f64) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        let spread = 1.0 - jitter + 2.0 * jitter * unit.clamp(0.0, 1.0);
        self.delay(failures).mul_f64(spread)
    }

    /// A count of failures in a row under this policy, for a loop that backs off after each
    /// failure and starts again from `initial` after a success.
    pub const fn retries(self) -> Retries {
        Retries { policy: self, failures: 0 }
    }
}

/// Failures in a row and the wait they call for (see [`Backoff::retries`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retries {
    policy: Backoff,
    failures: u32,
}

impl Retries {
    /// Counts one more failure and returns the wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.policy.delay(self.failures)
    }

    /// The wait [`Retries::next_delay`] will return, without counting a failure (for a log
    /// line written before the failure is counted).
    pub fn upcoming(&self) -> Duration {
        self.policy.delay(self.failures.saturating_add(1))
    }

    /// An attempt succeeded: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn doubles_from_the_first_wait_up_to_the_cap() {
        let b = Backoff::doubling(MS(200), Duration::from_secs(10));
        let waits: [Duration; 8] = core::array::from_fn(|i| b.delay(i as u32 + 1));
        assert_eq!(waits, [MS(200), MS(400), MS(800), MS(1600), MS(3200), MS(6400), MS(10_000), MS(10_000)]);
        assert_eq!(b.delay(0), MS(200), "no failure yet counts as the first");
    }

    #[test]
    fn any_number_of_failures_stays_at_the_cap() {
        let b = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(3600));
        assert_eq!(b.delay(31), Duration::from_secs(3600));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(3600));
        let huge = Backoff::doubling(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        assert_eq!(huge.delay(3), Duration::MAX);
    }

    #[test]
    fn other_factors_grow_by_that_factor() {
        let b = Backoff { factor: 3, ..Backoff::doubling(MS(10), MS(1000)) };
        assert_eq!([b.delay(1), b.delay(2), b.delay(3), b.delay(5)], [MS(10), MS(30), MS(90), MS(810)]);
        let constant = Backoff { factor: 1, ..b };
        assert_eq!(constant.delay(40), MS(10));
    }

    #[test]
    fn jitter_spreads_around_the_wait_even_at_the_cap() {
        let b = Backoff::doubling(MS(500), Duration::from_secs(15)).with_jitter(0.5);
        assert_eq!(b.jittered(1, 0.0), MS(250));
        assert_eq!(b.jittered(1, 0.5), MS(500));
        assert_eq!(b.jittered(10, 0.999_999), Duration::from_secs(15).mul_f64(0.5 + 0.999_999));
        assert_eq!(b.jittered(10, 0.0), Duration::from_millis(7500));
        let none = Backoff::doubling(MS(500), Duration::from_secs(15));
        assert_eq!(none.jittered(2, 0.9), MS(1000), "no jitter: the plain wait");
    }

    #[test]
    fn retries_count_failures_and_start_over_after_a_success() {
        let mut r = Backoff::doubling(MS(50), MS(5000)).retries();
        assert_eq!(r.upcoming(), MS(50));
        assert_eq!([r.next_delay(), r.next_delay(), r.next_delay()], [MS(50), MS(100), MS(200)]);
        assert_eq!(r.failures(), 3);
        assert_eq!(r.upcoming(), MS(400));
        r.reset();
        assert_eq!(r.next_delay(), MS(50));
    }
}
