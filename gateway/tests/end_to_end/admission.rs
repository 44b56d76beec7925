//! Who gets in: TLS client certificates, handshake timeouts, the per-source connection rate.

use crate::common::*;
use crate::raw::Raw;
use dampwatch_gateway::Refusal;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Connects with `tls` and expects the gateway to refuse with `reason` while the good pair
/// keeps working.
async fn refused_at_handshake(fx: &Fixture, tls: std::sync::Arc<rustls::ClientConfig>, reason: Refusal) {
    let mut good = fx.good_pair().await;
    let mut bad = fx.client(tls, "bad-1");
    let err = bad.closed().await;
    assert!(!err.is_empty());
    fx.expect_refusal(reason, 1).await;
    good.round_trip().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_device_publishes_and_receives_its_acks() {
    let fx = Fixture::start_with(|c| c.listen.metrics_address = Some("127.0.0.1:0".parse().unwrap())).await;
    let mut good = fx.good_pair().await;
    for _ in 0..3 {
        good.round_trip().await;
    }
    let m = fx.gateway.metrics();
    assert_eq!(fx.gateway.devices_connected(), 1);
    assert!(m.handshakes_completed.get() >= 2);
    assert!(Refusal::ALL.iter().all(|r| fx.refusals(*r) == 0), "{}", m.render());
    // What Prometheus and a load balancer see: 3 uplinks and 3 acks came in.
    let addr = fx.gateway.metrics_addr().unwrap();
    let metrics = http_get(addr, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("dampwatch_gateway_devices_connected 1\n"), "{metrics}");
    assert!(metrics.contains("dampwatch_gateway_messages_in_total 6\n"), "{metrics}");
    assert!(metrics.contains("dampwatch_gateway_refusals_total{reason=\"qos2\"} 0\n"), "{metrics}");
    assert!(http_get(addr, "/health").await.starts_with("HTTP/1.1 200"));
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_certificate_is_refused() {
    let fx = Fixture::start().await;
    let tls = client_tls(&fx.paths().ca_cert(), None);
    refused_at_handshake(&fx, tls, Refusal::NoClientCertificate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let fx = Fixture::start().await;
    let (_other, cert, key) = foreign_pki(LANDLORD, "bad-1");
    let tls = fx.tls_for(&cert, &key);
    refused_at_handshake(&fx, tls, Refusal::UnknownIssuer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused() {
    let fx = Fixture::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let (cert, key) = expired_certificate(&fx, scratch.path());
    let tls = fx.tls_for(&cert, &key);
    refused_at_handshake(&fx, tls, Refusal::CertificateExpired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_refused_at_once() {
    let fx = Fixture::start_with(|c| c.tls.crl_poll_interval = Duration::from_secs(3600)).await;
    fx.issue(LANDLORD, "bad-1");
    dampwatch_pki::revoke(&fx.pki(), "bad-1").unwrap();
    // As on SIGHUP; the file poller is slowed down above so that this is what applies it.
    fx.gateway.reload_crl().unwrap();
    let tls = fx.device_tls("bad-1");
    refused_at_handshake(&fx, tls, Refusal::CertificateRevoked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tcp_connection_does_not_delay_anyone_and_times_out() {
    let fx = Fixture::start_with(|c| c.tls.handshake_timeout = Duration::from_secs(2)).await;
    // Connected, never sends a ClientHello.
    let accepted = fx.gateway.metrics().connections_accepted.get();
    let mut idle = tokio::net::TcpStream::connect(fx.gateway.local_addr()).await.unwrap();
    let taken = eventually_true(Duration::from_secs(10), || async {
        fx.gateway.metrics().connections_accepted.get() > accepted
    });
    assert!(taken.await, "the gateway accepted the idle connection");
    let started = Instant::now();
    let mut good = fx.good_pair().await;
    good.round_trip().await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the good clients waited {:?} behind an idle connection",
        started.elapsed()
    );
    assert_eq!(fx.refusals(Refusal::HandshakeTimeout), 0, "not timed out yet");
    fx.expect_refusal(Refusal::HandshakeTimeout, 1).await;
    let mut byte = [0u8; 1];
    let n = tokio::io::AsyncReadExt::read(&mut idle, &mut byte).await.unwrap_or(0);
    assert_eq!(n, 0, "the gateway closed the idle connection");
    good.round_trip().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_handshake_is_refused() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "garbage-1");
    fx.issue(LANDLORD, "garbage-2");
    let mut good = fx.good_pair().await;

    // Inside TLS: a valid CONNECT, then bytes that are not MQTT.
    let mut raw = Raw::connect(fx.port(), fx.device_tls("garbage-1")).await.unwrap();
    assert_eq!(raw.mqtt_connect("garbage-1").await, 0);
    raw.send(&[0x00, 0xFF, 0x13, 0x37, 0xDE, 0xAD]).await;
    assert!(raw.closed().await);
    fx.expect_refusal(Refusal::MalformedPacket, 1).await;

    // Under TLS: raw bytes that are no TLS record at all.
    let mut raw = Raw::connect(fx.port(), fx.device_tls("garbage-2")).await.unwrap();
    assert_eq!(raw.mqtt_connect("garbage-2").await, 0);
    raw.tls.get_mut().0.write_all(b"\x17\x03\x03\x00\x05hello garbage").await.unwrap();
    assert!(raw.closed().await);
    fx.expect_refusal(Refusal::TlsProtocol, 1).await;

    // A first packet that is not CONNECT.
    let mut raw = Raw::connect(fx.port(), fx.device_tls(GOOD)).await.unwrap();
    raw.send(&[0xC0, 0x00]).await;
    assert!(raw.closed().await);
    fx.expect_refusal(Refusal::NotConnectFirst, 1).await;

    good.round_trip().await;
    let lines = log_lines_with("device=\"garbage-1\"");
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    let line = &lines[0];
    for field in ["reason=malformed_packet", "landlord=\"acme\"", "source=127.0.0.1:"] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_source_rate_are_refused() {
    let fx = Fixture::start_with(|c| {
        c.limits.connections_per_second_per_source = 0.01;
        c.limits.connection_burst_per_source = 3.0;
    })
    .await;
    let mut good = fx.good_pair().await; // two connections from 127.0.0.1
    let _third = tokio::net::TcpStream::connect(fx.gateway.local_addr()).await.unwrap();
    let mut fourth = tokio::net::TcpStream::connect(fx.gateway.local_addr()).await.unwrap();
    fx.expect_refusal(Refusal::SourceRateLimited, 1).await;
    let mut byte = [0u8; 1];
    assert_eq!(tokio::io::AsyncReadExt::read(&mut fourth, &mut byte).await.unwrap_or(0), 0);
    good.round_trip().await;
}
