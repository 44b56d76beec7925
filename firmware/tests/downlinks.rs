//! Signed downlinks: a device releases readings and applies settings only on what the
//! collector's downlink key signed for this device, this boot and no earlier counter; each
//! refusal is counted and changes nothing.
mod common;

use common::*;
use dampwatch_firmware::{
    AckOutcome, CollectorKeys, CollectorKeysError, DeviceCore, DownlinkError, Identity, Stats,
};
use dampwatch_proto::v1::{CommitAck, DeviceConfig, SignedDownlink};
use dampwatch_proto::wire::DownlinkKind;
use prost::Message;

const INTRUDER_SEED: [u8; 32] = [0x66; 32];

/// A device of boot 1 with three readings published and none confirmed.
fn device_with_three_unconfirmed() -> DeviceCore {
    let mut core = core(1);
    core.on_connected(0);
    for t in 0..3 {
        core.record(sample(2000 + t), 0);
    }
    assert_eq!(seqs(&drain(&mut core, 0)), [1, 2, 3]);
    core
}

fn assert_queue_intact(core: &DeviceCore) {
    let s = core.stats();
    assert_eq!((s.queued, s.acked, s.confirmed_seq, s.acks_applied), (3, 0, 0, 0), "{s:?}");
}

fn ack_payload(boot: u32, seq: u32) -> Vec<u8> {
    CommitAck { boot, seq }.encode_to_vec()
}

#[test]
fn a_forged_acknowledgement_releases_nothing_and_is_counted() {
    let mut core = device_with_three_unconfirmed();
    // Signed with another key under the collector's key id.
    let forged = signed(DownlinkKind::Ack, DEVICE, INTRUDER_SEED, COLLECTOR_KEY_ID, ack_payload(1, 3));
    assert_eq!(core.on_ack(&forged, 1), Err(DownlinkError::BadSignature));
    // Signed with a key under an id the device does not hold.
    let unknown = signed(DownlinkKind::Ack, DEVICE, INTRUDER_SEED, 7, ack_payload(1, 3));
    assert_eq!(core.on_ack(&unknown, 1), Err(DownlinkError::UnknownKey(7)));
    // The collector's genuine signature over another payload.
    let mut altered = SignedDownlink::decode(ack(1, 1).as_slice()).unwrap();
    altered.payload = ack_payload(1, 3);
    assert_eq!(core.on_ack(&altered.encode_to_vec(), 1), Err(DownlinkError::BadSignature));
    // No signature at all, and a bare acknowledgement as revision 1 sent them.
    let unsigned = SignedDownlink { payload: ack_payload(1, 3), signature: vec![], key_id: 1 };
    assert_eq!(core.on_ack(&unsigned.encode_to_vec(), 1), Err(DownlinkError::Unsigned));
    assert!(core.on_ack(&ack_payload(1, 3), 1).is_err(), "a bare CommitAck is refused");

    assert_queue_intact(&core);
    let s = core.stats();
    assert_eq!((s.downlinks_bad_signature, s.downlinks_unknown_key, s.downlinks_unsigned), (2, 1, 1));
    assert_eq!(s.malformed_downlinks + s.downlinks_unsigned, 2, "the bare ack is counted too: {s:?}");
    assert_eq!(core.on_ack(&ack(1, 3), 2), Ok(AckOutcome::Confirmed { seq: 3, released: 3 }));
}

#[test]
fn another_devices_acknowledgement_or_a_config_signature_releases_nothing() {
    let mut core = device_with_three_unconfirmed();
    let theirs = signed(DownlinkKind::Ack, "dev-2", COLLECTOR_SEED, COLLECTOR_KEY_ID, ack_payload(1, 3));
    assert_eq!(core.on_ack(&theirs, 1), Err(DownlinkError::BadSignature));
    // The same payload bytes signed as a configuration are not an acknowledgement.
    let as_config = signed(DownlinkKind::Config, DEVICE, COLLECTOR_SEED, COLLECTOR_KEY_ID, ack_payload(1, 3));
    assert_eq!(core.on_ack(&as_config, 1), Err(DownlinkError::BadSignature));
    assert_queue_intact(&core);
    assert_eq!(core.stats().downlinks_bad_signature, 2);
}

#[test]
fn a_replayed_or_other_boot_acknowledgement_changes_nothing() {
    let mut core = device_with_three_unconfirmed();
    assert_eq!(core.on_ack(&ack(1, 2), 1), Ok(AckOutcome::Confirmed { seq: 2, released: 2 }));
    let before = core.stats();
    assert_eq!(core.on_ack(&ack(1, 2), 2), Ok(AckOutcome::Stale), "the same ack replayed");
    assert_eq!(core.on_ack(&ack(1, 1), 2), Ok(AckOutcome::Stale), "an older one replayed");
    assert_eq!(core.on_ack(&ack(2, 3), 2), Ok(AckOutcome::OtherBoot), "a genuine ack of another boot");
    let after = core.stats();
    assert_eq!((after.queued, after.acked, after.confirmed_seq), (before.queued, before.acked, 2));
    assert_eq!(after.acks_ignored, before.acks_ignored + 3);
}

