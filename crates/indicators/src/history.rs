//! A room's indicators along a stretch of its history, for people to read (the dashboard's
//! charts): each reading's dew point and surface condition as the engine computes them, and
//! the mould index integrated along the way with the engine's material and hold limit, so a
//! chart and the alerts rest on the same formulas and settings.
//!
//! The engine's own index runs from the room's first reading; a history starts wherever its
//! caller starts feeding it (0, no growth). Callers that chart a period feed the time before it
//! first, so the index has had time to build up or decline.

use crate::config::Settings;
use crate::indicators::{Indicators, PointSettings};
use crate::mould::MouldTimeline;
use crate::reading::{ReadingError, RoomReading};

/// Indicators of readings taken in time order.
#[derive(Debug, Clone)]
pub struct IndicatorHistory {
    point: PointSettings,
    mould: MouldTimeline,
    previous_basis: Option<crate::indicators::ConditionsBasis>,
}

impl IndicatorHistory {
    pub(crate) fn new(settings: &Settings) -> Self {
        IndicatorHistory {
            point: settings.point(),
            mould: MouldTimeline::new(settings.config.material, settings.max_gap),
            previous_basis: None,
        }
    }

    /// The indicators of the next reading (not before the previous one), with the mould index
    /// at its time: the previous reading's conditions held until it, for at most the engine's
    /// `max_gap` (a longer silence is no data: the index neither grows nor declines).
    pub fn push(&mut self, reading: &RoomReading) -> Result<Indicators, ReadingError> {
        reading.validate()?;
        let mut now = Indicators::of(reading, &self.point);
        let (t, rh) = now.mould_conditions();
        now.mould_index = self.mould.observe(reading.time, t, rh);
        now.mould_index_basis = self.previous_basis.replace(now.conditions_basis);
        Ok(now)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};

    use crate::{EngineConfig, HazardEngine, RoomReading};

    #[test]
    fn a_damp_room_builds_mould_and_a_dry_one_does_not() {
        let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let index_after_30_days = |rh: f64| {
            let mut history = engine.history();
            let mut last = 0.0;
            for h in 0..=(30 * 24) {
                let r = RoomReading::air(start + TimeDelta::hours(h), 20.0, rh);
                last = history.push(&r).expect("plausible").mould_index;
            }
            last
        };
        assert!(index_after_30_days(97.0) > 1.0);
        assert_eq!(index_after_30_days(50.0), 0.0);
    }

    #[test]
    fn each_reading_gets_its_dew_point_and_an_implausible_one_is_refused() {
        let engine = HazardEngine::new(EngineConfig::default()).expect("defaults");
        let mut history = engine.history();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut r = RoomReading::air(at, 20.0, 50.0);
        r.surface_temperature_c = Some(15.0);
        let i = history.push(&r).expect("plausible");
        assert!((i.dew_point_c.expect("humid air") - 9.3).abs() < 0.1);
        assert!(i.surface.expect("a probe").rh_pct > 50.0);
        assert!(history.push(&RoomReading::air(at, 20.0, 150.0)).is_err());
    }
}
