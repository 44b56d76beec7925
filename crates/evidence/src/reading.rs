//! `readings.jsonl`: the readings the summary lists, as the `readings` table holds them, and
//! the check that each is in its signed uplink with the values the device signed.
//!
//! The collector keeps the device's fixed-point values unchanged, or none at all when a value
//! was outside the sensor's range, and keeps the device's time beside the corrected one; the
//! server's own status bits sit above the device's (`dampwatch_wire::reading::status`). So a
//! listed value is either the signed one or absent, never another.

use chrono::{DateTime, Utc};
use dampwatch_proto::v1::Uplink;
use dampwatch_wire::reading::status;
use serde::{Deserialize, Serialize};

use crate::{hexbytes, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingRecord {
    pub device_id: String,
    pub boot: i64,
    pub seq: i64,
    /// The time used for analysis: the device's own time unless it was implausible.
    #[serde(with = "timestamp")]
    pub sampled_at: DateTime<Utc>,
    /// What the device said.
    #[serde(with = "timestamp")]
    pub device_time: DateTime<Utc>,
    pub time_corrected: bool,
    #[serde(with = "timestamp")]
    pub received_at: DateTime<Utc>,
    pub temperature_centi_c: Option<i32>,
    pub rh_centi_pct: Option<i32>,
    pub surface_temperature_centi_c: Option<i32>,
    pub co2_ppm: Option<i32>,
    pub battery_mv: Option<i32>,
    /// The device's status bits (low 16) and the server's (above).
    pub status: i32,
    #[serde(with = "hexbytes::fixed32")]
    pub uplink_digest: [u8; 32],
}

impl ReadingRecord {
    /// `dev-1 boot 3 seq 17`.
    pub fn label(&self) -> String {
        format!("{} boot {} seq {}", self.device_id, self.boot, self.seq)
    }

    /// Checks this reading against the decoded, verified uplink it points at.
    pub fn check_against(&self, uplink: &Uplink, received_at: DateTime<Utc>) -> Result<(), String> {
        if uplink.device_id != self.device_id || i64::from(uplink.boot) != self.boot {
            return Err(format!("its uplink is of {} boot {}", uplink.device_id, uplink.boot));
        }
        let signed = uplink
            .readings
            .iter()
            .find(|r| i64::from(r.seq) == self.seq)
            .ok_or_else(|| "not in its signed uplink".to_owned())?;
        let device_ms = i64::try_from(signed.time_ms).ok();
        let time_matches = device_ms == Some(self.device_time.timestamp_millis())
            && self.device_time.timestamp_subsec_micros().is_multiple_of(1000);
        // An instant the database cannot hold is stored as the arrival time.
        let unrepresentable = device_ms.and_then(DateTime::<Utc>::from_timestamp_millis).is_none();
        if !(time_matches || unrepresentable && self.device_time == received_at) {
            return Err(format!("device time is not the signed {} ms", signed.time_ms));
        }
        let sampled = if self.time_corrected { received_at } else { self.device_time };
        if self.sampled_at != sampled {
            return Err("sample time is neither the device's time nor, when corrected, the arrival".into());
        }
        if (self.status as u32 & status::TIME_CORRECTED != 0) != self.time_corrected {
            return Err("time correction flag and status bits disagree".into());
        }
        if self.status as u32 & status::DEVICE_MASK != signed.status & status::DEVICE_MASK {
            return Err(format!("status bits are not the signed {:#x}", signed.status));
        }
        let same = |name: &str, stored: Option<i32>, wire: Option<i64>| match stored {
            None => Ok(()),
            Some(v) if Some(i64::from(v)) == wire => Ok(()),
            Some(v) => Err(format!("{name} {v} is not the signed value")),
        };
        same("temperature_centi_c", self.temperature_centi_c, Some(i64::from(signed.temperature_centi_c)))?;
        same("rh_centi_pct", self.rh_centi_pct, Some(i64::from(signed.rh_centi_pct)))?;
        same(
            "surface_temperature_centi_c",
            self.surface_temperature_centi_c,
            signed.surface_temperature_centi_c.map(i64::from),
        )?;
        same("co2_ppm", self.co2_ppm, signed.co2_ppm.map(i64::from))?;
        same("battery_mv", self.battery_mv, Some(i64::from(signed.battery_mv)))?;
        Ok(())
    }
}
