//! Time. The core runs on a monotonic uptime in milliseconds (for sampling and timeouts) and
//! keeps a separate offset to wall-clock time, set by the configuration downlink or by a
//! platform real-time clock. Until it is set, readings carry uptime and the `CLOCK_UNSET` flag.

/// A monotonic millisecond clock (uptime). Must never go backwards.
pub trait Clock {
    fn now_ms(&self) -> u64;
}

/// The offset from uptime to wall-clock time (milliseconds since the Unix epoch, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WallClock {
    offset_ms: Option<i64>,
}

impl WallClock {
    /// Records that uptime `now_ms` corresponds to wall-clock `wall_ms`.
    pub fn set(&mut self, wall_ms: u64, now_ms: u64) {
        let wall = i64::try_from(wall_ms).unwrap_or(i64::MAX);
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        self.offset_ms = Some(wall.saturating_sub(now));
    }

    pub fn is_set(&self) -> bool {
        self.offset_ms.is_some()
    }

    /// Wall-clock time at uptime `now_ms`, if the clock was set.
    pub fn at(&self, now_ms: u64) -> Option<u64> {
        let offset = self.offset_ms?;
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Some(u64::try_from(now.saturating_add(offset)).unwrap_or(0))
    }
}
