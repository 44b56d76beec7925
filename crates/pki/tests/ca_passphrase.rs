//! A CA key sealed under a passphrase: the PKI directory alone signs nothing; with the
//! passphrase in `DAMPWATCH_CA_PASSPHRASE` issuing and revoking work as before. (Its own test
//! binary: it sets the process's environment.)

use dampwatch_pki::ca_key::CA_PASSPHRASE_ENV;
use dampwatch_pki::{init, InitOptions, IssueOptions};

const PASSPHRASE: &str = "correct horse battery staple";

#[test]
fn a_sealed_ca_key_signs_only_with_its_passphrase() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, bundles) = (tmp.path().join("pki"), tmp.path().join("bundles"));
    let short =
        init(dir.as_path(), InitOptions { ca_passphrase: Some("short".into()), ..InitOptions::default() });
    assert!(short.is_err(), "a short passphrase is refused");

    init(
        dir.as_path(),
        InitOptions { ca_passphrase: Some(PASSPHRASE.into()), force: true, ..InitOptions::default() },
    )
    .expect("init with a sealed CA key");
    assert!(!dir.as_path().join("ca-key.pem").exists(), "no plain copy of the key");
    let sealed = std::fs::read(dir.as_path().join("ca-key.pem.age")).expect("the sealed key");
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    assert!(!sealed.windows(11).any(|w| w == b"PRIVATE KEY"), "sealed, not plain");

    // The environment is the process's: this binary runs this one test.
    std::env::remove_var(CA_PASSPHRASE_ENV);
    let refused = dampwatch_pki::issue_device(&dir, &bundles, "acme", "dev-1", IssueOptions::default())
        .expect_err("no passphrase");
    assert!(refused.to_string().contains(CA_PASSPHRASE_ENV), "{refused}");
    std::env::set_var(CA_PASSPHRASE_ENV, "not the passphrase");
    let wrong = dampwatch_pki::issue_device(&dir, &bundles, "acme", "dev-1", IssueOptions::default())
        .expect_err("wrong passphrase");
    assert!(wrong.to_string().contains("does not open it"), "{wrong}");
    std::env::set_var(CA_PASSPHRASE_ENV, PASSPHRASE);
    dampwatch_pki::issue_device(&dir, &bundles, "acme", "dev-1", IssueOptions::default())
        .expect("issued with the passphrase");
    dampwatch_pki::revoke(&dir, "dev-1").expect("revoked with the passphrase");
}
