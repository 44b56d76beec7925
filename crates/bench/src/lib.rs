//! `dampwatch bench ingest`: the whole ingest path on this machine, measured.
//!
//! It needs nothing: it makes its own private PostgreSQL (non-durable: the numbers are about
//! the software, not the disk), temporary PKI, gateway, collector and simulated devices, and
//! removes them afterwards. Each run measures, on fresh device boots:
//!
//! 1. **end to end**: every device (the real firmware core, over mutual TLS) records as fast as
//!    its queue allows; readings committed per second by the collector, after a warm-up;
//! 2. **latency**: the same devices at half that rate; for each reading, the time from its
//!    sample to the commit acknowledgement that covered it, as the device sees it (waiting for
//!    its batch included);
//! 3. **collector only**: uplinks signed in advance, published into the broker's loopback
//!    listener as fast as the collector takes them; readings committed per second of the
//!    collector's own CPU time (its threads, read from /proc);
//! 4. **floors**, on those same uplinks and rows: `ring` signature verifications per second on
//!    one core, and binary COPY rows per second into a table shaped like `readings`.
//!
//! After each phase the database is checked: every recorded reading stored (lost = recorded -
//! stored) and none twice. Medians over the runs are reported.

pub mod alerts;
pub mod fleet;
mod floors;
mod host;
pub mod latency;
mod replay;
mod world;

use fleet::{Outcome, Plan};
use host::Hosted;
use latency::Latencies;
use std::io::Write;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use world::World;

#[derive(Debug, Clone, clap::Args)]
pub struct IngestBenchArgs {
    /// Runs per measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Simulated devices (each a firmware core on its own mutual-TLS connection).
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
    /// Seconds each end-to-end and latency phase measures.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// A short check of the benchmark itself: one run, 40 devices, 3 seconds.
    #[arg(long)]
    pub quick: bool,
}

/// Collector-only uplinks per device and run (34 readings each).
const REPLAY_PER_DEVICE: usize = 30;
const WARM_UP: Duration = Duration::from_secs(2);
/// New device connections a second: the benchmark's gateway admits any number from one address.
const CONNECT_RATE: f64 = 1000.0;

/// One run's figures.
#[derive(Debug, Clone, Default)]
struct RunFigures {
    end_to_end: f64,
    end_to_end_collector_cores: f64,
    p50_ms: f64,
    p99_ms: f64,
    latency_rate: f64,
    collector_per_core: f64,
    collector_wall: f64,
    ring_per_second: f64,
    copy_rows_per_second: f64,
    lost: i64,
    duplicated: i64,
}

pub async fn run(args: IngestBenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (runs, devices, seconds) = if args.quick {
        (1, args.devices.min(40), args.seconds.min(3))
    } else {
        (args.runs.max(1), args.devices.max(1), args.seconds.max(1))
    };
    writeln!(out, "setting up: private PostgreSQL, PKI, gateway, {devices} devices ...")?;
    out.flush()?;
    let world = World::build(devices).await?;
    let result = run_all(&world, runs, devices, seconds, out).await;
    world.shutdown().await;
    let figures = result?;
    report(out, &figures, devices, seconds)
}

