//! Random-input testing of what the server does with a device's bytes before trusting them: the
//! `ring` verifier of signed uplinks and the prost decoding of `SignedUplink`, `Uplink` and the
//! downlink payloads.
//!
//! Properties: random and mutated inputs never panic; a change to the signed payload, the
//! signature or the device id is always refused; decoding allocates in proportion to the bytes
//! it was given, never to a length an input declares (a field claiming gigabytes in a
//! 20-byte message is refused before anything is reserved for it); and valid messages decode
//! to exactly what was encoded.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{bytes, check, counting_allocator_active, measured, mutated, AllocationInfo};
use dampwatch_proto::v1::{CommitAck, DeviceConfig, DropCounters, Reading, SignedUplink, Uplink};
use dampwatch_proto::wire::limits::{MAX_PAYLOAD_BYTES, MAX_UPLINK_BYTES, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use dampwatch_proto::{verify_uplink, VerifyError};
use prost::Message;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// Heap a decoder may use for `n` input bytes: the decoded structs are bigger than their
/// encoding (a `Reading` is 48 bytes from as little as 2 on the wire) and vectors grow by
/// doubling; what matters is that the bound follows the input, not what the input claims.
fn decode_budget(n: usize) -> u64 {
    64 * n as u64 + 4096
}

fn assert_within_budget(heap: &AllocationInfo, input_len: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        heap.bytes_max <= decode_budget(input_len),
        "decoding {} bytes held {} bytes at once",
        input_len,
        heap.bytes_max
    );
    Ok(())
}

/// Decodes `bytes` as every message a device or the network can hand the server.
fn decode_all(bytes: &[u8]) {
    if let Ok(env) = SignedUplink::decode(bytes) {
        let _ = Uplink::decode(env.payload.as_slice());
    }
    let _ = Uplink::decode(bytes);
    let _ = CommitAck::decode(bytes);
    let _ = DeviceConfig::decode(bytes);
}

/// Device ids: mostly valid ones, sometimes anything.
fn device_id() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", 1 => "\\PC{0,40}"]
}

fn reading() -> impl Strategy<Value = Reading> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<i32>(),
        any::<u32>(),
        any::<Option<i32>>(),
        any::<Option<u32>>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(seq, time_ms, t, rh, surface, co2, battery_mv, status)| Reading {
            seq,
            time_ms,
            temperature_centi_c: t,
            rh_centi_pct: rh,
            surface_temperature_centi_c: surface,
            co2_ppm: co2,
            battery_mv,
            status,
        })
}

fn uplink() -> impl Strategy<Value = Uplink> {
    (
        device_id(),
        any::<u32>(),
        prop::collection::vec(reading(), 0..40),
        any::<u32>(),
        any::<Option<(u32, u32)>>(),
    )
        .prop_map(|(device_id, boot, readings, floor_seq, dropped)| Uplink {
            device_id,
            boot,
            readings,
            floor_seq,
            dropped: dropped.map(|(queue_full, sensor_failed)| DropCounters { queue_full, sensor_failed }),
        })
}

/// A device's signing key, from a seed.
fn key(seed: [u8; 32]) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&seed).unwrap()
}

/// What a device sends: the payload, signed over the uplink signing message of its id.
fn signed(key: &Ed25519KeyPair, device_id: &str, payload: Vec<u8>, key_id: u32) -> SignedUplink {
    let mut buf = vec![0u8; MAX_UPLINK_BYTES + 64];
    let signature = match dampwatch_proto::wire::signing::signing_message(device_id, &payload, &mut buf) {
        Ok(n) => key.sign(&buf[..n]).as_ref().to_vec(),
        // An id no device can have: the envelope is still well formed, its signature is not.
        Err(_) => vec![0; SIGNATURE_LEN],
    };
    SignedUplink { payload, signature, key_id }
}

#[test]
fn the_allocation_counter_is_in_place() {
    assert!(counting_allocator_active());
}

#[test]
fn random_bytes_decode_without_panic_within_a_budget() {
    check("proto/decode random bytes", bytes(MAX_UPLINK_BYTES + 64), |input| {
        let ((), heap) = measured(|| decode_all(&input));
        assert_within_budget(&heap, input.len())
    });
}

#[test]
fn mutated_uplinks_decode_without_panic_within_a_budget() {
    let valid = (uplink(), any::<[u8; 32]>(), any::<u32>()).prop_map(|(up, seed, key_id)| {
        let payload = up.encode_to_vec();
        let id = up.device_id.clone();
        signed(&key(seed), &id, payload, key_id).encode_to_vec()
    });
    check("proto/decode mutated envelopes", mutated(valid), |input| {
        let ((), heap) = measured(|| decode_all(&input));
        assert_within_budget(&heap, input.len())
    });
    check("proto/decode mutated payloads", mutated(uplink().prop_map(|u| u.encode_to_vec())), |input| {
        let ((), heap) = measured(|| decode_all(&input));
        assert_within_budget(&heap, input.len())
    });
}

/// A protobuf varint.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

