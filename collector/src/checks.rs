//! The checks every uplink goes through, in order, before anything is stored. Pure: no I/O,
//! so every rule is unit-tested in isolation.
//!
//! 1. the envelope decodes and the topic is a device uplink topic;
//! 2. the device is registered, active, and belongs to the topic's landlord;
//! 3. the Ed25519 signature verifies with the registered key, over the signing message of the
//!    TOPIC's device id (so a payload cannot be moved to another device's topic);
//! 4. the payload decodes, and names the topic's device;
//! 5. values are in physical range (an out-of-range value is stored as missing and flagged);
//! 6. sample times are plausible (too far in the future or before provisioning: kept, time
//!    corrected to the arrival time, flagged).
//!
//! Duplicates are handled by the store (idempotent insert), not here.

use crate::reject::Reason;
use chrono::{DateTime, TimeZone, Utc};
use dampwatch_proto::v1::{SignedUplink, Uplink};
use dampwatch_proto::verify_uplink;
use dampwatch_wire::topic::{Topic, TopicKind};
use prost::Message;

/// What the registry says about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    pub landlord: String,
    pub key_id: u32,
    pub public_key: Vec<u8>,
    pub active: bool,
    pub provisioned_at: DateTime<Utc>,
}

/// Server flags in `readings.status`, above the device's own bits.
pub mod server_flags {
    /// The sample time was implausible and was replaced by the arrival time.
    pub const TIME_CORRECTED: i32 = 1 << 16;
    /// A value was outside its physical range and is stored as missing.
    pub const OUT_OF_RANGE: i32 = 1 << 17;
}

/// One reading ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedReading {
    pub seq: i64,
    pub sampled_at: DateTime<Utc>,
    pub device_time: DateTime<Utc>,
    pub time_corrected: bool,
    pub temperature_c: Option<f32>,
    pub rh_pct: Option<f32>,
    pub surface_temperature_c: Option<f32>,
    pub co2_ppm: Option<i32>,
    pub battery_mv: Option<i32>,
    pub status: i32,
}

/// An uplink that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedUplink {
    pub landlord: String,
    pub device: String,
    pub boot: i64,
    pub floor_seq: i64,
    pub dropped_queue_full: i64,
    pub dropped_sensor_failed: i64,
    pub key_id: u32,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    pub readings: Vec<CheckedReading>,
    /// Readings whose value was out of range (stored as missing, also quarantined).
    pub out_of_range: usize,
    /// Readings whose time was corrected.
    pub time_corrected: usize,
}

/// Why an uplink was refused, with a human detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
    /// The device the topic named, when it parsed.
    pub device: Option<String>,
}

fn reject(reason: Reason, device: Option<&str>, detail: impl Into<String>) -> Rejection {
    Rejection { reason, detail: detail.into(), device: device.map(str::to_owned) }
}

/// Physical ranges: the SHT4x/SCD4x measuring ranges and a sane battery window. Anything
/// outside cannot be a real measurement.
const TEMPERATURE_C: (f32, f32) = (-40.0, 125.0);
const RH_PCT: (f32, f32) = (0.0, 100.0);
const CO2_PPM: (u32, u32) = (0, 40_000);
const BATTERY_MV: (u32, u32) = (0, 6_000);

