//! The platform's audit checkpoint key: made by `init` (private key 0600), kept by a forced
//! re-initialisation, rotated with the previous private key deleted and every public key kept,
//! and a clear error where there is none.
use std::os::unix::fs::PermissionsExt;

use dampwatch_pki::{
    audit_keys, has_audit_signing_key, init, load_audit_signing_key, rotate_audit_key, InitOptions, Paths,
};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn init_makes_an_audit_key_that_signs_for_its_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = init(dir.path(), InitOptions::default()).expect("init");
    assert_eq!(report.audit_key.key_id, 1);
    let paths = Paths::new(dir.path());
    assert_eq!(paths.audit_key(1), dir.path().join("audit/key-1.pem"));
    assert_eq!(mode(&paths.audit_key(1)), 0o600, "the private key is readable by its owner only");
    assert_eq!(mode(&paths.audit_public_key(1)), 0o644);

    let (key_id, seed) = load_audit_signing_key(dir.path()).expect("signing key");
    assert_eq!(key_id, 1);
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("pair");
    assert_eq!(pair.public_key().as_ref(), report.audit_key.public_key);
    let sig = pair.sign(b"checkpoint");
    UnparsedPublicKey::new(&ED25519, report.audit_key.public_key)
        .verify(b"checkpoint", sig.as_ref())
        .expect("verifies");
    let pem = report.audit_key.public_key_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"), "{pem}");

    // A forced re-initialisation keeps the key verifiers already trust.
    init(dir.path(), InitOptions { force: true, ..InitOptions::default() }).expect("re-init");
    assert_eq!(audit_keys(dir.path()).expect("keys"), vec![report.audit_key]);
}

#[test]
fn a_rotation_signs_with_the_new_key_and_keeps_the_old_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path(), InitOptions::default()).expect("init");
    let paths = Paths::new(dir.path());
    let second = rotate_audit_key(dir.path()).expect("rotate");
    assert_eq!(second.key_id, 2);
    assert_eq!(load_audit_signing_key(dir.path()).expect("key").0, 2);
    assert!(!paths.audit_key(1).exists(), "nothing signs with the old key any more");
    let keys = audit_keys(dir.path()).expect("keys");
    assert_eq!(keys.iter().map(|k| k.key_id).collect::<Vec<_>>(), [1, 2], "old checkpoints stay verifiable");
}

#[test]
fn without_an_audit_key_the_error_names_the_command_that_makes_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(!has_audit_signing_key(dir.path()));
    let err = load_audit_signing_key(dir.path()).expect_err("no key");
    assert!(err.to_string().contains("dampwatch pki rotate-audit-key"), "{err}");
}
