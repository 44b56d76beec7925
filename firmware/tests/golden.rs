//! The firmware side of the golden vectors in `proto/golden/uplink-v1.json`, made by the server
//! side (prost + ring): from the recorded values, the firmware's own micropb types and signer
//! must produce the very same payload, signature and envelope, byte for byte.
use dampwatch_firmware::identity::{public_key_from_seed, Signer};
use dampwatch_firmware::proto::{DropCounters, Reading, SignedUplink, Uplink};
use dampwatch_firmware::uplink::{fill, seal, BatchHeader};
use dampwatch_firmware::{Sample, StoredReading, UPLINK_BUFFER_LEN};
use serde::Deserialize;

#[derive(Deserialize)]
struct GoldenReading {
    seq: u32,
    time_ms: u64,
    temperature_centi_c: i32,
    rh_centi_pct: u32,
    surface_temperature_centi_c: Option<i32>,
    co2_ppm: Option<u32>,
    battery_mv: u32,
    status: u32,
}

#[derive(Deserialize)]
struct GoldenDropped {
    queue_full: u32,
    sensor_failed: u32,
}

#[derive(Deserialize)]
struct Golden {
    name: String,
    seed_hex: String,
    public_key_hex: String,
    key_id: u32,
    device_id: String,
    boot: u32,
    floor_seq: u32,
    #[serde(default)]
    dropped_queue_full: u32,
    #[serde(default)]
    dropped_sensor_failed: u32,
    /// Explicit presence of `Uplink.dropped`, when a case records it.
    #[serde(default)]
    dropped: Option<Option<GoldenDropped>>,
    readings: Vec<GoldenReading>,
    payload_hex: String,
    signature_hex: String,
    envelope_hex: String,
}

impl Golden {
    /// The drop counters as the case sets them. A case that does not say whether the field is
    /// present follows the rule the generator used: counters accompany every batch of readings
    /// (as the firmware always sends them), and an empty heartbeat leaves the field unset.
    fn dropped(&self) -> Option<DropCounters> {
        match &self.dropped {
            Some(explicit) => explicit
                .as_ref()
                .map(|d| DropCounters { queue_full: d.queue_full, sensor_failed: d.sensor_failed }),
            None => (!self.readings.is_empty()).then_some(DropCounters {
                queue_full: self.dropped_queue_full,
                sensor_failed: self.dropped_sensor_failed,
            }),
        }
    }

    fn seed(&self) -> [u8; 32] {
        hex::decode(&self.seed_hex).unwrap().try_into().unwrap()
    }
}

fn vectors() -> Vec<Golden> {
    serde_json::from_str(include_str!("../../proto/golden/uplink-v1.json")).expect("golden file parses")
}

fn reading(r: &GoldenReading) -> Reading {
    let mut m = Reading {
        seq: r.seq,
        time_ms: r.time_ms,
        temperature_centi_c: r.temperature_centi_c,
        rh_centi_pct: r.rh_centi_pct,
        battery_mv: r.battery_mv,
        status: r.status,
        ..Reading::default()
    };
    if let Some(t) = r.surface_temperature_centi_c {
        m.set_surface_temperature_centi_c(t);
    }
    if let Some(c) = r.co2_ppm {
        m.set_co2_ppm(c);
    }
    m
}

fn assert_sealed_matches(g: &Golden, uplink: &Uplink, what: &str) {
    let mut envelope = SignedUplink::default();
    let mut out = [0u8; UPLINK_BUFFER_LEN];
    let n = seal(&Signer::from_seed(&g.seed()), g.key_id, uplink, &mut envelope, &mut out).unwrap();
    assert_eq!(hex::encode(&envelope.payload), g.payload_hex, "{}: payload ({what})", g.name);
    assert_eq!(hex::encode(&envelope.signature), g.signature_hex, "{}: signature ({what})", g.name);
    assert_eq!(hex::encode(&out[..n]), g.envelope_hex, "{}: envelope ({what})", g.name);
}

#[test]
fn micropb_types_and_signer_reproduce_every_golden_vector() {
    let vectors = vectors();
    assert!(vectors.len() >= 3, "the golden file must hold its cases");
    for g in &vectors {
        assert_eq!(hex::encode(public_key_from_seed(&g.seed())), g.public_key_hex, "{}: public key", g.name);

        let mut uplink = Uplink {
            device_id: g.device_id.as_str().try_into().unwrap(),
            boot: g.boot,
            floor_seq: g.floor_seq,
            ..Uplink::default()
        };
        for r in &g.readings {
            uplink.readings.push(reading(r)).unwrap();
        }
        if let Some(d) = g.dropped() {
            uplink.set_dropped(d);
        }
        assert_sealed_matches(g, &uplink, "built from the recorded values");
    }
}

/// The path the device really takes: a sample is narrowed into the queue's form, turned back
/// into a wire reading and batched with `fill`, which always states the drop counters.
#[test]
fn queued_readings_batched_by_the_core_reproduce_the_golden_batches() {
    let mut checked = 0;
    for g in vectors().iter().filter(|g| g.dropped().is_some() && !g.readings.is_empty()) {
        let stored: Vec<StoredReading> = g
            .readings
            .iter()
            .map(|r| {
                let sample = Sample {
                    temperature_centi_c: r.temperature_centi_c,
                    rh_centi_pct: r.rh_centi_pct,
                    surface_temperature_centi_c: r.surface_temperature_centi_c,
                    co2_ppm: r.co2_ppm,
                    battery_mv: r.battery_mv,
                    status: r.status,
                };
                StoredReading::from_sample(&sample, r.seq, r.time_ms, 0)
            })
            .collect();
        let d = g.dropped().unwrap();
        let header = BatchHeader {
            boot: g.boot,
            floor_seq: g.floor_seq,
            dropped_queue_full: d.queue_full,
            sensor_failed: d.sensor_failed,
        };
        let mut uplink = Uplink::default();
        let taken = fill(&mut uplink, &g.device_id, header, stored.iter(), usize::MAX).unwrap();
        assert_eq!(taken, g.readings.len());
        assert_sealed_matches(g, &uplink, "batched from the queue");
        checked += 1;
    }
    assert!(checked >= 2, "the golden batches were exercised");
}
