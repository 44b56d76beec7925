//! Shared test fixtures: a device identity, samples, and a "server" that decodes what the core
//! publishes exactly as the collector would (prost types, ring verifier) and signs downlinks
//! with the collector's signer.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use dampwatch_firmware::{
    CollectorKey, CollectorKeys, Config, DeviceCore, Identity, Sample, MAX_UPLINK_BYTES, UPLINK_BUFFER_LEN,
};
use dampwatch_proto::v1::{CommitAck, DeviceConfig, SignedUplink, Uplink};
use dampwatch_proto::wire::DownlinkKind;
use prost::Message;
use ring::signature::{Ed25519KeyPair, KeyPair};

pub const SEED: [u8; 32] = [42; 32];
/// The collector's downlink key in these tests, and its key id.
pub const COLLECTOR_SEED: [u8; 32] = [0xC0; 32];
pub const COLLECTOR_KEY_ID: u32 = 1;
pub const DEVICE: &str = "dev-1";
pub const LANDLORD: &str = "acme";
pub const INTERVAL_MS: u64 = 600_000;

pub fn collector_key(seed: [u8; 32], key_id: u32) -> CollectorKey {
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    CollectorKey { key_id, public_key: pair.public_key().as_ref().try_into().unwrap() }
}

/// The device trusts the test collector key only.
pub fn collector_keys() -> CollectorKeys {
    CollectorKeys::new(&[collector_key(COLLECTOR_SEED, COLLECTOR_KEY_ID)]).unwrap()
}

pub fn identity() -> Identity {
    Identity::new(DEVICE, LANDLORD, 1, SEED, collector_keys()).unwrap()
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

/// A downlink signed as the collector signs it, with any key, for any device.
pub fn signed(kind: DownlinkKind, device: &str, seed: [u8; 32], key_id: u32, payload: Vec<u8>) -> Vec<u8> {
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    dampwatch_proto::sign_downlink(kind, device, &key, key_id, payload).unwrap().encode_to_vec()
}

/// The collector's signed acknowledgement for the test device.
pub fn ack(boot: u32, seq: u32) -> Vec<u8> {
    signed(
        DownlinkKind::Ack,
        DEVICE,
        COLLECTOR_SEED,
        COLLECTOR_KEY_ID,
        CommitAck { boot, seq }.encode_to_vec(),
    )
}

/// The collector's signed configuration for boot 1 of the test device, with a counter above
/// every earlier one (the collectors' counter only ever grows).
pub fn config(sample_interval_s: u32, max_batch: u32, ack_timeout_s: u32, time_ms: u64) -> Vec<u8> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    signed_config(DeviceConfig { sample_interval_s, max_batch, ack_timeout_s, time_ms, boot: 1, counter })
}

/// `config` signed by the collector for the test device, as it is.
pub fn signed_config(config: DeviceConfig) -> Vec<u8> {
    signed(DownlinkKind::Config, DEVICE, COLLECTOR_SEED, COLLECTOR_KEY_ID, config.encode_to_vec())
}
