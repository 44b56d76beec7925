//! What `init`, `issue_device`, `issue_service` and `issue_web` put on disk: subjects, extensions, modes,
//! and the refusals.

mod common;
use common::{bundles, initialised, issue};

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dampwatch_pki::{
    identity_of, init, issue_device, issue_service, issue_web, load_cert_chain, load_signing_public_key,
    load_signing_seed, Bundle, Identity, InitOptions, IssueOptions, PkiError, WebNames,
};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::*;

fn der(path: &Path) -> CertificateDer<'static> {
    load_cert_chain(path).expect("cert").remove(0)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn attrs<'a>(it: impl Iterator<Item = &'a AttributeTypeAndValue<'a>>) -> Vec<String> {
    it.map(|a| a.as_str().expect("utf8").to_owned()).collect()
}

#[test]
fn device_certificate_has_the_device_subject_and_client_auth_only() {
    let (_dir, paths) = initialised();
    let issued = issue(&paths, "landlord-1", "dev-1", IssueOptions { validity_days: 30, force: false })
        .expect("issue");
    let der = der(&paths.device_cert("dev-1"));
    let (_, cert) = parse_x509_certificate(&der).expect("x509");

    assert_eq!(attrs(cert.subject().iter_common_name()), ["dev-1"]);
    assert_eq!(attrs(cert.subject().iter_organization()), ["landlord-1"]);
    assert!(attrs(cert.subject().iter_organizational_unit()).is_empty(), "devices never have an OU");
    assert_eq!(cert.issuer().to_string(), "CN=Dampwatch Development CA, O=dampwatch");

    let eku = cert.extended_key_usage().expect("eku").expect("eku present").value;
    assert!(eku.client_auth && !eku.server_auth);
    let ku = cert.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
    assert!(!cert.is_ca());

    let oid = cert.public_key().algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
    assert_eq!(oid, Some(x509_parser::oid_registry::OID_EC_P256), "ECDSA P-256 key");

    let validity = cert.validity();
    let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
    assert_eq!(days, 30, "validity is the requested 30 days (plus the clock-skew minutes)");
    assert_eq!(
        cert.raw_serial(),
        issued.serial.to_be_bytes().iter().skip_while(|b| **b == 0).copied().collect::<Vec<_>>()
    );

    assert_eq!(
        identity_of(&der),
        Ok(Identity::Device { landlord: "landlord-1".into(), device: "dev-1".into() })
    );
}

#[test]
fn default_device_validity_is_365_days() {
    let (_dir, paths) = initialised();
    issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    let der = der(&paths.device_cert("d"));
    let (_, cert) = parse_x509_certificate(&der).expect("x509");
    let v = cert.validity();
    assert_eq!((v.not_after.timestamp() - v.not_before.timestamp()) / 86_400, 365);
}

#[test]
fn gateway_and_collector_certificates_have_their_roles() {
    let (_dir, paths) = initialised();

    let gw = der(&paths.gateway_cert());
    let (_, gw) = parse_x509_certificate(&gw).expect("x509");
    let eku = gw.extended_key_usage().expect("eku").expect("eku present").value;
    assert!(eku.server_auth && !eku.client_auth);
    let san = gw.subject_alternative_name().expect("san").expect("san present").value;
    let dns: Vec<&str> = san
        .general_names
        .iter()
        .filter_map(|n| if let GeneralName::DNSName(d) = n { Some(*d) } else { None })
        .collect();
    let ips: Vec<&[u8]> = san
        .general_names
        .iter()
        .filter_map(|n| if let GeneralName::IPAddress(ip) = n { Some(*ip) } else { None })
        .collect();
    assert_eq!(dns, ["localhost"]);
    let loopback_v6 = std::net::Ipv6Addr::LOCALHOST.octets();
    assert_eq!(ips, [&[127u8, 0, 0, 1][..], &loopback_v6[..]]);

    let collector = der(&paths.collector_cert());
    let (_, parsed) = parse_x509_certificate(&collector).expect("x509");
    assert_eq!(parsed.subject().to_string(), "CN=collector, O=dampwatch, OU=service");
    let eku = parsed.extended_key_usage().expect("eku").expect("eku present").value;
    assert!(eku.client_auth && !eku.server_auth);
    assert_eq!(identity_of(&collector), Ok(Identity::Service { name: "collector".into() }));

    let ca = der(&paths.ca_cert());
    let (_, ca) = parse_x509_certificate(&ca).expect("x509");
    assert!(ca.is_ca());
    let ku = ca.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
}

