//! Regenerates `proto/golden/downlink-v1.json`: commit acknowledgements and configurations
//! signed by the collector's side (prost + ring) with fixed test keys. Run
//! `cargo run -p dampwatch-proto --example make_downlink_golden > proto/golden/downlink-v1.json`
//! only when the downlink format changes on purpose; the server and the firmware both test
//! against the committed file.
use dampwatch_proto::sign_downlink;
use dampwatch_proto::v1::{CommitAck, DeviceConfig};
use dampwatch_wire::DownlinkKind;
use prost::Message;
use ring::signature::{Ed25519KeyPair, KeyPair};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

enum Payload {
    Ack(CommitAck),
    Config(DeviceConfig),
}

fn case(name: &str, seed: [u8; 32], key_id: u32, device_id: &str, payload: Payload) -> String {
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let (kind, bytes, fields) = match &payload {
        Payload::Ack(a) => (
            DownlinkKind::Ack,
            a.encode_to_vec(),
            format!("\"kind\": \"ack\",\n    \"boot\": {},\n    \"seq\": {}", a.boot, a.seq),
        ),
        Payload::Config(c) => (
            DownlinkKind::Config,
            c.encode_to_vec(),
            format!(
                "\"kind\": \"config\",\n    \"boot\": {},\n    \"counter\": {},\n    \"sample_interval_s\": {},\n    \"max_batch\": {},\n    \"ack_timeout_s\": {},\n    \"time_ms\": {}",
                c.boot, c.counter, c.sample_interval_s, c.max_batch, c.ack_timeout_s, c.time_ms
            ),
        ),
    };
    let env = sign_downlink(kind, device_id, &key, key_id, bytes).unwrap();
    format!(
        "  {{\n    \"name\": \"{name}\",\n    {fields},\n    \"seed_hex\": \"{}\",\n    \"public_key_hex\": \"{}\",\n    \"key_id\": {key_id},\n    \"device_id\": \"{device_id}\",\n    \"payload_hex\": \"{}\",\n    \"signature_hex\": \"{}\",\n    \"envelope_hex\": \"{}\"\n  }}",
        hex(&seed),
        hex(key.public_key().as_ref()),
        hex(&env.payload),
        hex(&env.signature),
        hex(&env.encode_to_vec()),
    )
}

fn main() {
    let long_id = "golden-device-with-a-32-char-id0";
    assert_eq!(long_id.len(), 32);
    let cases = [
        case("ack", [0x11; 32], 1, "golden-dev-1", Payload::Ack(CommitAck { boot: 3, seq: 7 })),
        case(
            "ack-widest-values-second-key",
            core::array::from_fn(|i| (i as u8).wrapping_mul(7)),
            2,
            long_id,
            Payload::Ack(CommitAck { boot: u32::MAX, seq: u32::MAX - 1 }),
        ),
        case(
            "config-every-field",
            [0x11; 32],
            1,
            "golden-dev-1",
            Payload::Config(DeviceConfig {
                sample_interval_s: 900,
                max_batch: 20,
                ack_timeout_s: 120,
                time_ms: 1_764_000_000_000,
                boot: 3,
                counter: 1,
            }),
        ),
        case(
            "config-widest-values",
            core::array::from_fn(|i| (i as u8).wrapping_mul(7)),
            2,
            long_id,
            Payload::Config(DeviceConfig {
                sample_interval_s: u32::MAX,
                max_batch: u32::MAX,
                ack_timeout_s: u32::MAX,
                time_ms: u64::MAX,
                boot: u32::MAX,
                counter: u32::MAX,
            }),
        ),
        case(
            "config-keep-everything",
            [0x11; 32],
            1,
            "golden-dev-1",
            Payload::Config(DeviceConfig { boot: 1, counter: 4_000_000_000, ..DeviceConfig::default() }),
        ),
    ];
    println!("[\n{}\n]", cases.join(",\n"));
}
