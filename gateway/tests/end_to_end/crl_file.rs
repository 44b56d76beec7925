//! The CRL file itself: the gateway never runs without one, never falls back to "nothing
//! revoked" when it goes missing or is damaged, and says loudly when it is out of date.

use crate::common::*;
use dampwatch_gateway::Refusal;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Waits until the gateway has tried to reload its CRL `n` times in all.
async fn reload_attempts(fx: &Fixture, n: u64) {
    let m = fx.gateway.metrics();
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.crl_reloads.load(Relaxed) + m.crl_reload_failures.load(Relaxed) < n {
        assert!(Instant::now() < deadline, "no CRL reload within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_crl_keeps_the_last_one_in_force() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "stolen-1");
    dampwatch_pki::revoke(fx.dir.path(), "stolen-1").unwrap();
    reload_attempts(&fx, 1).await;
    let mut good = fx.good_pair().await;
    std::fs::remove_file(fx.paths().crl()).unwrap();
    reload_attempts(&fx, 2).await;
    let mut again = fx.device("stolen-1");
    again.closed().await;
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
    good.round_trip().await;
}
