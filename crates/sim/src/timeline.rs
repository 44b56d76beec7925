//! What happens to a device during the run, in simulated wall-clock time: when its sensor is
//! unplugged and when its network is cut. Windows are placed inside the simulated span so that
//! a run of any length shows the whole event, start and end, and finishes with everything
//! restored (otherwise the final drain could never empty the queues).

use crate::physics::time::DAY_MS;
use crate::scenario::Scenario;

/// A half-open interval of simulated wall-clock time, ms since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Window {
    pub fn contains(&self, wall_ms: i64) -> bool {
        (self.from_ms..self.to_ms).contains(&wall_ms)
    }

    pub fn len_ms(&self) -> i64 {
        self.to_ms - self.from_ms
    }
}

/// Longest sensor unplugging.
pub const UNPLUGGED_MAX_MS: i64 = 3 * DAY_MS;
/// Longest network cut.
pub const CUT_MAX_MS: i64 = DAY_MS;

/// The events of one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeline {
    /// The sensor is unplugged: no reading can be made (counted as a sensor failure).
    pub sensor_unplugged: Option<Window>,
    /// The network is cut: the device cannot reach the gateway.
    pub network_cut: Option<Window>,
}

impl Timeline {
    /// The events of a device in `scenario` (not `Mixed`) over the simulated `span`: an event
    /// starts a quarter into the span and lasts its full length or half the span, whichever is
    /// shorter.
    pub fn for_scenario(scenario: Scenario, span: Window) -> Timeline {
        let event = |max_ms: i64| {
            let from_ms = span.from_ms + span.len_ms() / 4;
            Window { from_ms, to_ms: from_ms + max_ms.min(span.len_ms() / 2) }
        };
        match scenario {
            Scenario::Offline => {
                Timeline { sensor_unplugged: Some(event(UNPLUGGED_MAX_MS)), network_cut: None }
            }
            Scenario::Outage => Timeline { sensor_unplugged: None, network_cut: Some(event(CUT_MAX_MS)) },
            _ => Timeline::default(),
        }
    }

    pub fn sensor_unplugged_at(&self, wall_ms: i64) -> bool {
        self.sensor_unplugged.is_some_and(|w| w.contains(wall_ms))
    }

    pub fn network_cut_at(&self, wall_ms: i64) -> bool {
        self.network_cut.is_some_and(|w| w.contains(wall_ms))
    }

    /// The next moment after `wall_ms` at which something changes.
    pub fn next_change_after(&self, wall_ms: i64) -> Option<i64> {
        [self.sensor_unplugged, self.network_cut]
            .into_iter()
            .flatten()
            .flat_map(|w| [w.from_ms, w.to_ms])
            .filter(|&t| t > wall_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::time::HOUR_MS;

    #[test]
    fn a_long_run_cuts_the_network_for_a_full_day_and_restores_it() {
        let span = Window { from_ms: 0, to_ms: 3 * DAY_MS };
        let t = Timeline::for_scenario(Scenario::Outage, span);
        let cut = t.network_cut.unwrap();
        assert_eq!(cut.len_ms(), DAY_MS);
        assert!(cut.from_ms > span.from_ms && cut.to_ms < span.to_ms);
        assert!(t.network_cut_at(cut.from_ms) && !t.network_cut_at(cut.to_ms));
        assert_eq!(t.next_change_after(0), Some(cut.from_ms));
        assert_eq!(t.next_change_after(cut.from_ms), Some(cut.to_ms));
        assert_eq!(t.next_change_after(cut.to_ms), None);
    }

    #[test]
    fn a_short_run_scales_events_to_fit() {
        let span = Window { from_ms: 0, to_ms: 10 * HOUR_MS };
        let t = Timeline::for_scenario(Scenario::Offline, span);
        let w = t.sensor_unplugged.unwrap();
        assert_eq!((w.from_ms, w.to_ms), (150 * 60_000, 450 * 60_000));
        assert_eq!(Timeline::for_scenario(Scenario::Healthy, span), Timeline::default());
    }
}
