//! A device's private keys go into its provisioning bundle, outside the PKI directory: the
//! server keeps no key a device signs or connects with, and keys an earlier release left in the
//! PKI directory can be moved out.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dampwatch_pki::{
    device_keys_in_pki, init, issue_device, load_ca_certs, load_cert_chain, load_signing_public_key,
    move_device_key, move_device_keys, Bundle, InitOptions, IssueOptions, Paths, PkiError,
};
use ring::signature::{Ed25519KeyPair, KeyPair as _};

struct Dirs {
    _tmp: tempfile::TempDir,
    paths: Paths,
    bundles: PathBuf,
}

fn initialised() -> Dirs {
    let tmp = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(tmp.path().join("pki"));
    init(paths.dir(), InitOptions::default()).expect("init");
    let bundles = tmp.path().join("bundles");
    Dirs { _tmp: tmp, paths, bundles }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The files of the PKI directory holding a private key.
fn private_keys_in(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| fs::read(f).map(|b| b.windows(11).any(|w| w == b"PRIVATE KEY")).unwrap_or(false))
        .collect()
}

#[test]
fn the_pki_keeps_a_devices_certificate_and_public_key_and_the_bundle_its_private_keys() {
    let d = initialised();
    let keys_before = private_keys_in(d.paths.dir());
    let issued =
        issue_device(d.paths.dir(), &d.bundles, "acme", "hall-1", IssueOptions::default()).expect("issue");

    assert_eq!(private_keys_in(d.paths.dir()), keys_before, "issuing added no private key to the PKI");
    let mut kept: Vec<String> = fs::read_dir(d.paths.device_dir("hall-1"))
        .expect("device dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["cert.pem", "signing-key.pub"]);

    let bundle = &issued.bundle;
    assert_eq!(bundle, &Bundle::of(&d.bundles, "hall-1"));
    assert!(bundle.is_complete());
    assert_eq!(mode(&d.bundles), 0o700, "the bundles directory is the operator's alone");
    for key in [bundle.key(), bundle.signing_key()] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
    }
    assert_eq!(
        load_cert_chain(&bundle.cert()).unwrap(),
        load_cert_chain(&d.paths.device_cert("hall-1")).unwrap()
    );
    assert_eq!(load_ca_certs(&bundle.ca_cert()).unwrap(), load_ca_certs(&d.paths.ca_cert()).unwrap());
    let seed = bundle.signing_seed().expect("seed");
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("pair");
    assert_eq!(
        pair.public_key().as_ref(),
        load_signing_public_key(&d.paths.device_signing_public_key("hall-1")).unwrap()
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    assert!(bundle
        .client_tls()
        .expect("the bundle alone makes a TLS client")
        .client_auth_cert_resolver
        .has_certs());
}

#[test]
fn bundles_inside_the_pki_directory_or_holding_it_are_refused() {
    let d = initialised();
    let inside = d.paths.dir().join("devices");
    let err =
        issue_device(d.paths.dir(), &inside, "acme", "hall-1", IssueOptions::default()).expect_err("inside");
    assert!(matches!(err, PkiError::BundlesInsidePki { .. }), "{err}");
    assert!(err.to_string().contains("outside"), "{err}");
    let holding = d.paths.dir().parent().expect("parent").to_owned();
    let err = issue_device(d.paths.dir(), &holding, "acme", "hall-1", IssueOptions::default())
        .expect_err("holding");
    assert!(matches!(err, PkiError::BundlesInsidePki { .. }), "{err}");
    assert!(!d.paths.device_dir("hall-1").exists(), "nothing was issued");
}

#[test]
fn keys_an_earlier_release_left_in_the_pki_are_moved_into_bundles() {
    let d = initialised();
    let issued =
        issue_device(d.paths.dir(), &d.bundles, "acme", "hall-1", IssueOptions::default()).expect("issue");
    issue_device(d.paths.dir(), &d.bundles, "acme", "hall-2", IssueOptions::default()).expect("issue");
    // The earlier layout: both private keys beside the certificate, no bundle.
    let (key, seed) =
        (fs::read(issued.bundle.key()).unwrap(), fs::read(issued.bundle.signing_key()).unwrap());
    let old = d.paths.device_dir("hall-1");
    fs::write(old.join("key.pem"), &key).unwrap();
    fs::write(old.join("signing-key.pem"), &seed).unwrap();
    fs::remove_dir_all(issued.bundle.dir()).unwrap();
    assert_eq!(device_keys_in_pki(d.paths.dir()).unwrap(), ["hall-1"]);

    assert!(!move_device_key(d.paths.dir(), &d.bundles, "hall-2").unwrap(), "hall-2 had nothing to move");
    assert_eq!(move_device_keys(d.paths.dir(), &d.bundles).unwrap(), ["hall-1"]);
    assert!(device_keys_in_pki(d.paths.dir()).unwrap().is_empty());
    assert!(!old.join("key.pem").exists() && !old.join("signing-key.pem").exists());
    let bundle = Bundle::of(&d.bundles, "hall-1");
    assert!(bundle.is_complete());
    assert_eq!(fs::read(bundle.key()).unwrap(), key);
    assert_eq!(fs::read(bundle.signing_key()).unwrap(), seed);
    assert_eq!(mode(&bundle.key()), 0o600);
    assert_eq!(mode(&bundle.signing_key()), 0o600);
    assert!(move_device_keys(d.paths.dir(), &d.bundles).unwrap().is_empty(), "a second run moves nothing");
}

#[test]
fn a_forced_reissue_drops_old_keys_so_that_no_move_can_bring_them_back() {
    let d = initialised();
    let first =
        issue_device(d.paths.dir(), &d.bundles, "acme", "hall-1", IssueOptions::default()).expect("issue");
    let old_key = fs::read(first.bundle.key()).unwrap();
    let old = d.paths.device_dir("hall-1");
    fs::write(old.join("key.pem"), &old_key).unwrap();
    fs::write(old.join("signing-key.pem"), fs::read(first.bundle.signing_key()).unwrap()).unwrap();

    let forced = IssueOptions { force: true, ..IssueOptions::default() };
    let second = issue_device(d.paths.dir(), &d.bundles, "acme", "hall-1", forced).expect("re-issue");
    assert!(device_keys_in_pki(d.paths.dir()).unwrap().is_empty(), "the superseded keys are gone");
    assert!(move_device_keys(d.paths.dir(), &d.bundles).unwrap().is_empty());
    assert_ne!(fs::read(second.bundle.key()).unwrap(), old_key, "the bundle keeps the new key");
}

#[test]
fn a_bundle_that_is_a_symbolic_link_is_refused() {
    let d = initialised();
    // A device's bundle pointing into the PKI directory.
    let inside = d.paths.device_dir("hall-9");
    fs::create_dir_all(&inside).unwrap();
    fs::create_dir_all(&d.bundles).unwrap();
    std::os::unix::fs::symlink(&inside, d.bundles.join("hall-9")).unwrap();
    let err =
        issue_device(d.paths.dir(), &d.bundles, "acme", "hall-9", IssueOptions::default()).expect_err("link");
    assert!(matches!(err, PkiError::UnsafeBundle { .. }), "{err}");
    assert!(private_keys_in(&inside).is_empty(), "no key was written through the link");
    assert!(!d.paths.device_cert("hall-9").exists());
}
