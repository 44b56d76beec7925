//! What the hazard worker reports to operators' monitoring: readings taken, late readings
//! placed in time order (and the replays that placed them), and readings left out of the
//! rules by reason. Counters only, with a fixed set of labels: a room's own count of late
//! readings left out is in its coverage (`room_hazard_state.coverage`), not in a label.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::metrics::{counters_by, render, Label};
use crate::processor::BatchOutcome;
use crate::room::Skipped;

#[derive(Debug)]
pub struct HazardStats {
    pub readings: Counter,
    pub late_placed: Counter,
    pub replays: Counter,
    pub replayed_readings: Counter,
    /// By [`Skipped::label`].
    left_out: Family<Label, Counter>,
}

impl Default for HazardStats {
    fn default() -> Self {
        Self::new()
    }
}

impl HazardStats {
    pub fn new() -> Self {
        HazardStats {
            readings: Counter::default(),
            late_placed: Counter::default(),
            replays: Counter::default(),
            replayed_readings: Counter::default(),
            left_out: counters_by("reason", Skipped::ALL.map(Skipped::label)),
        }
    }

    pub fn add(&self, outcome: &BatchOutcome) {
        self.readings.inc_by(outcome.readings as u64);
        self.late_placed.inc_by(outcome.late as u64);
        self.replays.inc_by(outcome.replays as u64);
        self.replayed_readings.inc_by(outcome.replayed as u64);
        for why in Skipped::ALL {
            self.left_out.get_or_create(&[("reason", why.label())]).inc_by(outcome.left_out.get(why) as u64);
        }
    }

    /// Readings left out for `why`.
    pub fn left_out(&self, why: Skipped) -> u64 {
        self.left_out.get_or_create(&[("reason", why.label())]).get()
    }

    /// Registers every metric under `dampwatch_hazard_`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dampwatch_hazard");
        let counters = [
            ("readings", "Readings taken by the hazard rules (repeats included)", &self.readings),
            (
                "late_readings_placed",
                "Readings that arrived after their room's state had moved on, placed in time order by a replay",
                &self.late_placed,
            ),
            ("replays", "Rooms folded again from a checkpoint to place late readings", &self.replays),
            ("replayed_readings", "Readings folded again by those replays", &self.replayed_readings),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register(
            "readings_left_out",
            "Stored readings left out of the hazard rules, by reason (too_late: older than the \
             late-reading horizon)",
            self.left_out.clone(),
        );
    }

    /// These metrics alone in the Prometheus text format.
    pub fn render(&self) -> String {
        render(|r| self.register(r))
    }
}
