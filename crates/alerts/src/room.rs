//! Which room a reading belongs to, and which stored readings the hazard rules may use.
//!
//! A device placed in a room feeds that room; a device without a room counts as its own room
//! (`device:<id>`), so its readings are still watched. A device moved to another room feeds
//! the new room from the next reading processed.

use chrono::{DateTime, Utc};
use dampwatch_indicators::RoomReading;
use dampwatch_wire::reading::status;
use dampwatch_wire::Quantity;

/// A room as the hazard engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoomRef {
    /// A registered room.
    Room(i64),
    /// A device with no room: its own room.
    Device(String),
}

impl RoomRef {
    /// The device's room, or the device itself when it has none.
    pub fn of(room_id: Option<i64>, device_id: &str) -> Self {
        match room_id {
            Some(id) => RoomRef::Room(id),
            None => RoomRef::Device(device_id.to_owned()),
        }
    }

    /// The `room_key` column: `room:<id>` or `device:<id>`.
    pub fn key(&self) -> String {
        match self {
            RoomRef::Room(id) => format!("room:{id}"),
            RoomRef::Device(id) => format!("device:{id}"),
        }
    }

    pub fn room_id(&self) -> Option<i64> {
        match self {
            RoomRef::Room(id) => Some(*id),
            RoomRef::Device(_) => None,
        }
    }

    pub fn device_id(&self) -> Option<&str> {
        match self {
            RoomRef::Room(_) => None,
            RoomRef::Device(id) => Some(id),
        }
    }
}

/// Why a stored reading is left out of the hazard rules (it stays in `readings` as evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Its time was replaced by the arrival time: placing it in the time series would put
    /// old conditions at the wrong moment (and could fake a sustained window).
    TimeCorrected,
    /// A value was out of its physical range: the sensor is not trusted for this sample.
    OutOfRange,
    /// The device flagged temperature/humidity as invalid or its clock as unset.
    DeviceFault,
    /// Temperature or humidity is missing.
    Incomplete,
    /// The hazard engine refused a value no home can produce.
    Invalid,
    /// It arrived later than the late-reading horizon behind its room's newest reading, too
    /// late to place in time order. Counted in the room's coverage too.
    TooLate,
}

impl Skipped {
    pub const ALL: [Skipped; 6] = [
        Skipped::TimeCorrected,
        Skipped::OutOfRange,
        Skipped::DeviceFault,
        Skipped::Incomplete,
        Skipped::Invalid,
        Skipped::TooLate,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Skipped::TimeCorrected => "time_corrected",
            Skipped::OutOfRange => "out_of_range",
            Skipped::DeviceFault => "device_fault",
            Skipped::Incomplete => "incomplete",
            Skipped::Invalid => "invalid",
            Skipped::TooLate => "too_late",
        }
    }
}

/// Readings left out of the hazard rules, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftOut([usize; Skipped::ALL.len()]);

impl LeftOut {
    pub fn add(&mut self, why: Skipped) {
        self.0[why as usize] += 1;
    }

    pub fn get(&self, why: Skipped) -> usize {
        self.0[why as usize]
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    pub fn merge(&mut self, other: &LeftOut) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

/// One stored reading with its room.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    pub device_id: String,
    pub landlord_id: String,
    pub room: RoomRef,
    pub sampled_at: DateTime<Utc>,
    /// The device's fixed-point values as stored: hundredths of a °C and of a % RH.
    pub temperature_centi_c: Option<i32>,
    pub rh_centi_pct: Option<i32>,
    pub surface_temperature_centi_c: Option<i32>,
    pub co2_ppm: Option<i32>,
    /// `readings.status`: the device's bits and the collector's (`dampwatch_wire::reading::status`).
    pub status: i32,
}

impl StoredReading {
    /// The reading in the engine's units, or why the rules must not see it.
    pub fn for_rules(&self) -> Result<RoomReading, Skipped> {
        // Stored from a u32 bit set whose bits all lie below the sign bit.
        let flags = self.status as u32;
        if flags & status::TIME_CORRECTED != 0 {
            return Err(Skipped::TimeCorrected);
        }
        if flags & status::OUT_OF_RANGE != 0 {
            return Err(Skipped::OutOfRange);
        }
        if flags & status::TRH_INVALID != 0 {
            return Err(Skipped::DeviceFault);
        }
        let (Some(t), Some(rh)) = (self.temperature_centi_c, self.rh_centi_pct) else {
            return Err(Skipped::Incomplete);
        };
        // The one place a stored value becomes a floating-point number: the engine computes.
        let mut reading = RoomReading::air(
            self.sampled_at,
            Quantity::AirTemperature.physical(t),
            Quantity::RelativeHumidity.physical(rh),
        );
        reading.surface_temperature_c =
            self.surface_temperature_centi_c.map(|v| Quantity::SurfaceTemperature.physical(v));
        reading.co2_ppm = self.co2_ppm.map(f64::from);
        Ok(reading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(status: i32) -> StoredReading {
        StoredReading {
            device_id: "d1".into(),
            landlord_id: "l".into(),
            room: RoomRef::of(None, "d1"),
            sampled_at: DateTime::<Utc>::UNIX_EPOCH,
            temperature_centi_c: Some(2000),
            rh_centi_pct: Some(5000),
            surface_temperature_centi_c: Some(1550),
            co2_ppm: Some(800),
            status,
        }
    }

    #[test]
    fn left_out_readings_are_counted_under_their_own_reason() {
        let mut left_out = LeftOut::default();
        for (i, why) in Skipped::ALL.into_iter().enumerate() {
            for _ in 0..=i {
                left_out.add(why);
            }
        }
        for (i, why) in Skipped::ALL.into_iter().enumerate() {
            assert_eq!(left_out.get(why), i + 1, "{}", why.label());
        }
        assert_eq!(left_out.total(), 21);
    }

    #[test]
    fn a_device_without_a_room_is_its_own_room() {
        assert_eq!(RoomRef::of(None, "abc").key(), "device:abc");
        assert_eq!(RoomRef::of(Some(7), "abc").key(), "room:7");
    }

    #[test]
    fn flagged_readings_are_left_out_of_the_rules() {
        let bits = |b: u32| reading(b as i32);
        assert!(reading(0).for_rules().is_ok());
        assert_eq!(bits(status::TIME_CORRECTED).for_rules(), Err(Skipped::TimeCorrected));
        assert_eq!(bits(status::OUT_OF_RANGE).for_rules(), Err(Skipped::OutOfRange));
        for fault in [status::TRH_CRC, status::TRH_BUS, status::CLOCK_UNSET] {
            assert_eq!(bits(fault).for_rules(), Err(Skipped::DeviceFault));
        }
        // A failed surface probe or CO2 sensor only removes that value; a clamped T/RH value
        // was already judged by the collector.
        let r = bits(status::SURFACE_FAILED | status::CO2_FAILED).for_rules().expect("usable");
        assert_eq!(r.co2_ppm, Some(800.0));
        let mut incomplete = reading(0);
        incomplete.rh_centi_pct = None;
        assert_eq!(incomplete.for_rules(), Err(Skipped::Incomplete));
    }
}