#[test]
fn a_forged_configuration_cannot_stretch_the_sampling_interval() {
    let mut core = core(1);
    let day = DeviceConfig { sample_interval_s: 86_400, boot: 1, counter: 1, ..DeviceConfig::default() };
    let forged = signed(DownlinkKind::Config, DEVICE, INTRUDER_SEED, COLLECTOR_KEY_ID, day.encode_to_vec());
    assert_eq!(core.on_config(&forged, 0), Err(DownlinkError::BadSignature));
    let theirs = signed(DownlinkKind::Config, "dev-2", COLLECTOR_SEED, COLLECTOR_KEY_ID, day.encode_to_vec());
    assert_eq!(core.on_config(&theirs, 0), Err(DownlinkError::BadSignature));
    assert!(core.on_config(&day.encode_to_vec(), 0).is_err(), "a bare DeviceConfig is refused");
    assert_eq!(core.config().sample_interval_s(), 600);
    assert_eq!(core.stats().downlinks_bad_signature, 2);
    assert_eq!(core.stats().config_applied, 0);
}

#[test]
fn a_configuration_for_another_boot_or_a_replayed_one_is_refused() {
    let mut core = core(4);
    let for_boot = |boot, counter, sample_interval_s| {
        signed_config(DeviceConfig { sample_interval_s, boot, counter, ..DeviceConfig::default() })
    };
    assert_eq!(core.on_config(&for_boot(3, 10, 120), 0), Err(DownlinkError::OtherBoot(3)));
    assert_eq!(core.on_config(&for_boot(5, 10, 120), 0), Err(DownlinkError::OtherBoot(5)));
    assert_eq!(
        core.on_config(&for_boot(4, 0, 120), 0),
        Err(DownlinkError::Replayed(0)),
        "counters start at 1"
    );
    core.on_config(&for_boot(4, 7, 300), 0).unwrap();
    assert_eq!(core.config().sample_interval_s(), 300);
    assert_eq!(core.on_config(&for_boot(4, 7, 300), 0), Err(DownlinkError::Replayed(7)), "the same again");
    assert_eq!(core.on_config(&for_boot(4, 6, 60), 0), Err(DownlinkError::Replayed(6)), "an older one");
    assert_eq!(core.config().sample_interval_s(), 300);
    core.on_config(&for_boot(4, 9, 900), 0).unwrap();
    let s: Stats = core.stats();
    assert_eq!((s.configs_other_boot, s.configs_replayed, s.config_counter), (2, 3, 9));
    assert_eq!(core.config().sample_interval_s(), 900);
}

#[test]
fn during_a_rotation_both_collector_keys_are_trusted() {
    let next_seed = [0xC1; 32];
    let keys = CollectorKeys::new(&[collector_key(COLLECTOR_SEED, 1), collector_key(next_seed, 2)]).unwrap();
    let mut core =
        DeviceCore::new(Identity::new(DEVICE, LANDLORD, 1, SEED, keys).unwrap(), 1, Default::default());
    core.on_connected(0);
    for t in 0..2 {
        core.record(sample(t), 0);
    }
    drain(&mut core, 0);
    assert!(matches!(core.on_ack(&ack(1, 1), 1), Ok(AckOutcome::Confirmed { seq: 1, .. })));
    let by_next = signed(DownlinkKind::Ack, DEVICE, next_seed, 2, ack_payload(1, 2));
    assert!(matches!(core.on_ack(&by_next, 2), Ok(AckOutcome::Confirmed { seq: 2, .. })));
    // The new key under the old key's id is not the old key.
    let mixed = signed(DownlinkKind::Ack, DEVICE, next_seed, 1, ack_payload(1, 2));
    assert_eq!(core.on_ack(&mixed, 3), Err(DownlinkError::BadSignature));
}

#[test]
fn a_device_holds_one_or_two_collector_keys_with_distinct_ids() {
    let (a, b, c) = (collector_key([1; 32], 1), collector_key([2; 32], 2), collector_key([3; 32], 3));
    assert_eq!(CollectorKeys::new(&[]), Err(CollectorKeysError::None));
    assert_eq!(CollectorKeys::new(&[a, b, c]), Err(CollectorKeysError::TooMany));
    assert_eq!(
        CollectorKeys::new(&[a, collector_key([2; 32], 1)]),
        Err(CollectorKeysError::DuplicateKeyId(1))
    );
    let two = CollectorKeys::new(&[a, b]).unwrap();
    assert_eq!(two.iter().copied().collect::<Vec<_>>(), [a, b]);
    assert_eq!(two.get(2), Some(&b));
    assert_eq!(two.get(3), None);
}

#[test]
fn garbage_on_the_downlink_topics_never_panics() {
    let mut core = device_with_three_unconfirmed();
    let genuine = ack(1, 3);
    for len in 0..genuine.len() {
        assert!(core.on_ack(&genuine[..len], 1).is_err(), "a cut ack of {len} bytes");
        let mut flipped = genuine.clone();
        flipped[len] ^= 0x40;
        let _ = core.on_ack(&flipped, 1);
        let _ = core.on_config(&flipped, 1);
    }
    for filler in [0x00, 0xFF, 0x0A, 0x12] {
        for len in [1, 64, 200] {
            assert!(core.on_ack(&vec![filler; len], 1).is_err());
            assert!(core.on_config(&vec![filler; len], 1).is_err());
        }
    }
    assert_queue_intact(&core);
}
