//! Spreads connection attempts over time. Every device of a run connects from the same source
//! address, and the gateway admits only so many new connections a second from one address
//! (50 a second with a burst of 200 by default); thousands of devices, or a reconnect storm
//! after a gateway restart, must queue politely rather than be refused in bulk.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket handing out connection slots (generic cell rate algorithm).
#[derive(Debug)]
pub struct ConnectPacer {
    interval: Duration,
    /// How far ahead of the steady rate a burst may run.
    tolerance: Duration,
    /// Theoretical arrival time of the next slot.
    next: Mutex<Instant>,
}

impl ConnectPacer {
    /// `rate` connections a second on average, up to `burst` at once.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let interval = Duration::try_from_secs_f64(1.0 / rate.max(1e-3)).unwrap_or(Duration::from_secs(1000));
        ConnectPacer { interval, tolerance: interval * burst.saturating_sub(1), next: Mutex::new(now) }
    }

    /// Reserves a slot at or after `at`, and returns when it is.
    pub fn reserve(&self, at: Instant) -> Instant {
        // A poisoned lock only means another task panicked while holding a plain Instant.
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = next.checked_sub(self.tolerance).unwrap_or(at);
        let slot = at.max(earliest);
        *next = (*next).max(slot) + self.interval;
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_goes_at_once_then_the_rate_holds() {
        let t0 = Instant::now();
        let p = ConnectPacer::new(10.0, 5, t0);
        let slots: Vec<Duration> = (0..15).map(|_| p.reserve(t0) - t0).collect();
        assert!(slots[..5].iter().all(|d| d.is_zero()), "{slots:?}");
        assert_eq!(slots[5], Duration::from_millis(100));
        assert_eq!(slots[14], Duration::from_millis(1000));
        // After a quiet spell the burst is available again.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(p.reserve(later), later);
    }
}