/// The DNS names and the IP addresses (as bytes) of a certificate's subject alternative names.
fn alt_names(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<Vec<u8>>) {
    let san = cert.subject_alternative_name().expect("san").expect("san present").value;
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in &san.general_names {
        match name {
            GeneralName::DNSName(d) => dns.push((*d).to_owned()),
            GeneralName::IPAddress(ip) => ips.push(ip.to_vec()),
            _ => {}
        }
    }
    (dns, ips)
}

#[test]
fn the_api_https_certificate_is_a_server_certificate_for_its_names() {
    let (_dir, paths) = initialised();
    let der_init = der(&paths.web_cert());
    let (_, cert) = parse_x509_certificate(&der_init).expect("x509");
    assert_eq!(cert.subject().to_string(), "CN=web, O=dampwatch");
    let eku = cert.extended_key_usage().expect("eku").expect("eku present").value;
    assert!(eku.server_auth && !eku.client_auth);
    let loopback_v6 = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
    assert_eq!(alt_names(&cert), (vec!["localhost".to_owned()], vec![vec![127, 0, 0, 1], loopback_v6]));

    let names = WebNames { dns: vec!["api.example.org".into()], ips: vec!["192.0.2.7".parse().unwrap()] };
    let err = issue_web(paths.dir(), &names, IssueOptions::default()).expect_err("one exists");
    assert!(matches!(err, PkiError::WebAlreadyIssued { .. }), "{err:?}");
    let issued =
        issue_web(paths.dir(), &names, IssueOptions { validity_days: 30, force: true }).expect("issue");
    let der_new = der(&issued.cert);
    let (_, cert) = parse_x509_certificate(&der_new).expect("x509");
    assert_eq!(alt_names(&cert), (vec!["api.example.org".to_owned()], vec![vec![192, 0, 2, 7]]));
    assert_eq!(mode(&issued.key), 0o600);
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-purpose", "sslserver", "-CAfile"])
        .arg(paths.ca_cert())
        .arg(&issued.cert)
        .output()
        .expect("openssl is installed by scripts/setup.sh");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

#[test]
fn every_private_key_is_0600() {
    let (_dir, paths) = initialised();
    issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    issue_service(paths.dir(), "reporter", IssueOptions::default()).expect("service");
    for key in [
        paths.ca_key(),
        paths.gateway_key(),
        paths.web_key(),
        paths.collector_key(),
        paths.service_key("reporter"),
        Bundle::of(&bundles(&paths), "d").key(),
        Bundle::of(&bundles(&paths), "d").signing_key(),
    ] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
        let pem = fs::read_to_string(&key).expect("read");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{}", key.display());
    }
}

#[test]
fn signing_key_matches_the_returned_public_key() {
    let (_dir, paths) = initialised();
    let issued = issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    let seed = load_signing_seed(&issued.bundle.signing_key()).expect("seed");
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("pair");
    assert_eq!(pair.public_key().as_ref(), issued.signing_public_key);
    assert_eq!(
        load_signing_public_key(&paths.device_signing_public_key("d")).expect("pub"),
        issued.signing_public_key
    );
    assert_eq!(issued.signing_public_key_hex().len(), 64);
}

#[test]
fn init_refuses_to_replace_a_ca_unless_forced() {
    let (_dir, paths) = initialised();
    let before = fs::read(paths.ca_cert()).expect("ca");

    let err = init(paths.dir(), InitOptions::default()).expect_err("second init");
    assert!(matches!(err, PkiError::CaExists { .. }), "{err:?}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(fs::read(paths.ca_cert()).expect("ca"), before, "CA untouched");

    let report = init(paths.dir(), InitOptions { force: true, ..InitOptions::default() }).expect("forced");
    assert!(report.replaced);
    assert_ne!(fs::read(paths.ca_cert()).expect("ca"), before, "CA replaced");
}

#[test]
fn serials_stay_unique_across_a_forced_init() {
    let (_dir, paths) = initialised();
    let first = issue(&paths, "l", "a", IssueOptions::default()).expect("issue").serial;
    init(paths.dir(), InitOptions { force: true, ..InitOptions::default() }).expect("forced");
    let second = issue(&paths, "l", "b", IssueOptions::default()).expect("issue").serial;
    assert!(second > first, "{second} after {first}");
}

#[test]
fn issuing_needs_an_initialised_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = issue_device(dir.path(), &dir.path().join("bundles"), "l", "d", IssueOptions::default())
        .expect_err("no ca");
    assert!(err.to_string().contains("dampwatch pki init"), "{err}");
}

