//! The server side of the golden vectors: every committed envelope decodes, its signature
//! verifies with `ring`, its payload decodes to exactly the recorded values, and any change to
//! the signed bytes or the device id is refused.
use dampwatch_proto::v1::{SignedUplink, Uplink};
use dampwatch_proto::{verify_uplink, VerifyError};
use prost::Message;
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
struct Golden {
    name: String,
    public_key_hex: String,
    key_id: u32,
    device_id: String,
    boot: u32,
    floor_seq: u32,
    dropped_queue_full: u32,
    dropped_sensor_failed: u32,
    readings: Vec<GoldenReading>,
    payload_hex: String,
    signature_hex: String,
    envelope_hex: String,
}

fn vectors() -> Vec<Golden> {
    serde_json::from_str(include_str!("../golden/uplink-v1.json")).expect("golden file parses")
}

#[test]
fn golden_envelopes_verify_and_decode_to_the_recorded_values() {
    let vectors = vectors();
    assert!(vectors.len() >= 3);
    for g in vectors {
        let env = SignedUplink::decode(hex::decode(&g.envelope_hex).unwrap().as_slice()).unwrap();
        assert_eq!(hex::encode(&env.payload), g.payload_hex, "{}", g.name);
        assert_eq!(hex::encode(&env.signature), g.signature_hex, "{}", g.name);
        assert_eq!(env.key_id, g.key_id);
        let pk = hex::decode(&g.public_key_hex).unwrap();
        verify_uplink(&g.device_id, &pk, &env.payload, &env.signature).unwrap();

        let up = Uplink::decode(env.payload.as_slice()).unwrap();
        assert_eq!(up.device_id, g.device_id);
        assert_eq!((up.boot, up.floor_seq), (g.boot, g.floor_seq));
        let d = up.dropped.unwrap_or_default();
        assert_eq!((d.queue_full, d.sensor_failed), (g.dropped_queue_full, g.dropped_sensor_failed));
        assert_eq!(up.readings.len(), g.readings.len());
        for (r, e) in up.readings.iter().zip(&g.readings) {
            assert_eq!(
                (r.seq, r.time_ms, r.temperature_centi_c, r.rh_centi_pct, r.battery_mv, r.status),
                (e.seq, e.time_ms, e.temperature_centi_c, e.rh_centi_pct, e.battery_mv, e.status)
            );
            assert_eq!(r.surface_temperature_centi_c, e.surface_temperature_centi_c);
            assert_eq!(r.co2_ppm, e.co2_ppm);
        }
    }
}

#[test]
fn tampering_or_claiming_another_device_is_refused() {
    let g = &vectors()[0];
    let pk = hex::decode(&g.public_key_hex).unwrap();
    let payload = hex::decode(&g.payload_hex).unwrap();
    let sig = hex::decode(&g.signature_hex).unwrap();

    let mut flipped = payload.clone();
    flipped[3] ^= 1;
    assert_eq!(verify_uplink(&g.device_id, &pk, &flipped, &sig), Err(VerifyError::BadSignature));
    assert_eq!(verify_uplink("golden-dev-9", &pk, &payload, &sig), Err(VerifyError::BadSignature));
    assert_eq!(verify_uplink(&g.device_id, &pk, &payload, &sig[..63]), Err(VerifyError::SignatureLength(63)));
    let other_key = hex::decode(&vectors()[1].public_key_hex).unwrap();
    assert_eq!(verify_uplink(&g.device_id, &other_key, &payload, &sig), Err(VerifyError::BadSignature));
}
