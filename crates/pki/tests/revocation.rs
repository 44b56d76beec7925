//! Revocation end to end: the CRL file, `list`, and a real rustls server that trusts the files
//! and stops accepting a device once it is revoked.

mod common;
use common::{bundles, initialised, issue};

use std::sync::Arc;

use chrono::{Duration, Utc};
use dampwatch_pki::{
    issue_device, list, load_ca_certs, load_cert_chain, load_crls, load_private_key, revoke, Bundle,
    CredentialKind, IssueOptions, Paths, Revocation, RotationStatus,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls_pki_types::ServerName;
use x509_parser::prelude::*;

fn crl_serials_and_number(paths: &Paths) -> (Vec<Vec<u8>>, u64) {
    let crls = load_crls(&paths.crl()).expect("crl");
    assert_eq!(crls.len(), 1);
    let (_, crl) = parse_x509_crl(&crls[0]).expect("parse crl");
    let serials = crl.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()).collect();
    let number = crl.crl_number().and_then(|n| n.to_u64_digits().first().copied()).unwrap_or(0);
    let this = crl.last_update().timestamp();
    let next = crl.next_update().expect("next update").timestamp();
    assert_eq!(next - this, 7 * 86_400, "next update one week after this update");
    (serials, number)
}

fn minimal_bytes(serial: u64) -> Vec<u8> {
    serial.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect()
}

#[test]
fn revoking_puts_the_serial_on_the_crl_and_in_list() {
    let (_dir, paths) = initialised();
    let (serials, number) = crl_serials_and_number(&paths);
    assert!(serials.is_empty(), "init writes an empty CRL");

    let issued = issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    let outcome = revoke(paths.dir(), "d").expect("revoke");
    let Revocation::Revoked { serials: revoked, .. } = outcome else {
        panic!("expected Revoked, got {outcome:?}")
    };
    assert_eq!(revoked, vec![issued.serial]);

    let (serials, next_number) = crl_serials_and_number(&paths);
    assert_eq!(serials, vec![minimal_bytes(issued.serial)]);
    assert_eq!(next_number, number + 1, "CRL number incremented");

    let creds = list(paths.dir(), Utc::now()).expect("list");
    let device = creds.iter().find(|c| c.kind == CredentialKind::Device).expect("device listed");
    assert_eq!(device.status, RotationStatus::Revoked);
    assert!(device.revoked_at.is_some());
    let others: Vec<_> = creds.iter().filter(|c| c.kind != CredentialKind::Device).collect();
    assert!(others.iter().all(|c| c.status == RotationStatus::Current), "{others:?}");
}

#[test]
fn revoking_twice_is_harmless() {
    let (_dir, paths) = initialised();
    issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    revoke(paths.dir(), "d").expect("revoke");
    let crl_before = std::fs::read(paths.crl()).expect("crl");
    let again = revoke(paths.dir(), "d").expect("revoke again");
    assert!(matches!(again, Revocation::AlreadyRevoked { .. }), "{again:?}");
    assert_eq!(std::fs::read(paths.crl()).expect("crl"), crl_before, "CRL unchanged");
}

#[test]
fn revoking_after_rotation_covers_the_superseded_certificate_too() {
    let (_dir, paths) = initialised();
    let old = issue(&paths, "l", "d", IssueOptions::default()).expect("issue");
    let new =
        issue(&paths, "l", "d", IssueOptions { force: true, ..IssueOptions::default() }).expect("rotate");
    revoke(paths.dir(), "d").expect("revoke");
    let (serials, _) = crl_serials_and_number(&paths);
    assert_eq!(serials, vec![minimal_bytes(old.serial), minimal_bytes(new.serial)]);
}

#[test]
fn concurrent_issues_and_revocations_lose_nothing() {
    // Several processes may change one directory at once (the demo, `sim --provision`,
    // `devices revoke`): no serial may be handed out twice and no revocation lost.
    let (_dir, paths) = initialised();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (dir, bundles) = (paths.dir().to_owned(), bundles(&paths));
            std::thread::spawn(move || {
                let device = format!("race-{i}");
                let issued =
                    issue_device(&dir, &bundles, "acme", &device, IssueOptions::default()).expect("issue");
                revoke(&dir, &device).expect("revoke");
                issued.serial
            })
        })
        .collect();
    let mut serials: Vec<u64> = threads.into_iter().map(|t| t.join().expect("join")).collect();
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), 8, "every device got its own serial");
    let (on_crl, _) = crl_serials_and_number(&paths);
    for serial in serials {
        assert!(on_crl.contains(&minimal_bytes(serial)), "serial {serial} revoked and still on the CRL");
    }
}

#[test]
fn revoking_an_unknown_device_is_an_error() {
    let (_dir, paths) = initialised();
    let err = revoke(paths.dir(), "ghost").expect_err("unknown");
    assert!(err.to_string().contains("\"ghost\""), "{err}");
}