#[test]
fn reissuing_a_device_needs_force_and_keeps_the_old_serial() {
    let (_dir, paths) = initialised();
    let first = issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    let err = issue(&paths, "l", "d", IssueOptions::default()).expect_err("exists");
    assert!(matches!(err, PkiError::AlreadyIssued { .. }), "{err:?}");
    assert!(err.to_string().contains("--force"), "{err}");

    let second =
        issue(&paths, "l", "d", IssueOptions { force: true, ..IssueOptions::default() }).expect("rotate");
    assert_ne!(second.serial, first.serial);
    assert_eq!(second.superseded_serial, Some(first.serial));
    assert_ne!(second.signing_public_key, first.signing_public_key, "rotation makes a new signing key");
    let index = fs::read_to_string(paths.index()).expect("index");
    let index: serde_json::Value = serde_json::from_str(&index).expect("json");
    let serials: Vec<u64> = index["issued"]["device:d"]
        .as_array()
        .expect("device entry")
        .iter()
        .map(|e| e["serial"].as_u64().expect("serial"))
        .collect();
    assert_eq!(serials, vec![first.serial, second.serial]);
}

#[test]
fn invalid_ids_are_refused_naming_which_id_and_the_rule() {
    let (_dir, paths) = initialised();
    let err = issue(&paths, "landlord", "Dev/1", IssueOptions::default()).expect_err("bad device");
    let msg = err.to_string();
    assert!(msg.starts_with("device id \"Dev/1\" has a character not allowed at position 1"), "{msg}");
    assert!(msg.contains("an id must be 1 to 32 characters"), "{msg}");

    let err = issue(&paths, "-landlord", "dev", IssueOptions::default()).expect_err("bad landlord");
    assert!(err.to_string().starts_with("landlord id \"-landlord\" starts or ends with '-'"), "{err}");

    let err = issue(&paths, "l", "../../etc", IssueOptions::default()).expect_err("traversal");
    assert!(matches!(err, PkiError::InvalidId { .. }), "{err:?}");
    assert!(!paths.dir().join("devices").exists(), "nothing written for refused ids");

    let err = issue_service(paths.dir(), "", IssueOptions::default()).expect_err("empty service");
    assert!(err.to_string().starts_with("service name \"\" is empty"), "{err}");
}

#[test]
fn validity_days_must_be_in_range() {
    let (_dir, paths) = initialised();
    let err = issue(&paths, "l", "d", IssueOptions { validity_days: 0, force: false }).expect_err("0");
    assert!(matches!(err, PkiError::InvalidValidity { days: 0, .. }), "{err:?}");
}

#[test]
fn a_lost_index_stops_issuing_rather_than_repeating_serials() {
    let (_dir, paths) = initialised();
    fs::remove_file(paths.index()).expect("remove index");
    let err = issue(&paths, "l", "d", IssueOptions::default()).expect_err("no index");
    assert!(matches!(err, PkiError::MissingIndex { .. }), "{err:?}");
    assert!(!paths.device_cert("d").exists());
}

#[test]
fn openssl_reads_the_device_certificate_as_issued() {
    // What a reviewer sees with `openssl x509 -text` (Debian's openssl, installed by the setup).
    let (_dir, paths) = initialised();
    let issued = issue(&paths, "landlord-1", "dev-1", IssueOptions { validity_days: 30, force: false })
        .expect("issue");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&issued.cert)
        .output()
        .expect("openssl is installed by scripts/setup.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "Subject: CN = dev-1, O = landlord-1",
        "Public Key Algorithm: id-ecPublicKey",
        "NIST CURVE: P-256",
        "TLS Web Client Authentication",
        "Digital Signature",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert!(!text.contains("TLS Web Server Authentication"), "client auth only:\n{text}");
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(paths.ca_cert())
        .arg(&issued.cert)
        .output()
        .expect("openssl");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}