async fn run_all(
    world: &World,
    runs: usize,
    devices: usize,
    seconds: u64,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<RunFigures>> {
    let mut all = Vec::new();
    for run in 0..runs {
        let boot = (run as u32) * 3;
        let collector = Hosted::start(world.collector_config(), 2)?;
        let figures = one_run(world, &collector, boot, devices, seconds).await;
        let _ = tokio::task::spawn_blocking(move || collector.stop()).await;
        let f = figures?;
        writeln!(
            out,
            "run {}: end to end {:.0}/s, p99 {:.0} ms at {:.0}/s, collector {:.0}/s per core, lost {}, duplicated {}",
            run + 1,
            f.end_to_end,
            f.p99_ms,
            f.latency_rate,
            f.collector_per_core,
            f.lost,
            f.duplicated
        )?;
        out.flush()?;
        all.push(f);
    }
    Ok(all)
}

async fn one_run(
    world: &World,
    collector: &Hosted,
    boot: u32,
    devices: usize,
    seconds: u64,
) -> anyhow::Result<RunFigures> {
    let mut f = RunFigures::default();
    let m = collector.metrics.clone();
    let window = Duration::from_secs(seconds);

    // 1. End to end, as fast as the devices' queues allow.
    let start = Instant::now();
    let plan = Plan {
        readings: u32::MAX - 1,
        rate: None,
        batch: dampwatch_firmware::MAX_BATCH as u32,
        linger: Duration::from_millis(50),
        ack_timeout_s: 30,
        port: world.port(),
        connect_rate: CONNECT_RATE,
        stop_recording: Some(start + WARM_UP + window),
        deadline: start + WARM_UP + window + Duration::from_secs(120),
        collector_keys: fleet::collector_keys(&world.pki())?,
    };
    let fleet = spawn_fleet(world, boot + 1, plan);
    tokio::time::sleep_until((start + WARM_UP).into()).await;
    let (stored0, cpu0, t0) = (m.readings_stored.get(), collector.cpu(), Instant::now());
    tokio::time::sleep_until((start + WARM_UP + window).into()).await;
    let (stored1, cpu1, t1) = (m.readings_stored.get(), collector.cpu(), Instant::now());
    f.end_to_end = (stored1 - stored0) as f64 / (t1 - t0).as_secs_f64();
    f.end_to_end_collector_cores = (cpu1 - cpu0).as_secs_f64() / (t1 - t0).as_secs_f64();
    let outcomes = fleet.await??;
    account(world, boot + 1, &outcomes, &mut f).await?;

    // 2. Latency at half the maximum rate.
    f.latency_rate = f.end_to_end / 2.0;
    let start = Instant::now();
    let plan = Plan {
        readings: u32::MAX - 1,
        rate: Some(f.latency_rate / devices as f64),
        batch: dampwatch_firmware::MAX_BATCH as u32,
        linger: Duration::from_secs(1),
        ack_timeout_s: 30,
        port: world.port(),
        connect_rate: CONNECT_RATE,
        stop_recording: Some(start + WARM_UP + window),
        deadline: start + WARM_UP + window + Duration::from_secs(120),
        collector_keys: fleet::collector_keys(&world.pki())?,
    };
    let outcomes = spawn_fleet(world, boot + 2, plan).await??;
    let mut latencies = Latencies::default();
    for l in outcomes.iter().flat_map(|o| &o.latencies) {
        latencies.record(*l);
    }
    f.p50_ms = latencies.quantile_ms(0.50);
    f.p99_ms = latencies.quantile_ms(0.99);
    account(world, boot + 2, &outcomes, &mut f).await?;

    // 3. Collector only: pre-signed uplinks, replayed.
    let specs = world.devices.clone();
    let signer = dampwatch_collector::DownlinkSigner::load(&world.pki())?;
    let keys = fleet::collector_keys(&world.pki())?;
    let uplinks = tokio::task::spawn_blocking(move || {
        replay::presign(&specs, boot + 3, REPLAY_PER_DEVICE, &signer, keys)
    })
    .await??;
    let readings: u64 = uplinks.iter().map(|u| u.readings as u64).sum();
    let broker = world.broker_v4().ok_or_else(|| anyhow::anyhow!("no broker"))?;
    let (stored0, cpu0, t0) = (m.readings_stored.get(), collector.cpu(), Instant::now());
    let deadline = t0 + Duration::from_secs(300);
    replay::publish_all(broker, &uplinks, &m, 1000, deadline).await?;
    while m.readings_stored.get() - stored0 < readings {
        anyhow::ensure!(Instant::now() < deadline, "the collector did not store every replayed reading");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (cpu1, t1) = (collector.cpu(), Instant::now());
    f.collector_per_core = readings as f64 / (cpu1 - cpu0).as_secs_f64().max(1e-9);
    f.collector_wall = readings as f64 / (t1 - t0).as_secs_f64();
    let db = world.db().await?;
    let (rows, distinct) = stored_rows(&db, boot + 3).await?;
    f.lost += readings as i64 - distinct;
    f.duplicated += rows - distinct;

    // 4. Floors on the same uplinks and rows.
    let signed = std::sync::Arc::new(uplinks);
    let for_ring = signed.clone();
    f.ring_per_second =
        tokio::task::spawn_blocking(move || floors::ring_verifications_per_second(&for_ring)).await??;
    let mut db = world.db().await?;
    f.copy_rows_per_second = floors::copy_rows_per_second(&mut db, &signed).await?;
    Ok(f)
}

fn spawn_fleet(
    world: &World,
    boot: u32,
    plan: Plan,
) -> tokio::task::JoinHandle<anyhow::Result<Vec<Outcome>>> {
    let specs = world
        .devices
        .iter()
        .cloned()
        .map(|mut spec| {
            spec.boot = boot;
            spec
        })
        .collect();
    tokio::spawn(fleet::run_fleet(specs, plan, CancellationToken::new()))
}

/// (rows, distinct keys) stored for `boot`.
async fn stored_rows(db: &tokio_postgres::Client, boot: u32) -> anyhow::Result<(i64, i64)> {
    let r = db
        .query_one(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings WHERE boot = $1 AND device_id LIKE 'bench-%'",
            &[&i64::from(boot)],
        )
        .await?;
    Ok((r.get(0), r.get(1)))
}

/// Lost = recorded but not stored; duplicated = stored more than once.
async fn account(world: &World, boot: u32, outcomes: &[Outcome], f: &mut RunFigures) -> anyhow::Result<()> {
    anyhow::ensure!(outcomes.len() == world.devices.len(), "a simulated device failed");
    let recorded: i64 = outcomes.iter().map(|o| i64::from(o.recorded)).sum();
    let db = world.db().await?;
    let (rows, distinct) = stored_rows(&db, boot).await?;
    f.lost += (recorded - distinct).max(0);
    f.duplicated += rows - distinct;
    Ok(())
}

/// The median of one figure over the runs (a handful of values: the middle one, or the mean of
/// the middle two).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Picks one figure of a run.
type Figure = fn(&RunFigures) -> f64;

fn report(out: &mut dyn Write, runs: &[RunFigures], devices: usize, seconds: u64) -> anyhow::Result<()> {
    let col = |f: Figure| -> (f64, String) {
        let values: Vec<f64> = runs.iter().map(f).collect();
        let each: Vec<String> = values.iter().map(|v| fmt(*v)).collect();
        (median(values), each.join(", "))
    };
    let rows: [(String, Figure); 10] = [
        (format!("end to end, readings/s ({devices} devices, {seconds} s)"), |f| f.end_to_end),
        ("collector CPU during end to end, cores".into(), |f| f.end_to_end_collector_cores),
        ("collector only, readings/s per core of collector CPU".into(), |f| f.collector_per_core),
        ("collector only, readings/s wall clock".into(), |f| f.collector_wall),
        ("latency test rate, readings/s (half the end-to-end maximum)".into(), |f| f.latency_rate),
        ("sample to commit acknowledgement p50, ms".into(), |f| f.p50_ms),
        ("sample to commit acknowledgement p99, ms".into(), |f| f.p99_ms),
        ("floor: ring Ed25519 verifications/s (1 core)".into(), |f| f.ring_per_second),
        ("floor: binary COPY rows/s".into(), |f| f.copy_rows_per_second),
        ("floor: ring verifications as readings/s (34 per uplink)".into(), |f| f.ring_per_second * 34.0),
    ];
    writeln!(out)?;
    writeln!(out, "| measure | median | each run |")?;
    writeln!(out, "|---|---:|---|")?;
    for (name, get) in &rows {
        let (m, each) = col(*get);
        writeln!(out, "| {name} | {} | {each} |", fmt(m))?;
    }
    let lost: i64 = runs.iter().map(|f| f.lost).sum();
    let duplicated: i64 = runs.iter().map(|f| f.duplicated).sum();
    writeln!(out, "| readings lost / duplicated (all runs) | {lost} / {duplicated} | |")?;
    writeln!(out)?;
    writeln!(
        out,
        "ingest: end_to_end={:.0}/s collector={:.0}/s/core p99_commit_ms={:.0} lost={lost} duplicated={duplicated}",
        col(|f| f.end_to_end).0,
        col(|f| f.collector_per_core).0,
        col(|f| f.p99_ms).0,
    )?;
    Ok(())
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
