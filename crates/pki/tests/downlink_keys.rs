//! The collector's downlink signing keys: made by `init`, rotated in generations that overlap,
//! private keys 0600 and retired once no device trusts them, and a clear error where there is
//! none.
use std::os::unix::fs::PermissionsExt;

use chrono::{Duration, Utc};
use dampwatch_pki::{
    downlink_keys, init, list, load_downlink_signing_key, rotate_downlink_key, trusted_downlink_keys,
    CredentialKind, InitOptions, Paths, RotationStatus,
};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn init_makes_the_first_key_and_the_collector_signs_for_its_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = init(dir.path(), InitOptions::default()).expect("init");
    assert_eq!(report.downlink_key.key_id, 1);
    let paths = Paths::new(dir.path());
    assert_eq!(mode(&paths.downlink_key(1)), 0o600, "the private key is readable by its owner only");
    assert_eq!(mode(&paths.downlink_public_key(1)), 0o644);

    let (key_id, seed) = load_downlink_signing_key(dir.path()).expect("signing key");
    assert_eq!(key_id, 1);
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("pair");
    let trusted = trusted_downlink_keys(dir.path()).expect("trusted");
    assert_eq!(trusted.len(), 1);
    assert_eq!(pair.public_key().as_ref(), trusted[0].public_key);
    let sig = pair.sign(b"ack");
    UnparsedPublicKey::new(&ED25519, trusted[0].public_key).verify(b"ack", sig.as_ref()).expect("verifies");

    // A forced re-initialisation keeps the key the devices already trust.
    init(dir.path(), InitOptions { force: true, ..InitOptions::default() }).expect("re-init");
    assert_eq!(trusted_downlink_keys(dir.path()).expect("trusted"), trusted);
}

#[test]
fn rotations_overlap_by_one_generation_and_retire_the_oldest_private_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path(), InitOptions::default()).expect("init");
    let paths = Paths::new(dir.path());

    let second = rotate_downlink_key(dir.path()).expect("rotate");
    assert_eq!((second.created.key_id, second.retired), (2, None));
    assert_eq!(
        load_downlink_signing_key(dir.path()).expect("key").0,
        2,
        "the collector signs with the newest"
    );
    let ids = |keys: Vec<dampwatch_pki::DownlinkKey>| keys.iter().map(|k| k.key_id).collect::<Vec<_>>();
    assert_eq!(ids(trusted_downlink_keys(dir.path()).expect("trusted")), [1, 2]);

    let third = rotate_downlink_key(dir.path()).expect("rotate");
    assert_eq!((third.created.key_id, third.retired), (3, Some(1)));
    assert!(!paths.downlink_key(1).exists(), "a key no device trusts can sign nothing");
    assert!(paths.downlink_public_key(1).exists(), "its public key stays for the record");
    assert_eq!(ids(trusted_downlink_keys(dir.path()).expect("trusted")), [2, 3]);
    assert_eq!(ids(downlink_keys(dir.path()).expect("keys")), [2, 3]);

    let later = Utc::now() + Duration::days(70);
    let keys: Vec<_> = list(dir.path(), later)
        .expect("list")
        .into_iter()
        .filter(|c| c.kind == CredentialKind::DownlinkKey)
        .collect();
    let rows: Vec<_> = keys.iter().map(|c| (c.name.as_str(), c.serial, c.status, c.expires)).collect();
    assert_eq!(
        rows,
        [
            ("collector-2", 2, RotationStatus::Superseded, None),
            ("collector-3", 3, RotationStatus::DueSoon, None)
        ]
    );
    assert_eq!(keys[1].age_days, 70);
}

#[test]
fn without_a_downlink_key_the_error_names_the_command_that_makes_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path(), InitOptions::default()).expect("init");
    std::fs::remove_dir_all(Paths::new(dir.path()).downlink_dir()).expect("remove");
    for err in [
        load_downlink_signing_key(dir.path()).expect_err("no key").to_string(),
        trusted_downlink_keys(dir.path()).expect_err("no key").to_string(),
    ] {
        assert!(err.contains("dampwatch pki rotate-downlink-key --dir"), "{err}");
    }
    assert_eq!(rotate_downlink_key(dir.path()).expect("make one").created.key_id, 1);
    assert_eq!(load_downlink_signing_key(dir.path()).expect("key").0, 1);
}
