//! Revocation without restart: a changed `crl.pem` closes live connections it revokes.

use crate::common::*;
use crate::raw::Raw;
use dampwatch_gateway::mqtt::PacketType;
use dampwatch_gateway::Refusal;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_connected_device_closes_its_connection() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "stolen-1");
    let mut good = fx.good_pair().await;
    let mut stolen = fx.device("stolen-1");
    // Registered as live before its CONNACK is sent, so the revocation below finds it.
    stolen.connected().await;
    // Only the file changes: the gateway notices by itself (it polls every 100 ms here).
    dampwatch_pki::revoke(&fx.pki(), "stolen-1").unwrap();
    stolen.closed().await;
    fx.expect_refusal(Refusal::RevokedWhileConnected, 1).await;
    // And it cannot come back.
    let mut again = fx.device("stolen-1");
    again.closed().await;
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
    good.round_trip().await;
    assert!(fx.gateway.metrics().crl_reloads.get() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_reload_closes_revoked_connections_and_reports_how_many() {
    let fx = Fixture::start_with(|c| c.tls.crl_poll_interval = Duration::from_secs(3600)).await;
    fx.issue(LANDLORD, "stolen-2");
    let mut good = fx.good_pair().await;
    let mut stolen = fx.device("stolen-2");
    stolen.connected().await;
    dampwatch_pki::revoke(&fx.pki(), "stolen-2").unwrap();
    assert_eq!(fx.gateway.reload_crl().unwrap(), 1);
    stolen.closed().await;
    fx.expect_refusal(Refusal::RevokedWhileConnected, 1).await;
    good.round_trip().await;
    // A damaged CRL is refused and the previous one stays in force.
    std::fs::write(fx.paths().crl(), "not a CRL").unwrap();
    assert!(fx.gateway.reload_crl().is_err());
    let mut again = fx.device("stolen-2");
    again.closed().await;
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revoked_between_its_handshake_and_its_connect_is_refused() {
    let fx = Fixture::start_with(|c| c.tls.crl_poll_interval = Duration::from_secs(3600)).await;
    fx.issue(LANDLORD, "slow-1");
    let mut good = fx.good_pair().await;
    // The handshake passes with the old CRL; the gateway is waiting for CONNECT.
    let handshakes = fx.gateway.metrics().handshakes_completed.get();
    let mut raw = Raw::connect(fx.port(), fx.device_tls("slow-1")).await.unwrap();
    let done = eventually_true(Duration::from_secs(10), || async {
        fx.gateway.metrics().handshakes_completed.get() > handshakes
    });
    assert!(done.await, "the gateway finished the handshake");
    dampwatch_pki::revoke(&fx.pki(), "slow-1").unwrap();
    assert_eq!(fx.gateway.reload_crl().unwrap(), 0, "nothing live to close yet");
    // Its CONNECT comes after the reload: refused, not admitted past the revocation.
    raw.send(&crate::raw::connect_v4("slow-1")).await;
    let reply = raw.read().await;
    let accepted = reply.as_ref().is_some_and(|p| p.kind == PacketType::Connack && p.body[1] == 0);
    assert!(!accepted, "not accepted: {reply:?}");
    assert!(raw.closed().await);
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
    good.round_trip().await;
}
