//! A certificate that runs out while its connection is open ends that connection.

use crate::common::*;
use dampwatch_gateway::Refusal;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_whose_certificate_expires_is_disconnected() {
    let fx = Fixture::start().await;
    let mut good = fx.good_pair().await;
    let scratch = tempfile::tempdir().unwrap();
    let (cert, key) = short_lived_certificate(&fx, scratch.path(), "brief-1", Duration::from_secs(5));
    let mut brief = fx.client(fx.tls_for(&cert, &key), "brief-1");
    brief.connected().await;
    // Its keep-alive (30 s) is far off: only the certificate's end can close it this soon.
    brief.closed().await;
    fx.expect_refusal(Refusal::CertificateExpiredWhileConnected, 1).await;
    good.round_trip().await;
    // And it cannot come back: the handshake refuses the expired certificate.
    let mut again = fx.client(fx.tls_for(&cert, &key), "brief-1");
    again.closed().await;
    fx.expect_refusal(Refusal::CertificateExpired, 1).await;
}
