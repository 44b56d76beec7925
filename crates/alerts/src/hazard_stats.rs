//! What the hazard worker reports to operators' monitoring: readings taken, late readings
//! placed in time order (and the replays that placed them), and readings left out of the
//! rules by reason. Counters only, with a fixed set of labels: a room's own count of late
//! readings left out is in its coverage (`room_hazard_state.coverage`), not in a label.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::processor::BatchOutcome;
use crate::room::Skipped;

#[derive(Debug, Default)]
pub struct HazardStats {
    pub readings: AtomicU64,
    pub late_placed: AtomicU64,
    pub replays: AtomicU64,
    pub replayed_readings: AtomicU64,
    /// In [`Skipped::ALL`] order.
    pub left_out: [AtomicU64; Skipped::ALL.len()],
}

impl HazardStats {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, outcome: &BatchOutcome) {
        self.readings.fetch_add(outcome.readings as u64, Relaxed);
        self.late_placed.fetch_add(outcome.late as u64, Relaxed);
        self.replays.fetch_add(outcome.replays as u64, Relaxed);
        self.replayed_readings.fetch_add(outcome.replayed as u64, Relaxed);
        for (counter, why) in self.left_out.iter().zip(Skipped::ALL) {
            counter.fetch_add(outcome.left_out.get(why) as u64, Relaxed);
        }
    }

    /// Readings left out for `why`.
    pub fn left_out(&self, why: Skipped) -> u64 {
        self.left_out[why as usize].load(Relaxed)
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let rows: [(&str, &str, &AtomicU64); 4] = [
            ("readings_total", "Readings taken by the hazard rules (repeats included).", &self.readings),
            (
                "late_readings_placed_total",
                "Readings that arrived after their room's state had moved on, placed in time order by a replay.",
                &self.late_placed,
            ),
            ("replays_total", "Rooms folded again from a checkpoint to place late readings.", &self.replays),
            ("replayed_readings_total", "Readings folded again by those replays.", &self.replayed_readings),
        ];
        for (name, help, v) in rows {
            let _ = writeln!(
                s,
                "# HELP dampwatch_hazard_{name} {help}\n# TYPE dampwatch_hazard_{name} counter\ndampwatch_hazard_{name} {}",
                v.load(Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP dampwatch_hazard_readings_left_out_total Stored readings left out of the hazard rules, by reason \
             (too_late: older than the late-reading horizon).\n# TYPE dampwatch_hazard_readings_left_out_total counter"
        );
        for (why, counter) in Skipped::ALL.iter().zip(&self.left_out) {
            let _ = writeln!(
                s,
                "dampwatch_hazard_readings_left_out_total{{reason=\"{}\"}} {}",
                why.label(),
                counter.load(Relaxed)
            );
        }
        s
    }
}
