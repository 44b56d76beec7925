//! The run's result: every device's statistics added up when its task ended.

use std::fmt;

use dampwatch_firmware::Stats;

use crate::timeline::Window;

/// Totals over the fleet. `Display` gives the line `dampwatch sim` ends with:
/// `sim: devices=N sent=S acked=A queued=Q dropped=D`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimSummary {
    pub devices: u64,
    /// Readings recorded (numbered) by the devices.
    pub recorded: u64,
    /// Distinct readings published at least once.
    pub sent: u64,
    /// Readings the collector confirmed as stored.
    pub acked: u64,
    /// Readings still held on the devices when the run ended.
    pub queued: u64,
    /// Readings dropped because a device's queue was full.
    pub dropped: u64,
    /// Publications of readings published before (after a timeout or reconnect).
    pub resent: u64,
    /// Sample times at which the sensor gave no reading (unplugged).
    pub sensor_failed: u64,
    /// The simulated wall-clock span the readings are dated in.
    pub span: Window,
}

impl SimSummary {
    pub fn add(&mut self, s: &Stats) {
        self.devices += 1;
        self.recorded += u64::from(s.recorded);
        self.sent += u64::from(s.sent);
        self.acked += u64::from(s.acked);
        self.queued += u64::from(s.queued);
        self.dropped += u64::from(s.dropped);
        self.resent += u64::from(s.resent);
        self.sensor_failed += u64::from(s.sensor_failed);
    }

    /// Every reading sent was confirmed, none is left, none was dropped.
    pub fn is_complete(&self) -> bool {
        self.acked == self.sent && self.queued == 0 && self.dropped == 0
    }
}

impl fmt::Display for SimSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sim: devices={} sent={} acked={} queued={} dropped={}",
            self.devices, self.sent, self.acked, self.queued, self.dropped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_adds_up_the_devices() {
        let mut s = SimSummary::default();
        s.add(&Stats { recorded: 10, sent: 10, acked: 10, ..Stats::default() });
        s.add(&Stats { recorded: 7, sent: 6, acked: 4, queued: 3, ..Stats::default() });
        assert_eq!(s.to_string(), "sim: devices=2 sent=16 acked=14 queued=3 dropped=0");
        assert!(!s.is_complete());
    }
}
