//! The checks every uplink goes through, in order, before anything is stored. Pure: no I/O,
//! so every rule is unit-tested in isolation.
//!
//! 1. the envelope decodes and the topic is a device uplink topic;
//! 2. the device is registered, active, and belongs to the topic's landlord;
//! 3. the Ed25519 signature verifies with the registered key, over the signing message of the
//!    TOPIC's device id (so a payload cannot be moved to another device's topic);
//! 4. the payload decodes, and names the topic's device;
//! 5. it carries at most the wire's readings per uplink
//!    (`dampwatch_wire::limits::MAX_READINGS_PER_UPLINK`), numbered from 1 in ascending order,
//!    none below the uplink's own `floor_seq` (a device never sends a reading it says it no longer
//!    holds). How far above the commit position a reading may be numbered needs the database:
//!    see [`crate::admission`];
//! 6. values are plausible (`dampwatch_wire::Quantity`, the same ranges the hazard engine
//!    believes; an out-of-range value is stored as missing and flagged);
//! 7. sample times are plausible (too far in the future or before provisioning: kept, time
//!    corrected to the arrival time, flagged).
//!
//! Duplicates are handled by the store (idempotent insert), not here.
//!
//! Signatures are verified one by one with `ring`. Batch verification would need another
//! library whose batch equation (cofactored) accepts some signatures that `ring`'s single
//! verification refuses, so a reading's acceptance would depend on which batch it arrived in.
//! Verification is a fifth or so of the collector's CPU (the ingest benchmark: about 18,000
//! `ring` verifications/s per core against about 3,500 uplinks/s per core of 34 readings
//! each), and the collector runs at over 110,000 readings/s per core, five times its target;
//! the one acceptance rule is worth more than the speed.

use crate::reject::Reason;
use chrono::{DateTime, TimeZone, Utc};
use dampwatch_proto::v1::{SignedUplink, Uplink};
use dampwatch_proto::verify_uplink;
use dampwatch_wire::limits::MAX_READINGS_PER_UPLINK;
use dampwatch_wire::reading::status as flags;
use dampwatch_wire::topic::{Topic, TopicKind};
use dampwatch_wire::Quantity;
use prost::Message;

pub use dampwatch_store::registry::DeviceEntry;

