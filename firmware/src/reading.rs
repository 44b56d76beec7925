//! A numbered reading as the queue holds it: 24 bytes instead of the 40 of the generated
//! `Reading`, which is what lets 48 hours of readings fit the memory budget. The narrowing is
//! lossless for every value a real sensor produces; anything wider is clamped or dropped and
//! flagged, never wrapped.

use crate::proto::{Reading, Reading_};
use crate::sample::{status, Sample};

const HAS_SURFACE: u8 = 1;
const HAS_CO2: u8 = 2;

/// Widest relative humidity, hundredths of a percent.
pub const RH_MAX_CENTI_PCT: u32 = 10_000;

/// One queued reading of the current boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredReading {
    pub time_ms: u64,
    pub seq: u32,
    pub temperature_centi_c: i16,
    pub rh_centi_pct: u16,
    surface_temperature_centi_c: i16,
    co2_ppm: u16,
    pub battery_mv: u16,
    /// `Reading.status` bits; every defined flag fits in the low byte.
    pub status: u8,
    present: u8,
}

impl StoredReading {
    /// An all-zero reading, to fill unused queue slots.
    pub const ZERO: StoredReading = StoredReading {
        time_ms: 0,
        seq: 0,
        temperature_centi_c: 0,
        rh_centi_pct: 0,
        surface_temperature_centi_c: 0,
        co2_ppm: 0,
        battery_mv: 0,
        status: 0,
        present: 0,
    };

    /// Numbers and narrows a sample. `extra_status` carries the flags the core adds (clock
    /// unset). A temperature or humidity that does not fit is clamped and flagged
    /// `TRH_RANGE`; a surface temperature or CO2 value that does not fit is dropped and flagged
    /// as a failure of that sensor, as the proto says the value is then absent.
    pub fn from_sample(sample: &Sample, seq: u32, time_ms: u64, extra_status: u32) -> Self {
        let mut flags = sample.status | extra_status;
        let temperature_centi_c = match i16::try_from(sample.temperature_centi_c) {
            Ok(t) => t,
            Err(_) => {
                flags |= status::TRH_RANGE;
                if sample.temperature_centi_c < 0 {
                    i16::MIN
                } else {
                    i16::MAX
                }
            }
        };
        let rh_centi_pct = if sample.rh_centi_pct > RH_MAX_CENTI_PCT {
            flags |= status::TRH_RANGE;
            RH_MAX_CENTI_PCT as u16
        } else {
            sample.rh_centi_pct as u16
        };
        let mut present = 0;
        let mut surface_temperature_centi_c = 0;
        if let Some(v) = sample.surface_temperature_centi_c {
            match i16::try_from(v) {
                Ok(v) => {
                    surface_temperature_centi_c = v;
                    present |= HAS_SURFACE;
                }
                Err(_) => flags |= status::SURFACE_FAILED,
            }
        }
        let mut co2_ppm = 0;
        if let Some(v) = sample.co2_ppm {
            match u16::try_from(v) {
                Ok(v) => {
                    co2_ppm = v;
                    present |= HAS_CO2;
                }
                Err(_) => flags |= status::CO2_FAILED,
            }
        }
        StoredReading {
            time_ms,
            seq,
            temperature_centi_c,
            rh_centi_pct,
            surface_temperature_centi_c,
            co2_ppm,
            battery_mv: u16::try_from(sample.battery_mv).unwrap_or(u16::MAX),
            // Only defined flags are kept; they all fit in the low byte (checked below).
            status: (flags & status::ALL) as u8,
            present,
        }
    }

    pub fn surface_temperature_centi_c(&self) -> Option<i16> {
        (self.present & HAS_SURFACE != 0).then_some(self.surface_temperature_centi_c)
    }

    pub fn co2_ppm(&self) -> Option<u16> {
        (self.present & HAS_CO2 != 0).then_some(self.co2_ppm)
    }

    /// The wire form. Absent optional fields stay absent (their hazzer bit clear).
    pub fn to_proto(&self) -> Reading {
        let mut has = Reading_::_Hazzer::default();
        let surface = self.surface_temperature_centi_c();
        let co2 = self.co2_ppm();
        if surface.is_some() {
            has.set_surface_temperature_centi_c();
        }
        if co2.is_some() {
            has.set_co2_ppm();
        }
        Reading {
            seq: self.seq,
            time_ms: self.time_ms,
            temperature_centi_c: i32::from(self.temperature_centi_c),
            rh_centi_pct: u32::from(self.rh_centi_pct),
            surface_temperature_centi_c: surface.map_or(0, i32::from),
            co2_ppm: co2.map_or(0, u32::from),
            battery_mv: u32::from(self.battery_mv),
            status: u32::from(self.status),
            _has: has,
        }
    }
}

const _: () = assert!(status::ALL <= u8::MAX as u32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_keeps_real_values_and_flags_the_rest() {
        let s = Sample {
            temperature_centi_c: -4000,
            rh_centi_pct: 10_000,
            surface_temperature_centi_c: Some(1234),
            co2_ppm: Some(40_000),
            battery_mv: 3012,
            status: 0,
        };
        let r = StoredReading::from_sample(&s, 5, 9, status::CLOCK_UNSET).to_proto();
        assert_eq!((r.seq, r.time_ms, r.temperature_centi_c, r.rh_centi_pct), (5, 9, -4000, 10_000));
        assert_eq!((r.surface_temperature_centi_c(), r.co2_ppm()), (Some(&1234), Some(&40_000)));
        assert_eq!((r.battery_mv, r.status), (3012, status::CLOCK_UNSET));

        let wild = Sample {
            temperature_centi_c: 1_000_000,
            rh_centi_pct: 20_000,
            surface_temperature_centi_c: Some(-1_000_000),
            co2_ppm: Some(100_000),
            battery_mv: 100_000,
            status: 0,
        };
        let r = StoredReading::from_sample(&wild, 1, 0, 0).to_proto();
        assert_eq!((r.temperature_centi_c, r.rh_centi_pct), (i32::from(i16::MAX), 10_000));
        assert_eq!((r.surface_temperature_centi_c(), r.co2_ppm()), (None, None));
        assert_eq!(r.status, status::TRH_RANGE | status::SURFACE_FAILED | status::CO2_FAILED);
        assert_eq!(r.battery_mv, u32::from(u16::MAX));
    }
}
