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

/// The downlink vectors in `proto/golden/downlink-v1.json`, signed by the collector's side
/// (prost + ring): the firmware opens every one with the recorded key and decodes exactly the
/// recorded values, and refuses each for another device, another kind or an unknown key.
mod downlinks {
    use dampwatch_firmware::downlink::{open, Refusal};
    use dampwatch_firmware::proto::{CommitAck, DeviceConfig};
    use dampwatch_firmware::{CollectorKey, CollectorKeys};
    use dampwatch_proto::wire::DownlinkKind;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Golden {
        name: String,
        kind: String,
        boot: u32,
        #[serde(default)]
        seq: u32,
        #[serde(default)]
        counter: u32,
        #[serde(default)]
        sample_interval_s: u32,
        #[serde(default)]
        max_batch: u32,
        #[serde(default)]
        ack_timeout_s: u32,
        #[serde(default)]
        time_ms: u64,
        public_key_hex: String,
        key_id: u32,
        device_id: String,
        envelope_hex: String,
    }

    impl Golden {
        fn keys(&self) -> CollectorKeys {
            let public_key = hex::decode(&self.public_key_hex).unwrap().try_into().unwrap();
            CollectorKeys::new(&[CollectorKey { key_id: self.key_id, public_key }]).unwrap()
        }

        fn kind(&self) -> DownlinkKind {
            if self.kind == "ack" {
                DownlinkKind::Ack
            } else {
                DownlinkKind::Config
            }
        }
    }

    fn vectors() -> Vec<Golden> {
        serde_json::from_str(include_str!("../../proto/golden/downlink-v1.json")).expect("golden file parses")
    }

    #[test]
    fn the_firmware_opens_every_golden_downlink_to_the_recorded_values() {
        let vectors = vectors();
        assert!(vectors.len() >= 4, "the golden file must hold its cases");
        for g in &vectors {
            let bytes = hex::decode(&g.envelope_hex).unwrap();
            let keys = g.keys();
            match g.kind() {
                DownlinkKind::Ack => {
                    let mut ack = CommitAck::default();
                    open(DownlinkKind::Ack, &keys, &g.device_id, &bytes, &mut ack).unwrap();
                    assert_eq!((ack.boot, ack.seq), (g.boot, g.seq), "{}", g.name);
                }
                DownlinkKind::Config => {
                    let mut c = DeviceConfig::default();
                    open(DownlinkKind::Config, &keys, &g.device_id, &bytes, &mut c).unwrap();
                    assert_eq!(
                        (c.sample_interval_s, c.max_batch, c.ack_timeout_s, c.time_ms, c.boot, c.counter),
                        (g.sample_interval_s, g.max_batch, g.ack_timeout_s, g.time_ms, g.boot, g.counter),
                        "{}",
                        g.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_golden_downlink_is_refused_for_another_device_kind_or_key() {
        let vectors = vectors();
        for g in &vectors {
            let bytes = hex::decode(&g.envelope_hex).unwrap();
            let keys = g.keys();
            let other_kind = match g.kind() {
                DownlinkKind::Ack => DownlinkKind::Config,
                DownlinkKind::Config => DownlinkKind::Ack,
            };
            let mut c = DeviceConfig::default();
            assert_eq!(open(g.kind(), &keys, "golden-dev-9", &bytes, &mut c), Err(Refusal::BadSignature));
            assert_eq!(open(other_kind, &keys, &g.device_id, &bytes, &mut c), Err(Refusal::BadSignature));
            let other = vectors.iter().find(|o| o.public_key_hex != g.public_key_hex).unwrap();
            let impostor = CollectorKeys::new(&[CollectorKey {
                key_id: g.key_id,
                public_key: hex::decode(&other.public_key_hex).unwrap().try_into().unwrap(),
            }])
            .unwrap();
            assert_eq!(open(g.kind(), &impostor, &g.device_id, &bytes, &mut c), Err(Refusal::BadSignature));
        }
    }
}

/// The firmware's Ed25519 verifier stands in for the servers' `ring` on downlinks, checked on
/// the edge cases where verifiers disagree (`tests/data/ed25519-speccheck-cases.json`, from
/// ed25519-speccheck, Apache-2.0). `ring` checks the cofactorless equation; the firmware's
/// ed25519-compact the cofactored one. They can only differ under a public key of small or
/// mixed order, which no honest key generator makes (the PKI derives every key from a random
/// seed, as RFC 8032 does: prime order). So a key not of prime order is refused when a device
/// is provisioned with it (and by the registry, `cargo test -p dampwatch-store --test
/// registry`), and under every key that is accepted the two give the same answer.
#[test]
fn the_firmware_verifier_answers_as_ring_under_every_key_it_accepts() {
    use dampwatch_firmware::{CollectorKey, CollectorKeys, CollectorKeysError};
    use ring::signature::{UnparsedPublicKey, ED25519};

    /// Cases whose public key is not of prime order (speccheck's own descriptions): 0 and 1
    /// small order, 2 to 5, 8 and 9 mixed order.
    const NOT_PRIME_ORDER_KEY: [usize; 8] = [0, 1, 2, 3, 4, 5, 8, 9];

    #[derive(Deserialize)]
    struct Case {
        message: String,
        pub_key: String,
        signature: String,
    }
    let cases: Vec<Case> =
        serde_json::from_str(include_str!("data/ed25519-speccheck-cases.json")).expect("cases parse");
    assert_eq!(cases.len(), 10);
    let mut differ = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let message = hex::decode(&c.message).unwrap();
        let public_key: [u8; 32] = hex::decode(&c.pub_key).unwrap().try_into().unwrap();
        let signature: [u8; 64] = hex::decode(&c.signature).unwrap().try_into().unwrap();
        let by_ring = UnparsedPublicKey::new(&ED25519, public_key).verify(&message, &signature).is_ok();
        let by_firmware = dampwatch_firmware::downlink::verify(&public_key, &message, &signature);
        let held = CollectorKeys::new(&[CollectorKey { key_id: 1, public_key }]);
        if NOT_PRIME_ORDER_KEY.contains(&i) {
            assert_eq!(held, Err(CollectorKeysError::WeakKey(1)), "case {i}: refused at provisioning");
        } else {
            assert!(held.is_ok(), "case {i}: a prime-order key is accepted");
            assert_eq!(by_firmware, by_ring, "case {i}: under an accepted key both answer alike");
        }
        if by_ring != by_firmware {
            differ.push(i);
        }
    }
    assert!(!differ.is_empty(), "the set still shows the difference this test explains");
}
