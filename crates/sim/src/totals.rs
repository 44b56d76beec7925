//! Fleet-wide counters the device tasks update as they go, for the progress lines. The final
//! summary does not use them: it adds up each device's own statistics when its task ends.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Mutex;

use dampwatch_firmware::Stats;

/// Running totals over every device.
#[derive(Debug, Default)]
pub struct Totals {
    recorded: AtomicI64,
    sent: AtomicI64,
    acked: AtomicI64,
    queued: AtomicI64,
    dropped: AtomicI64,
    connected: AtomicI64,
    connect_failures: AtomicI64,
    finished: AtomicI64,
    last_error: Mutex<Option<String>>,
}

/// The totals at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub recorded: i64,
    pub sent: i64,
    pub acked: i64,
    pub queued: i64,
    pub dropped: i64,
    pub connected: i64,
    pub connect_failures: i64,
    pub finished: i64,
    pub last_error: Option<String>,
}

impl Totals {
    /// Adds what changed in one device's statistics since `before`, and remembers `after`.
    pub fn update(&self, before: &mut Stats, after: Stats) {
        let d = |a: u32, b: u32| i64::from(a) - i64::from(b);
        for (counter, delta) in [
            (&self.recorded, d(after.recorded, before.recorded)),
            (&self.sent, d(after.sent, before.sent)),
            (&self.acked, d(after.acked, before.acked)),
            (&self.queued, d(after.queued, before.queued)),
            (&self.dropped, d(after.dropped, before.dropped)),
        ] {
            if delta != 0 {
                counter.fetch_add(delta, Relaxed);
            }
        }
        *before = after;
    }

    pub fn connected(&self, up: bool) {
        self.connected.fetch_add(if up { 1 } else { -1 }, Relaxed);
    }

    pub fn connect_failed(&self, error: String) {
        self.connect_failures.fetch_add(1, Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    pub fn device_finished(&self) {
        self.finished.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            recorded: self.recorded.load(Relaxed),
            sent: self.sent.load(Relaxed),
            acked: self.acked.load(Relaxed),
            queued: self.queued.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            connected: self.connected.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            finished: self.finished.load(Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_add_up_across_devices() {
        let t = Totals::default();
        let (mut a, mut b) = (Stats::default(), Stats::default());
        t.update(&mut a, Stats { recorded: 3, sent: 2, queued: 3, ..Stats::default() });
        t.update(&mut b, Stats { recorded: 1, sent: 1, queued: 1, ..Stats::default() });
        t.update(&mut a, Stats { recorded: 4, sent: 4, acked: 4, queued: 0, ..Stats::default() });
        let s = t.snapshot();
        assert_eq!((s.recorded, s.sent, s.acked, s.queued), (5, 5, 4, 1));
    }
}