/// Runs the checks. `lookup` gives the registry entry of a device id.
pub fn check_uplink<'a>(
    topic: &str,
    raw: &[u8],
    received_at: DateTime<Utc>,
    max_future_skew: chrono::Duration,
    lookup: impl FnOnce(&str) -> Option<&'a DeviceEntry>,
) -> Result<CheckedUplink, Rejection> {
    let Some(t) = Topic::parse(topic).filter(|t| t.kind == TopicKind::Up) else {
        return Err(reject(Reason::BadTopic, None, format!("not a device uplink topic: {topic:?}")));
    };
    let dev = Some(t.device);
    let env = SignedUplink::decode(raw)
        .map_err(|e| reject(Reason::MalformedEnvelope, dev, format!("envelope does not decode: {e}")))?;
    let Some(entry) = lookup(t.device) else {
        return Err(reject(Reason::UnknownDevice, dev, format!("device {} is not registered", t.device)));
    };
    if !entry.active {
        return Err(reject(Reason::RevokedDevice, dev, format!("device {} is revoked", t.device)));
    }
    if entry.landlord != t.landlord {
        return Err(reject(
            Reason::WrongLandlord,
            dev,
            format!("device {} belongs to landlord {}, topic names {}", t.device, entry.landlord, t.landlord),
        ));
    }
    if env.key_id != entry.key_id {
        return Err(reject(
            Reason::UnknownKey,
            dev,
            format!("signed with key id {}, registered key id is {}", env.key_id, entry.key_id),
        ));
    }
    verify_uplink(t.device, &entry.public_key, &env.payload, &env.signature)
        .map_err(|e| reject(Reason::BadSignature, dev, e.to_string()))?;
    let up = Uplink::decode(env.payload.as_slice())
        .map_err(|e| reject(Reason::MalformedPayload, dev, format!("signed payload does not decode: {e}")))?;
    if up.device_id != t.device {
        return Err(reject(
            Reason::DeviceMismatch,
            dev,
            format!("payload names device {:?}, topic names {}", up.device_id, t.device),
        ));
    }
    if !up.readings.windows(2).all(|w| w[0].seq < w[1].seq) || up.readings.first().is_some_and(|r| r.seq == 0)
    {
        return Err(reject(Reason::MalformedPayload, dev, "sequence numbers must start at 1 and ascend"));
    }
    let latest_plausible = received_at + max_future_skew;
    let (mut out_of_range, mut time_corrected) = (0, 0);
    let readings = up
        .readings
        .iter()
        .map(|r| {
            let device_time = i64::try_from(r.time_ms)
                .ok()
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let implausible = device_time > latest_plausible || device_time < entry.provisioned_at;
            let mut status = r.status as i32 & 0xFFFF;
            let in_range = |v: f32, (lo, hi): (f32, f32)| (lo..=hi).contains(&v).then_some(v);
            let temperature_c = in_range(r.temperature_centi_c as f32 / 100.0, TEMPERATURE_C);
            let rh_pct = in_range(r.rh_centi_pct as f32 / 100.0, RH_PCT);
            let surface_temperature_c =
                r.surface_temperature_centi_c.map(|v| in_range(v as f32 / 100.0, TEMPERATURE_C));
            let co2_ppm = r.co2_ppm.map(|v| (CO2_PPM.0..=CO2_PPM.1).contains(&v).then_some(v as i32));
            let battery_ok = (BATTERY_MV.0..=BATTERY_MV.1).contains(&r.battery_mv);
            let bad = temperature_c.is_none()
                || rh_pct.is_none()
                || surface_temperature_c == Some(None)
                || co2_ppm == Some(None)
                || !battery_ok;
            if bad {
                status |= server_flags::OUT_OF_RANGE;
                out_of_range += 1;
            }
            if implausible {
                status |= server_flags::TIME_CORRECTED;
                time_corrected += 1;
            }
            CheckedReading {
                seq: i64::from(r.seq),
                sampled_at: if implausible { received_at } else { device_time },
                device_time: if device_time == DateTime::<Utc>::MIN_UTC { received_at } else { device_time },
                time_corrected: implausible,
                temperature_c,
                rh_pct,
                surface_temperature_c: surface_temperature_c.flatten(),
                co2_ppm: co2_ppm.flatten(),
                battery_mv: battery_ok.then_some(r.battery_mv as i32),
                status,
            }
        })
        .collect();
    let dropped = up.dropped.unwrap_or_default();
    Ok(CheckedUplink {
        landlord: t.landlord.to_owned(),
        device: t.device.to_owned(),
        boot: i64::from(up.boot),
        floor_seq: i64::from(up.floor_seq),
        dropped_queue_full: i64::from(dropped.queue_full),
        dropped_sensor_failed: i64::from(dropped.sensor_failed),
        key_id: env.key_id,
        payload: env.payload,
        signature: env.signature,
        readings,
        out_of_range,
        time_corrected,
    })
}
