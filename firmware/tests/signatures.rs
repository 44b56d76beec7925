//! Every uplink the core produces verifies with the server's verifier and fits the limit, even
//! with the widest possible readings; tampering is caught.
mod common;

use common::*;
use dampwatch_firmware::identity::public_key_from_seed;
use dampwatch_firmware::{
    status, Config, DeviceCore, Identity, Sample, MAX_BATCH, MAX_UPLINK_BYTES, UPLINK_BUFFER_LEN,
};
use dampwatch_proto::v1::SignedUplink;
use dampwatch_proto::{verify_uplink, VerifyError};
use prost::Message;

fn widest_sample() -> Sample {
    Sample {
        temperature_centi_c: i32::MIN,
        rh_centi_pct: u32::MAX,
        surface_temperature_centi_c: Some(i32::from(i16::MIN)),
        co2_ppm: Some(u32::from(u16::MAX)),
        battery_mv: u32::MAX,
        status: u32::MAX,
    }
}

#[test]
fn full_batches_of_the_widest_readings_fit_and_verify() {
    // Longest ids, a late wall clock and huge boot and drop counters make every field as wide
    // as it can get on a real device.
    let identity =
        Identity::new(&"d".repeat(32), &"l".repeat(32), u32::MAX, [9; 32], collector_keys()).unwrap();
    let mut core = DeviceCore::new(identity, u32::MAX, Config::default());
    core.set_wall_clock(4_102_444_800_000, 0);
    for i in 0..400u64 {
        core.record(widest_sample(), i);
    }
    core.on_connected(0);
    let ups = drain(&mut core, 0);
    assert!(ups.iter().all(|u| u.readings.len() == MAX_BATCH || u.readings.len() == 288 % MAX_BATCH));
    assert_eq!(ups.iter().map(|u| u.readings.len()).sum::<usize>(), 288);
    assert_eq!(ups[0].readings[0].status, status::ALL, "undefined status bits are not sent");
}

#[test]
fn the_registered_key_is_rings_key_for_the_seed() {
    let core = core(1);
    assert_eq!(core.public_key(), public_key_from_seed(&SEED));
    assert_eq!(core.identity().public_key(), core.public_key());
}

#[test]
fn a_tampered_uplink_or_another_device_id_is_refused() {
    let mut core = core(1);
    core.record(sample(2000), 0);
    core.on_connected(0);
    let mut out = [0u8; UPLINK_BUFFER_LEN];
    let n = core.poll_uplink(0, &mut out).unwrap();
    assert!(n <= MAX_UPLINK_BYTES);
    let env = SignedUplink::decode(&out[..n]).unwrap();
    let pk = core.public_key();
    verify_uplink(DEVICE, &pk, &env.payload, &env.signature).unwrap();

    let mut payload = env.payload.clone();
    let last = payload.len() - 1;
    payload[last] ^= 1;
    assert_eq!(verify_uplink(DEVICE, &pk, &payload, &env.signature), Err(VerifyError::BadSignature));
    assert_eq!(verify_uplink("dev-2", &pk, &env.payload, &env.signature), Err(VerifyError::BadSignature));
}

#[test]
fn signing_is_deterministic() {
    let run = || {
        let mut core = core(3);
        core.record(sample(1999), 0);
        core.on_connected(0);
        let mut out = [0u8; UPLINK_BUFFER_LEN];
        let n = core.poll_uplink(0, &mut out).unwrap();
        out[..n].to_vec()
    };
    assert_eq!(run(), run());
}
