//! `dampwatch bench alerts --quick` sets up everything it needs and reports every room's
//! alert reaching the webhook receiver and the SMTP server's inbox (the figures themselves are
//! for `dampwatch bench`).

use std::process::Command;

#[test]
fn bench_alerts_runs_on_its_own_and_ends_with_its_summary_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .args(["bench", "alerts", "--quick"])
        .output()
        .expect("dampwatch runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // The webhook's summary line, then the immediate e-mail's, last.
    let summary = |name: &str| stdout.lines().find(|l| l.starts_with(&format!("{name}: p50_ms=")));
    let webhook = summary("alerts").unwrap_or_default();
    assert!(webhook.ends_with(" rooms=20 runs=1"), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("email: p50_ms=") && last.ends_with(" rooms=20 runs=1"), "{last}");
}

/// `dampwatch bench dashboard --quick` seeds its own small landlord, signs a person in over
/// HTTPS and reports the board's and the charts' server times (the targets are judged only by
/// the full-size benchmark, never here).
#[test]
fn bench_dashboard_runs_on_its_own_and_ends_with_its_summary_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .args(["bench", "dashboard", "--quick", "--non-durable"])
        .output()
        .expect("dampwatch runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("| SLA board, GET / |"), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("dashboard: board_p95_ms="), "{last}");
    assert!(last.ends_with(" homes=300 cases=40 readings=432 runs=3 durable=off"), "{last}");
}

/// `dampwatch bench restore --quick` seeds signed evidence, backs it up encrypted, drops the
/// database, restores it and verifies every uplink, chain and the audit log.
#[test]
fn bench_restore_runs_the_whole_drill_and_ends_with_its_summary_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .args(["bench", "restore", "--quick", "--non-durable"])
        .output()
        .expect("dampwatch runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("uplinks: 2000 verified, 0 failed"), "{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("summary: 20000 readings (10 per uplink), durable=off, 1 run: backup "),
        "{last}"
    );
}

/// `dampwatch bench ingest --quick --preload N` stores N readings before its runs (signed
/// uplinks with their rollups, another landlord's), says so in the figures' heading, and still
/// finds every reading of its runs stored once.
#[test]
fn bench_ingest_preloads_the_database_before_its_runs_and_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .args(["bench", "ingest", "--quick", "--non-durable", "--preload", "20000"])
        .output()
        .expect("dampwatch runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("preloaded: 20000 readings, 2000 uplinks, "), "{stdout}");
    assert!(stdout.contains("with 20000 readings already stored (2000 uplinks of 10, "), "{stdout}");
    let summary = stdout.lines().find(|l| l.starts_with("ingest: shape=1 ")).unwrap_or_default();
    assert!(summary.contains(" lost=0 ") && summary.contains(" stored_twice=0 "), "{stdout}");
}
