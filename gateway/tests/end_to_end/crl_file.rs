//! The CRL file itself: the gateway never runs without one, never falls back to "nothing
//! revoked" when it goes missing or is damaged, and says loudly when it is out of date.

use crate::common::*;
use dampwatch_gateway::Refusal;
use std::time::{Duration, Instant};

/// Waits until the gateway has tried to reload its CRL `n` times in all.
async fn reload_attempts(fx: &Fixture, n: u64) {
    let m = fx.gateway.metrics();
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.crl_reloads.get() + m.crl_reload_failures.get() < n {
        assert!(Instant::now() < deadline, "no CRL reload within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_crl_keeps_the_last_one_in_force() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "stolen-1");
    dampwatch_pki::revoke(&fx.pki(), "stolen-1").unwrap();
    reload_attempts(&fx, 1).await;
    let mut good = fx.good_pair().await;
    std::fs::remove_file(fx.paths().crl()).unwrap();
    reload_attempts(&fx, 2).await;
    let mut again = fx.device("stolen-1");
    again.closed().await;
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
    good.round_trip().await;
}

/// The gateway's metrics as Prometheus reads them.
fn metrics_text(fx: &Fixture) -> String {
    fx.gateway.metrics().render()
}

/// Waits until a log line mentions both `a` and `b`; returns it.
async fn logged(a: &str, b: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = log_lines_with(a).into_iter().find(|l| l.contains(b)) {
            return line;
        }
        assert!(Instant::now() < deadline, "nothing logged with {a:?} and {b:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_does_not_start_without_a_crl() {
    let dir = tempfile::tempdir().unwrap();
    dampwatch_pki::init(dir.path(), Default::default()).unwrap();
    let crl = dampwatch_pki::Paths::new(dir.path()).crl();
    std::fs::remove_file(&crl).unwrap();
    let mut cfg = dampwatch_gateway::Config::default().with_pki_dir(dir.path());
    cfg.listen.address = "127.0.0.1:0".parse().unwrap();
    cfg.listen.metrics_address = None;
    let e = dampwatch_gateway::Gateway::start(cfg).await.err().expect("refused to start");
    let e = e.to_string();
    assert!(e.contains(&crl.display().to_string()) && e.contains("does not exist"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_crl_is_refused_and_the_last_good_one_kept() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "stolen-3");
    dampwatch_pki::revoke(&fx.pki(), "stolen-3").unwrap();
    reload_attempts(&fx, 1).await;
    let mut good = fx.good_pair().await;
    assert!(metrics_text(&fx).contains("dampwatch_gateway_crl_file_rejected 0\n"));
    // Noticed by the file poll alone: refused, counted, and said at ERROR with the file's name.
    std::fs::write(fx.paths().crl(), "-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n").unwrap();
    reload_attempts(&fx, 2).await;
    let text = metrics_text(&fx);
    assert!(text.contains("dampwatch_gateway_crl_file_rejected 1\n"), "{text}");
    assert!(text.contains("dampwatch_gateway_crl_reload_failures_total 1\n"), "{text}");
    let line = logged(&fx.paths().crl().display().to_string(), "CRL reload failed").await;
    assert!(line.contains("ERROR") && line.contains("last good CRL stays in force"), "{line}");
    let mut again = fx.device("stolen-3");
    again.closed().await;
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
    good.round_trip().await;
    // A good file again: taken, and the alarm clears.
    fx.issue(LANDLORD, "stolen-4");
    dampwatch_pki::revoke(&fx.pki(), "stolen-4").unwrap();
    reload_attempts(&fx, 3).await;
    assert!(metrics_text(&fx).contains("dampwatch_gateway_crl_file_rejected 0\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_crl_is_reported_and_still_enforced() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "stolen-5");
    let mut good = fx.good_pair().await;
    assert!(metrics_text(&fx).contains("dampwatch_gateway_crl_stale 0\n"));
    write_stale_crl(&fx, &["stolen-5"]);
    fx.gateway.reload_crl().unwrap();
    let text = metrics_text(&fx);
    assert!(text.contains("dampwatch_gateway_crl_stale 1\n"), "{text}");
    assert!(!text.contains("dampwatch_gateway_crl_next_update_seconds 0\n"), "{text}");
    let line = logged(&fx.paths().crl().display().to_string(), "past its nextUpdate").await;
    assert!(line.contains("ERROR"), "{line}");
    // By default the gateway keeps serving: what the stale CRL revokes stays refused, the
    // rest keep working.
    let mut stolen = fx.device("stolen-5");
    stolen.closed().await;
    fx.expect_refusal(Refusal::CertificateRevoked, 1).await;
    good.round_trip().await;
    let mut again = fx.device(GOOD);
    again.connected().await;
    // A current CRL clears the report.
    fx.issue(LANDLORD, "stolen-6");
    dampwatch_pki::revoke(&fx.pki(), "stolen-6").unwrap();
    fx.gateway.reload_crl().unwrap();
    assert!(metrics_text(&fx).contains("dampwatch_gateway_crl_stale 0\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_crl_can_be_set_to_refuse_devices_but_not_services() {
    let fx =
        Fixture::start_with(|c| c.tls.stale_crl = dampwatch_gateway::config::StaleCrl::RefuseDevices).await;
    write_stale_crl(&fx, &[]);
    fx.gateway.reload_crl().unwrap();
    let mut device = fx.device(GOOD);
    device.closed().await;
    fx.expect_refusal(Refusal::CrlStale, 1).await;
    let mut collector = fx.collector();
    collector.connected().await;
    // A current CRL lets devices in again.
    fx.issue(LANDLORD, "stolen-7");
    dampwatch_pki::revoke(&fx.pki(), "stolen-7").unwrap();
    fx.gateway.reload_crl().unwrap();
    let mut device = fx.device(GOOD);
    device.connected().await;
}
