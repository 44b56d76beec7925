//! `dampwatch demo --for DURATION` runs the whole system on embedded defaults and ends with the
//! number of stored readings.

use std::process::Command;

#[test]
fn demo_stores_readings_and_ends_with_the_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .args(["demo", "--for", "12s", "--devices", "3", "--report-every", "2"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--gateway")
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("dampwatch runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().unwrap_or_default();
    let stored: u64 = last
        .strip_prefix("stored readings: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line is not `stored readings: N`: {last:?}\n{stdout}"));
    assert!(stored > 0, "{stdout}");
    assert!(stdout.contains("database:         postgres://"), "{stdout}");
    // The API over HTTPS with the PKI's certificate, metrics on their own plain-HTTP listener.
    let api = stdout.lines().find_map(|l| l.strip_prefix("landlord API:     ")).expect("API line");
    let metrics = stdout.lines().find_map(|l| l.strip_prefix("collector metrics: ")).expect("metrics line");
    assert!(api.starts_with("https://127.0.0.1:") && api.contains("/v1/cases"), "{api}");
    assert!(metrics.starts_with("http://127.0.0.1:") && metrics.ends_with("/metrics"), "{metrics}");
    assert!(dir.path().join("pki/web/cert.pem").exists());
    // Every reading the demo devices sent was confirmed before it stopped.
    let summary = stdout.lines().find(|l| l.starts_with("sim: ")).expect("device summary line");
    assert!(summary.contains("queued=0") && summary.contains("dropped=0"), "{summary}");
    assert!(dir.path().join("pki/ca.pem").exists());
}
