//! The server side of the downlink golden vectors: from the recorded values, prost and the
//! collector's signer (ring) produce every committed payload, signature and envelope byte for
//! byte; each verifies, and any change of the kind, the device id, the payload or the key is
//! refused. The firmware verifies the same file (`firmware/tests/golden.rs`).
use dampwatch_proto::v1::{CommitAck, DeviceConfig, SignedDownlink};
use dampwatch_proto::{sign_downlink, verify_downlink, VerifyError};
use dampwatch_wire::DownlinkKind;
use prost::Message;
use ring::signature::{Ed25519KeyPair, KeyPair};
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
    seed_hex: String,
    public_key_hex: String,
    key_id: u32,
    device_id: String,
    payload_hex: String,
    signature_hex: String,
    envelope_hex: String,
}

impl Golden {
    fn kind(&self) -> DownlinkKind {
        match self.kind.as_str() {
            "ack" => DownlinkKind::Ack,
            "config" => DownlinkKind::Config,
            other => panic!("{}: unknown kind {other}", self.name),
        }
    }

    fn payload(&self) -> Vec<u8> {
        match self.kind() {
            DownlinkKind::Ack => CommitAck { boot: self.boot, seq: self.seq }.encode_to_vec(),
            DownlinkKind::Config => DeviceConfig {
                sample_interval_s: self.sample_interval_s,
                max_batch: self.max_batch,
                ack_timeout_s: self.ack_timeout_s,
                time_ms: self.time_ms,
                boot: self.boot,
                counter: self.counter,
            }
            .encode_to_vec(),
        }
    }

    fn key(&self) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&hex::decode(&self.seed_hex).unwrap()).unwrap()
    }
}

fn vectors() -> Vec<Golden> {
    serde_json::from_str(include_str!("../golden/downlink-v1.json")).expect("golden file parses")
}

#[test]
fn the_collectors_signer_reproduces_every_golden_downlink() {
    let vectors = vectors();
    assert!(vectors.iter().filter(|g| g.kind == "ack").count() >= 2);
    assert!(vectors.iter().filter(|g| g.kind == "config").count() >= 2);
    for g in &vectors {
        let key = g.key();
        assert_eq!(hex::encode(key.public_key()), g.public_key_hex, "{}: public key", g.name);
        let payload = g.payload();
        assert_eq!(hex::encode(&payload), g.payload_hex, "{}: payload", g.name);
        let env = sign_downlink(g.kind(), &g.device_id, &key, g.key_id, payload).unwrap();
        assert_eq!(hex::encode(&env.signature), g.signature_hex, "{}: signature", g.name);
        assert_eq!(hex::encode(env.encode_to_vec()), g.envelope_hex, "{}: envelope", g.name);

        let decoded = SignedDownlink::decode(hex::decode(&g.envelope_hex).unwrap().as_slice()).unwrap();
        assert_eq!(decoded, env);
        verify_downlink(g.kind(), &g.device_id, key.public_key().as_ref(), &decoded).unwrap();
    }
}

#[test]
fn another_kind_device_payload_or_key_is_refused() {
    let vectors = vectors();
    let g = &vectors[0];
    let env = SignedDownlink::decode(hex::decode(&g.envelope_hex).unwrap().as_slice()).unwrap();
    let pk = hex::decode(&g.public_key_hex).unwrap();
    let other_kind = match g.kind() {
        DownlinkKind::Ack => DownlinkKind::Config,
        DownlinkKind::Config => DownlinkKind::Ack,
    };
    assert_eq!(verify_downlink(other_kind, &g.device_id, &pk, &env), Err(VerifyError::BadSignature));
    assert_eq!(verify_downlink(g.kind(), "golden-dev-9", &pk, &env), Err(VerifyError::BadSignature));
    let mut altered = env.clone();
    altered.payload[1] ^= 1;
    assert_eq!(verify_downlink(g.kind(), &g.device_id, &pk, &altered), Err(VerifyError::BadSignature));
    let other_key = hex::decode(&vectors[1].public_key_hex).unwrap();
    assert_eq!(verify_downlink(g.kind(), &g.device_id, &other_key, &env), Err(VerifyError::BadSignature));
    let unsigned = SignedDownlink { signature: Vec::new(), ..env };
    assert_eq!(verify_downlink(g.kind(), &g.device_id, &pk, &unsigned), Err(VerifyError::SignatureLength(0)));
}
