//! Regenerates `proto/golden/uplink-v1.json`: encoded payloads and signatures made with fixed
//! test keys. Run `cargo run -p dampwatch-proto --example make_golden > proto/golden/uplink-v1.json`
//! only when the wire format changes on purpose; both the server and the firmware test against
//! the committed file.
use dampwatch_proto::v1::{DropCounters, Reading, SignedUplink, Uplink};
use dampwatch_wire::signing::{signing_message, signing_message_len};
use prost::Message;
use ring::signature::{Ed25519KeyPair, KeyPair};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn case(name: &str, seed: [u8; 32], key_id: u32, uplink: Uplink) -> String {
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let payload = uplink.encode_to_vec();
    let mut msg = vec![0u8; signing_message_len(&uplink.device_id, payload.len())];
    signing_message(&uplink.device_id, &payload, &mut msg).unwrap();
    let sig = key.sign(&msg);
    let env = SignedUplink { payload: payload.clone(), signature: sig.as_ref().to_vec(), key_id };
    let readings: Vec<String> = uplink
        .readings
        .iter()
        .map(|r| {
            format!(
                "{{\"seq\":{},\"time_ms\":{},\"temperature_centi_c\":{},\"rh_centi_pct\":{},\"surface_temperature_centi_c\":{},\"co2_ppm\":{},\"battery_mv\":{},\"status\":{}}}",
                r.seq,
                r.time_ms,
                r.temperature_centi_c,
                r.rh_centi_pct,
                r.surface_temperature_centi_c.map_or("null".into(), |v| v.to_string()),
                r.co2_ppm.map_or("null".into(), |v| v.to_string()),
                r.battery_mv,
                r.status
            )
        })
        .collect();
    let d = uplink.dropped.unwrap_or_default();
    format!(
        "  {{\n    \"name\": \"{name}\",\n    \"seed_hex\": \"{}\",\n    \"public_key_hex\": \"{}\",\n    \"key_id\": {key_id},\n    \"device_id\": \"{}\",\n    \"boot\": {},\n    \"floor_seq\": {},\n    \"dropped_queue_full\": {},\n    \"dropped_sensor_failed\": {},\n    \"readings\": [\n      {}\n    ],\n    \"payload_hex\": \"{}\",\n    \"signature_hex\": \"{}\",\n    \"envelope_hex\": \"{}\"\n  }}",
        hex(&seed),
        hex(key.public_key().as_ref()),
        uplink.device_id,
        uplink.boot,
        uplink.floor_seq,
        d.queue_full,
        d.sensor_failed,
        readings.join(",\n      "),
        hex(&payload),
        hex(sig.as_ref()),
        hex(&env.encode_to_vec()),
    )
}

fn main() {
    let reading = |seq: u32, t: i32, rh: u32| Reading {
        seq,
        time_ms: 1_764_000_000_000 + u64::from(seq) * 600_000,
        temperature_centi_c: t,
        rh_centi_pct: rh,
        surface_temperature_centi_c: None,
        co2_ppm: None,
        battery_mv: 3012,
        status: 0,
    };
    let full =
        Reading { surface_temperature_centi_c: Some(1234), co2_ppm: Some(1650), ..reading(7, 2105, 8150) };
    let cases = [
        case(
            "one-reading-all-fields",
            [7u8; 32],
            1,
            Uplink {
                device_id: "golden-dev-1".into(),
                boot: 3,
                readings: vec![full],
                floor_seq: 7,
                dropped: Some(DropCounters { queue_full: 0, sensor_failed: 0 }),
            },
        ),
        case(
            "batch-cold-negative-and-drops",
            core::array::from_fn(|i| i as u8),
            2,
            Uplink {
                device_id: "golden-dev-2".into(),
                boot: 1,
                readings: vec![
                    reading(41, -550, 9990),
                    Reading { status: 1 | 32, ..reading(42, 0, 0) },
                    reading(43, 4999, 10000),
                ],
                floor_seq: 41,
                dropped: Some(DropCounters { queue_full: 40, sensor_failed: 2 }),
            },
        ),
        case(
            "empty-heartbeat",
            [0xA5u8; 32],
            1,
            Uplink {
                device_id: "golden-dev-3".into(),
                boot: 0,
                readings: vec![],
                floor_seq: 0,
                dropped: None,
            },
        ),
    ];
    println!("[\n{}\n]", cases.join(",\n"));
}