#[test]
fn list_shows_every_credential_with_rotation_status_by_age() {
    let (_dir, paths) = initialised();
    issue(&paths, "l", "d", IssueOptions { validity_days: 100, force: false }).expect("issue");
    let status_at = |days: i64| {
        let creds = list(paths.dir(), Utc::now() + Duration::days(days)).expect("list");
        let kinds: Vec<_> = creds.iter().map(|c| (c.kind, c.name.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (CredentialKind::Ca, "ca"),
                (CredentialKind::Gateway, "gateway"),
                (CredentialKind::Web, "web"),
                (CredentialKind::Service, "collector"),
                (CredentialKind::Device, "d"),
                (CredentialKind::DownlinkKey, "collector-1"),
            ]
        );
        assert_eq!(creds[5].status, RotationStatus::for_age(days), "a key ages like a certificate");
        let device = &creds[4];
        assert_eq!(device.subject, "CN=d, O=l");
        assert_eq!(device.age_days, days);
        device.status
    };
    assert_eq!(status_at(0), RotationStatus::Current);
    assert_eq!(status_at(59), RotationStatus::Current);
    assert_eq!(status_at(60), RotationStatus::DueSoon);
    assert_eq!(status_at(89), RotationStatus::DueSoon);
    assert_eq!(status_at(90), RotationStatus::Overdue);
    assert_eq!(status_at(101), RotationStatus::Expired);
}

// ---- a real TLS handshake against the files ----

fn install_provider() {
    // Several tests may race to install it; "already installed" is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn server_config(paths: &Paths) -> Arc<ServerConfig> {
    let mut roots = RootCertStore::empty();
    for ca in load_ca_certs(&paths.ca_cert()).expect("ca") {
        roots.add(ca).expect("add root");
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .with_crls(load_crls(&paths.crl()).expect("crl"))
        .build()
        .expect("verifier");
    let config = ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            load_cert_chain(&paths.gateway_cert()).expect("gateway cert"),
            load_private_key(&paths.gateway_key()).expect("gateway key"),
        )
        .expect("server config");
    Arc::new(config)
}

fn client_config(paths: &Paths, device: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for ca in load_ca_certs(&paths.ca_cert()).expect("ca") {
        roots.add(ca).expect("add root");
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            load_cert_chain(&paths.device_cert(device)).expect("device cert"),
            load_private_key(&Bundle::of(&bundles(paths), device).key()).expect("device key"),
        )
        .expect("client config");
    Arc::new(config)
}

/// Drives both ends in memory until the server has verified the client or failed.
fn handshake(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Result<(), rustls::Error> {
    let name = ServerName::try_from("localhost").expect("name");
    let mut client = ClientConnection::new(client, name).expect("client");
    let mut server = ServerConnection::new(server).expect("server");
    for _ in 0..20 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).expect("client write");
        }
        let mut slice = wire.as_slice();
        while !slice.is_empty() {
            server.read_tls(&mut slice).expect("server read");
            server.process_new_packets()?;
        }
        let mut wire = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut wire).expect("server write");
        }
        let mut slice = wire.as_slice();
        while !slice.is_empty() {
            client.read_tls(&mut slice).expect("client read");
            client.process_new_packets()?;
        }
        if !server.is_handshaking() && !client.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn a_rustls_server_built_from_the_files_rejects_a_device_after_revoke() {
    install_provider();
    let (_dir, paths) = initialised();
    issue(&paths, "landlord-1", "dev-1", IssueOptions::default()).expect("issue");
    issue(&paths, "landlord-1", "dev-2", IssueOptions::default()).expect("issue");

    handshake(server_config(&paths), client_config(&paths, "dev-1")).expect("valid device accepted");

    revoke(paths.dir(), "dev-1").expect("revoke");
    // A server picks up revocations by rebuilding its config from the new CRL.
    let server = server_config(&paths);
    let err = handshake(server.clone(), client_config(&paths, "dev-1")).expect_err("revoked device refused");
    assert_eq!(
        err,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked),
        "refused because it is revoked, not for another reason"
    );
    handshake(server, client_config(&paths, "dev-2")).expect("other devices still accepted");
}

#[test]
fn a_rustls_server_accepts_the_collector_service_certificate() {
    install_provider();
    let (_dir, paths) = initialised();
    let mut roots = RootCertStore::empty();
    for ca in load_ca_certs(&paths.ca_cert()).expect("ca") {
        roots.add(ca).expect("add root");
    }
    let client = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            load_cert_chain(&paths.collector_cert()).expect("cert"),
            load_private_key(&paths.collector_key()).expect("key"),
        )
        .expect("client config");
    handshake(server_config(&paths), Arc::new(client)).expect("collector accepted");
}
