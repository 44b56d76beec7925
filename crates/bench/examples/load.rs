//! How many devices one simulator process sustains: a whole stack in this process (temporary
//! PKI, private PostgreSQL, gateway, collector) and `dampwatch sim` against it.
//!
//! `cargo run --release -p dampwatch-bench --example load -- --devices 2000 --for 60s`
//! (any `dampwatch sim` option; the stack's gateway, data directory, database and
//! `--provision` are filled in).

use dampwatch_collector::Collector;
use dampwatch_gateway::Gateway;
use dampwatch_pg::PrivatePostgres;
use dampwatch_sim::SimArgs;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = SimArgs::try_parse_from(std::env::args_os())?;
    let dir = tempfile::tempdir()?;
    let pki = dir.path().join("pki");
    dampwatch_pki::init(&pki, Default::default())?;
    let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
    let mut gcfg = dampwatch_gateway::Config::default().with_pki_dir(&pki);
    gcfg.listen.address = "127.0.0.1:0".parse()?;
    gcfg.listen.metrics_address = None;
    let gateway = Gateway::start(gcfg).await?;
    let mut ccfg = dampwatch_collector::Config::default().with_pki_dir(&pki);
    ccfg.database.url = pg.url();
    ccfg.mqtt.port = gateway.local_addr().port();
    ccfg.http.address = String::new();
    ccfg.metrics.address = String::new();
    let collector = Collector::start(ccfg).await?;

    args.gateway = gateway.local_addr().to_string();
    args.data_dir = dir.path().to_owned();
    args.database_url = Some(pg.url());
    args.provision = true;
    let started = Instant::now();
    let summary = dampwatch_sim::run(args, &mut std::io::stdout()).await?;
    let db = dampwatch_store::connect(&pg.url()).await?;
    let stored: i64 = db.query_one("SELECT count(*) FROM readings", &[]).await?.get(0);
    println!(
        "load: {} s in all, {} readings stored, complete: {}, peak RSS {} MiB",
        started.elapsed().as_secs(),
        stored,
        summary.is_complete() && stored as u64 == summary.sent,
        peak_rss_mib()
    );
    collector.shutdown().await;
    gateway.shutdown().await;
    Ok(())
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        .map_or(0, |kb| kb / 1024)
}