#[test]
fn a_declared_length_beyond_the_bytes_is_refused_before_allocation() {
    // Field 1 (payload or device id), 2 (signature or boot) and 3 (key id or readings), as a
    // length-delimited field claiming `declared` bytes with only `present` following.
    let strategy = (1..=5u32, 1024u64..=u64::MAX, bytes(32), any::<Option<u32>>());
    check("proto/decode lying lengths", strategy, |(field, declared, present, key_id)| {
        // Optionally a complete field first, so the claim is not always at the start.
        let prefix = key_id.map_or(vec![], |k| [vec![0x18], varint(u64::from(k))].concat());
        let input = [prefix, varint(u64::from(field << 3 | 2)), varint(declared), present].concat();
        let ((), heap) = measured(|| decode_all(&input));
        assert_within_budget(&heap, input.len())?;
        prop_assert!(
            heap.bytes_max < declared,
            "{} bytes reserved for a claim of {}",
            heap.bytes_max,
            declared
        );
        // The claim is refused outright: no field can hold more than the bytes that follow.
        prop_assert!(SignedUplink::decode(input.as_slice()).is_err());
        prop_assert!(Uplink::decode(input.as_slice()).is_err());
        Ok(())
    });
    // The same inside a valid envelope: the payload's own length is a lie.
    let k = key([5; 32]);
    let env =
        signed(&k, "dev-1", Uplink { device_id: "dev-1".into(), ..Default::default() }.encode_to_vec(), 1);
    let mut raw = env.encode_to_vec();
    assert_eq!(raw[0], 0x0A);
    let declared = u64::from(u32::MAX) * 1000;
    raw.splice(1..2, varint(declared));
    let (result, heap) = measured(|| SignedUplink::decode(raw.as_slice()));
    assert!(result.is_err());
    assert!(heap.bytes_max <= decode_budget(raw.len()), "{heap:?}");
}

#[test]
fn valid_messages_decode_to_what_was_encoded() {
    check("proto/round trip", (uplink(), any::<[u8; 32]>(), any::<u32>()), |(up, seed, key_id)| {
        let payload = up.encode_to_vec();
        prop_assert_eq!(&Uplink::decode(payload.as_slice()).unwrap(), &up);
        let env = SignedUplink { payload: payload.clone(), signature: vec![7; SIGNATURE_LEN], key_id };
        let raw = env.encode_to_vec();
        prop_assert_eq!(SignedUplink::decode(raw.as_slice()).unwrap(), env);
        let ack = CommitAck { boot: seed[0].into(), seq: key_id };
        prop_assert_eq!(CommitAck::decode(ack.encode_to_vec().as_slice()).unwrap(), ack);
        let config = DeviceConfig {
            sample_interval_s: key_id,
            max_batch: u32::from(seed[1]),
            ack_timeout_s: u32::from(seed[2]),
            time_ms: up.readings.first().map_or(0, |r| r.time_ms),
            ..Default::default()
        };
        prop_assert_eq!(DeviceConfig::decode(config.encode_to_vec().as_slice()).unwrap(), config);
        Ok(())
    });
}

#[test]
fn random_signatures_keys_and_payloads_are_refused() {
    let strategy = (
        device_id(),
        prop_oneof![Just(PUBLIC_KEY_LEN), 0..40usize]
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        bytes(MAX_UPLINK_BYTES + 16),
        prop_oneof![4 => Just(SIGNATURE_LEN), 1 => 0..80usize]
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
    );
    check("proto/verify random", strategy, |(device_id, public_key, payload, signature)| {
        let (result, heap) = measured(|| verify_uplink(&device_id, &public_key, &payload, &signature));
        prop_assert_eq!(heap.count_total, 0, "the verifier allocated");
        let expected_first = if signature.len() != SIGNATURE_LEN {
            Some(VerifyError::SignatureLength(signature.len()))
        } else if public_key.len() != PUBLIC_KEY_LEN {
            Some(VerifyError::PublicKeyLength(public_key.len()))
        } else if payload.len() > MAX_UPLINK_BYTES {
            Some(VerifyError::PayloadTooLarge)
        } else {
            None
        };
        match expected_first {
            Some(e) => prop_assert_eq!(result, Err(e)),
            None => prop_assert!(result.is_err(), "a random signature verified"),
        }
        Ok(())
    });
}

#[test]
fn any_change_to_signed_bytes_is_refused() {
    let strategy = (
        "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?",
        bytes(MAX_PAYLOAD_BYTES),
        any::<[u8; 32]>(),
        0..3u8,
        prop::collection::vec(dampwatch_fuzz::mutation(), 1..=3),
    );
    check("proto/verify mutated", strategy, |(device_id, payload, seed, what, mutations)| {
        let k = key(seed);
        let public_key = k.public_key().as_ref().to_vec();
        let env = signed(&k, &device_id, payload, 1);
        prop_assert_eq!(verify_uplink(&device_id, &public_key, &env.payload, &env.signature), Ok(()));
        let (mut payload, mut signature, mut id) =
            (env.payload.clone(), env.signature.clone(), device_id.clone().into_bytes());
        let target = match what {
            0 => &mut payload,
            1 => &mut signature,
            _ => &mut id,
        };
        for m in &mutations {
            m.apply(target);
        }
        let id = String::from_utf8_lossy(&id).into_owned();
        let changed = payload != env.payload || signature != env.signature || id != device_id;
        let (result, heap) = measured(|| verify_uplink(&id, &public_key, &payload, &signature));
        prop_assert_eq!(heap.count_total, 0, "the verifier allocated");
        if changed {
            prop_assert!(result.is_err(), "changed bytes verified: id {:?} for {:?}", id, device_id);
        } else {
            prop_assert_eq!(result, Ok(()));
        }
        Ok(())
    });
}