pub use dampwatch_store::ReadingRow;

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
    pub readings: Vec<ReadingRow>,
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
    // Before anything else is done per reading: an uplink packed with small readings would
    // otherwise cost the collector many times the work of any real one.
    if up.readings.len() > MAX_READINGS_PER_UPLINK {
        return Err(reject(
            Reason::TooManyReadings,
            dev,
            format!("{} readings in one uplink; at most {MAX_READINGS_PER_UPLINK}", up.readings.len()),
        ));
    }
    if !up.readings.windows(2).all(|w| w[0].seq < w[1].seq) || up.readings.first().is_some_and(|r| r.seq == 0)
    {
        return Err(reject(Reason::MalformedPayload, dev, "sequence numbers must start at 1 and ascend"));
    }
    if let Some(first) = up.readings.first().filter(|r| r.seq < up.floor_seq) {
        return Err(reject(
            Reason::SeqOutsideWindow,
            dev,
            format!("reading {} is below the uplink's own floor_seq {}", first.seq, up.floor_seq),
        ));
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
            let mut status = r.status & flags::DEVICE_MASK;
            // Checked and kept in the wire's fixed-point units: the boundaries are exact and the
            // stored value is the one the device signed.
            let centi = |q: Quantity, v: i64| q.accepts(v).then(|| i32::try_from(v).ok()).flatten();
            let temperature_centi_c = centi(Quantity::AirTemperature, i64::from(r.temperature_centi_c));
            let rh_centi_pct = centi(Quantity::RelativeHumidity, i64::from(r.rh_centi_pct));
            let surface_temperature_centi_c =
                r.surface_temperature_centi_c.map(|v| centi(Quantity::SurfaceTemperature, i64::from(v)));
            let co2_ppm = r.co2_ppm.map(|v| Quantity::Co2.accepts(i64::from(v)).then_some(v as i32));
            let battery_ok = Quantity::Battery.accepts(i64::from(r.battery_mv));
            let bad = temperature_centi_c.is_none()
                || rh_centi_pct.is_none()
                || surface_temperature_centi_c == Some(None)
                || co2_ppm == Some(None)
                || !battery_ok;
            if bad {
                status |= flags::OUT_OF_RANGE;
                out_of_range += 1;
            }
            if implausible {
                status |= flags::TIME_CORRECTED;
                time_corrected += 1;
            }
            ReadingRow {
                seq: i64::from(r.seq),
                sampled_at: if implausible { received_at } else { device_time },
                device_time: if device_time == DateTime::<Utc>::MIN_UTC { received_at } else { device_time },
                time_corrected: implausible,
                temperature_centi_c,
                rh_centi_pct,
                surface_temperature_centi_c: surface_temperature_centi_c.flatten(),
                co2_ppm: co2_ppm.flatten(),
                battery_mv: battery_ok.then_some(r.battery_mv as i32),
                // The server bits fit below the sign bit (checked in the wire crate).
                status: status as i32,
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

#[cfg(test)]
mod tests {
    use super::*;
    use dampwatch_proto::v1::Reading;

    const SEED: [u8; 32] = [3; 32];

    fn entry() -> DeviceEntry {
        let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
        use ring::signature::KeyPair;
        DeviceEntry {
            landlord: "acme".into(),
            key_id: 1,
            public_key: kp.public_key().as_ref().to_vec(),
            active: true,
            provisioned_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        }
    }

    fn reading(seq: u32, time_ms: u64) -> Reading {
        Reading {
            seq,
            time_ms,
            temperature_centi_c: 2150,
            rh_centi_pct: 6000,
            battery_mv: 3000,
            ..Default::default()
        }
    }

    fn signed(signed_as: &str, up: &Uplink, key_id: u32) -> Vec<u8> {
        let payload = up.encode_to_vec();
        let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
        let mut msg = vec![0u8; dampwatch_wire::signing::signing_message_len(signed_as, payload.len())];
        dampwatch_wire::signing::signing_message(signed_as, &payload, &mut msg).unwrap();
        let signature = kp.sign(&msg).as_ref().to_vec();
        SignedUplink { payload, signature, key_id }.encode_to_vec()
    }

    fn up(device: &str, readings: Vec<Reading>) -> Uplink {
        Uplink { device_id: device.into(), boot: 2, readings, floor_seq: 1, dropped: None }
    }

    const TOPIC: &str = "dw/v1/acme/dev-1/up";

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000, 0).unwrap()
    }

    fn run(topic: &str, raw: &[u8], e: Option<&DeviceEntry>) -> Result<CheckedUplink, Reason> {
        check_uplink(topic, raw, now(), chrono::Duration::hours(1), |_| e).map_err(|r| r.reason)
    }

    #[test]
    fn a_good_uplink_passes_with_its_evidence() {
        let t = now().timestamp_millis() as u64 - 60_000;
        let raw = signed("dev-1", &up("dev-1", vec![reading(1, t), reading(2, t)]), 1);
        let c = run(TOPIC, &raw, Some(&entry())).unwrap();
        assert_eq!(
            (c.device.as_str(), c.landlord.as_str(), c.boot, c.readings.len()),
            ("dev-1", "acme", 2, 2)
        );
        assert_eq!(c.readings[0].temperature_centi_c, Some(2150), "the device's own value, unconverted");
        assert!(!c.readings[0].time_corrected && c.out_of_range == 0);
        let env = SignedUplink::decode(raw.as_slice()).unwrap();
        assert_eq!((c.payload, c.signature), (env.payload, env.signature));
    }

    #[test]
    fn each_check_refuses_with_its_own_reason() {
        let t = now().timestamp_millis() as u64;
        let good = signed("dev-1", &up("dev-1", vec![reading(1, t)]), 1);
        let e = entry();
        assert_eq!(run("dw/v1/acme/dev-1/ack", &good, Some(&e)).unwrap_err(), Reason::BadTopic);
        assert_eq!(run(TOPIC, &[0xff, 0x01], Some(&e)).unwrap_err(), Reason::MalformedEnvelope);
        assert_eq!(run(TOPIC, &good, None).unwrap_err(), Reason::UnknownDevice);
        let revoked = DeviceEntry { active: false, ..entry() };
        assert_eq!(run(TOPIC, &good, Some(&revoked)).unwrap_err(), Reason::RevokedDevice);
        assert_eq!(run("dw/v1/other/dev-1/up", &good, Some(&e)).unwrap_err(), Reason::WrongLandlord);
        let key2 = signed("dev-1", &up("dev-1", vec![reading(1, t)]), 2);
        assert_eq!(run(TOPIC, &key2, Some(&e)).unwrap_err(), Reason::UnknownKey);
        // Signed for another device id: the signature is bound to the topic's device.
        let moved = signed("dev-2", &up("dev-1", vec![reading(1, t)]), 1);
        assert_eq!(run(TOPIC, &moved, Some(&e)).unwrap_err(), Reason::BadSignature);
        let garbage = {
            let payload = vec![0xff, 0xff];
            let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&SEED).unwrap();
            let mut msg = vec![0u8; dampwatch_wire::signing::signing_message_len("dev-1", 2)];
            dampwatch_wire::signing::signing_message("dev-1", &payload, &mut msg).unwrap();
            SignedUplink { signature: kp.sign(&msg).as_ref().to_vec(), payload, key_id: 1 }.encode_to_vec()
        };
        assert_eq!(run(TOPIC, &garbage, Some(&e)).unwrap_err(), Reason::MalformedPayload);
        let names_other = signed("dev-1", &up("dev-2", vec![reading(1, t)]), 1);
        assert_eq!(run(TOPIC, &names_other, Some(&e)).unwrap_err(), Reason::DeviceMismatch);
        let unordered = signed("dev-1", &up("dev-1", vec![reading(2, t), reading(1, t)]), 1);
        assert_eq!(run(TOPIC, &unordered, Some(&e)).unwrap_err(), Reason::MalformedPayload);
        let too_many = (1..=MAX_READINGS_PER_UPLINK as u32 + 1).map(|s| reading(s, t)).collect();
        assert_eq!(
            run(TOPIC, &signed("dev-1", &up("dev-1", too_many), 1), Some(&e)).unwrap_err(),
            Reason::TooManyReadings
        );
        let full = (1..=MAX_READINGS_PER_UPLINK as u32).map(|s| reading(s, t)).collect();
        assert!(run(TOPIC, &signed("dev-1", &up("dev-1", full), 1), Some(&e)).is_ok());
        let mut below_floor = up("dev-1", vec![reading(1, t), reading(u32::MAX, t)]);
        below_floor.floor_seq = u32::MAX;
        assert_eq!(
            run(TOPIC, &signed("dev-1", &below_floor, 1), Some(&e)).unwrap_err(),
            Reason::SeqOutsideWindow
        );
    }

    #[test]
    fn out_of_range_values_are_kept_as_missing_and_flagged() {
        let t = now().timestamp_millis() as u64;
        let mut hot = reading(1, t);
        hot.temperature_centi_c = 20_000;
        hot.co2_ppm = Some(90_000);
        let raw = signed("dev-1", &up("dev-1", vec![hot, reading(2, t)]), 1);
        let c = run(TOPIC, &raw, Some(&entry())).unwrap();
        assert_eq!(c.out_of_range, 1);
        assert_eq!((c.readings[0].temperature_centi_c, c.readings[0].co2_ppm), (None, None));
        assert_ne!(c.readings[0].status & flags::OUT_OF_RANGE as i32, 0);
        assert_eq!(c.readings[1].status, 0);
    }

    /// The collector believes exactly the values of the wire's plausibility policy, the one the
    /// hazard engine checks too (its own test walks the same edges): one unit beyond an edge is
    /// stored as missing and flagged, the edge itself is stored as it came.
    #[test]
    fn values_are_believed_exactly_within_the_wire_ranges() {
        let t = now().timestamp_millis() as u64;
        for q in Quantity::ALL {
            let (min, max) = q.range();
            for (v, believed) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                let mut r = reading(1, t);
                match q {
                    Quantity::AirTemperature => r.temperature_centi_c = v,
                    Quantity::RelativeHumidity => r.rh_centi_pct = v as u32,
                    Quantity::SurfaceTemperature => r.surface_temperature_centi_c = Some(v),
                    Quantity::Co2 => r.co2_ppm = Some(v as u32),
                    Quantity::Battery => r.battery_mv = v as u32,
                }
                if v < 0 && matches!(q, Quantity::RelativeHumidity | Quantity::Co2 | Quantity::Battery) {
                    continue; // unsigned on the wire
                }
                let c = run(TOPIC, &signed("dev-1", &up("dev-1", vec![r]), 1), Some(&entry())).unwrap();
                let stored = &c.readings[0];
                let flagged = stored.status & flags::OUT_OF_RANGE as i32 != 0;
                assert_eq!((flagged, c.out_of_range), (!believed, usize::from(!believed)), "{q:?} {v}");
                let kept = match q {
                    Quantity::AirTemperature => stored.temperature_centi_c,
                    Quantity::RelativeHumidity => stored.rh_centi_pct,
                    Quantity::SurfaceTemperature => stored.surface_temperature_centi_c,
                    Quantity::Co2 => stored.co2_ppm,
                    Quantity::Battery => stored.battery_mv,
                };
                assert_eq!(kept, believed.then_some(v), "{q:?} {v}");
            }
        }
    }

    #[test]
    fn implausible_times_are_corrected_and_the_device_time_kept() {
        let future = now().timestamp_millis() as u64 + 2 * 3_600_000;
        let early = 1_600_000_000_000; // before provisioning
        let absurd = u64::MAX;
        let raw =
            signed("dev-1", &up("dev-1", vec![reading(1, future), reading(2, early), reading(3, absurd)]), 1);
        let c = run(TOPIC, &raw, Some(&entry())).unwrap();
        assert_eq!(c.time_corrected, 3);
        for r in &c.readings {
            assert!(r.time_corrected);
            assert_eq!(r.sampled_at, now());
            assert_ne!(r.status & flags::TIME_CORRECTED as i32, 0);
        }
        assert_eq!(c.readings[0].device_time.timestamp_millis() as u64, future);
        assert_eq!(c.readings[1].device_time.timestamp_millis() as u64, early);
    }
}
