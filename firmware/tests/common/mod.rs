//! Shared test fixtures: a device identity, samples, and a "server" that decodes what the core
//! publishes exactly as the collector would (prost types, ring verifier).
#![allow(dead_code)]

use dampwatch_firmware::{Config, DeviceCore, Identity, Sample, MAX_UPLINK_BYTES, UPLINK_BUFFER_LEN};
use dampwatch_proto::v1::{CommitAck, DeviceConfig, SignedUplink, Uplink};
use prost::Message;

pub const SEED: [u8; 32] = [42; 32];
pub const DEVICE: &str = "dev-1";
pub const LANDLORD: &str = "acme";
pub const INTERVAL_MS: u64 = 600_000;

pub fn identity() -> Identity {
    Identity::new(DEVICE, LANDLORD, 1, SEED).unwrap()
}

pub fn core(boot: u32) -> DeviceCore {
    DeviceCore::new(identity(), boot, Config::default())
}

pub fn sample(t: i32) -> Sample {
    Sample { temperature_centi_c: t, rh_centi_pct: 6000, battery_mv: 3000, ..Sample::default() }
}

/// Publishes everything due at `now_ms`, as a transport would, and checks each uplink the way
/// the collector does: it fits the limit, its signature verifies with the server's verifier
/// and the device's registered key, and its payload decodes.
pub fn drain(core: &mut DeviceCore, now_ms: u64) -> Vec<Uplink> {
    let mut out = [0u8; UPLINK_BUFFER_LEN];
    let mut uplinks = Vec::new();
    while let Some(n) = core.poll_uplink(now_ms, &mut out) {
        assert!(n <= MAX_UPLINK_BYTES, "uplink of {n} bytes exceeds the limit");
        uplinks.push(open(core, &out[..n]));
        assert!(uplinks.len() <= 100, "poll_uplink keeps producing uplinks");
    }
    uplinks
}

pub fn open(core: &DeviceCore, bytes: &[u8]) -> Uplink {
    let env = SignedUplink::decode(bytes).expect("envelope decodes with prost");
    assert_eq!(env.key_id, core.identity().key_id());
    dampwatch_proto::verify_uplink(
        core.identity().device_id(),
        &core.public_key(),
        &env.payload,
        &env.signature,
    )
    .expect("signature verifies with the server verifier");
    let up = Uplink::decode(env.payload.as_slice()).expect("payload decodes with prost");
    assert_eq!(up.device_id, core.identity().device_id());
    assert_eq!(up.boot, core.boot());
    up
}

pub fn seqs(uplinks: &[Uplink]) -> Vec<u32> {
    uplinks.iter().flat_map(|u| u.readings.iter().map(|r| r.seq)).collect()
}

pub fn ack(boot: u32, seq: u32) -> Vec<u8> {
    CommitAck { boot, seq }.encode_to_vec()
}

pub fn config(sample_interval_s: u32, max_batch: u32, ack_timeout_s: u32, time_ms: u64) -> Vec<u8> {
    DeviceConfig { sample_interval_s, max_batch, ack_timeout_s, time_ms }.encode_to_vec()
}
