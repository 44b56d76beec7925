//! `dampwatch bench ingest`: the whole ingest path on this machine, measured at the shapes
//! sensors send and on a database that survives a crash.
//!
//! It needs nothing: it makes its own private PostgreSQL (durable, on disk, with the product's
//! settings, unless `--non-durable`), temporary PKI, gateway, collector (with its hazard
//! worker) and load devices (the real firmware core over mutual TLS, through the simulator's
//! device driver), and removes them afterwards. Each run, on fresh device boots:
//!
//! 1. **shape 1** (one reading per signed uplink: what a sensor sends every ten minutes): the
//!    offered rate is paced up step by step until a step is no longer lossless (the committed
//!    rate falls behind the offered one, readings queue on the devices, or the p99 from
//!    sample to acknowledgement passes its bound); the highest lossless step is the figure,
//!    with the server CPU per uplink at that step: every thread of this process but the load
//!    generator's (gateway, broker, collector, hazard worker) plus every PostgreSQL process;
//! 2. **latency** at half that rate: each reading's time from its sample to the device holding
//!    the commit acknowledgement (batching and queueing count), p50/p99/max; then the hazard
//!    worker's backlog, and how long it takes to drain;
//! 3. **resends**: the same rate with the gateway restarted mid-step, so devices reconnect and
//!    resend what was in flight, plus pre-signed uplinks published twice: `resent=N` and
//!    `stored_twice` counted from the table (rows minus distinct keys), never assumed;
//! 4. **shape 34** (a device catching up after an outage: full uplinks, as fast as the queues
//!    allow), with its server CPU per uplink;
//! 5. **floors**, on the pre-signed uplinks: `ring` verifications per second on one core and
//!    binary COPY rows per second.
//!
//! Every phase checks the database afterwards: lost = recorded − stored. Medians over the runs
//! are reported, and one summary line per shape. With `--preload N` the runs write into a
//! database that already holds N readings (`preload`), to show whether the cost per uplink
//! grows with what is stored.

pub mod alerts;
mod cpu;
pub mod dashboard;
pub mod fleet;
mod floors;
mod footprint;
mod host;
pub mod latency;
mod loadgen;
mod preload;
mod replay;
pub mod restore;
mod rollups;
mod statements;
pub mod upstreams;
mod world;

use fleet::{Outcome, Plan};
use host::Hosted;
use latency::Latencies;
use loadgen::LoadRun;
use std::io::Write;
use std::time::{Duration, Instant};
use world::World;

/// What the shape-1 search needs, shared by `bench ingest` and `bench upstreams`.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// Runs; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Load devices (each a firmware core on its own mutual-TLS connection).
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    /// Seconds each step measures (after a warm-up of two).
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// The first offered rate of the shape-1 search, uplinks a second; each step offers a
    /// quarter more.
    #[arg(long, default_value_t = 200.0)]
    pub start_rate: f64,
    /// A step is lossless only if its p99 from sample to acknowledgement is within this.
    #[arg(long, default_value_t = 1000)]
    pub latency_bound_ms: u64,
    /// PostgreSQL in memory with fsync, synchronous commit and full-page writes off (labelled
    /// `durable=off`): the software without the disk. Never the headline.
    #[arg(long)]
    pub non_durable: bool,
    /// A short check of the benchmark itself: one run, 40 devices, 2-second steps.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct IngestBenchArgs {
    #[command(flatten)]
    pub search: SearchArgs,
    /// Also count PostgreSQL's statements (`pg_stat_statements`) and print the heaviest after
    /// each run, per uplink it committed, with the vacuums and analyses PostgreSQL ran during
    /// it: where the database's time goes. Counting costs a little itself.
    #[arg(long)]
    pub statements: bool,
    /// Readings already stored before the runs (another landlord's 2,000 homes, signed uplinks
    /// copied in with their hourly rollups), to show whether the cost per uplink grows with
    /// the database: 50000000 for fifty million. The figures' heading says how many.
    #[arg(long, default_value_t = 0)]
    pub preload: u64,
    /// Readings per signed uplink of the preloaded readings.
    #[arg(long, default_value_t = 10)]
    pub preload_per_uplink: u32,
}

/// Pre-signed uplinks per device for the replay and the floors.
const REPLAY_PER_DEVICE: usize = 30;
const WARM_UP: Duration = Duration::from_secs(2);
/// After recording stops, how long devices may take to have everything confirmed.
const DRAIN: Duration = Duration::from_secs(60);
/// New device connections a second: the benchmark's gateway admits any number from one address.
const CONNECT_RATE: f64 = 1000.0;
/// Each step of the search offers this much more than the last.
const STEP_FACTOR: f64 = 1.25;
/// At most this many steps per search.
const MAX_STEPS: usize = 24;
/// A step is lossless when its committed readings are at least this share of those offered in
/// its window (give or take one reading per device at each end of the window: a device records
/// whole readings).
const KEPT_UP: f64 = 0.97;

/// The shape of a step: readings per uplink.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// One reading per uplink, at a paced rate.
    One,
    /// Full uplinks of 34, as fast as the queues allow (catching up).
    CatchUp,
}

impl Shape {
    fn readings_per_uplink(self) -> u32 {
        match self {
            Shape::One => 1,
            Shape::CatchUp => dampwatch_firmware::MAX_BATCH as u32,
        }
    }
}

/// What one step measured.
#[derive(Debug, Clone, Default)]
struct Step {
    /// Offered readings a second (`None` in the figures: as fast as the queues allow).
    offered: f64,
    uplinks_per_s: f64,
    readings_per_s: f64,
    /// Server CPU (this process but the load generator, plus PostgreSQL) per committed uplink.
    server_us_per_uplink: f64,
    /// Of which PostgreSQL.
    postgres_us_per_uplink: f64,
    /// Of which the message cluster's nodes (0 with the embedded broker, which runs in this
    /// process and counts with it).
    message_layer_us_per_uplink: f64,
    load_us_per_uplink: f64,
    latencies: Option<Latencies>,
    lost: i64,
    resent: i64,
    stored_twice: i64,
    /// Every device had everything confirmed before the drain deadline.
    complete: bool,
    /// Rows in the hazard inbox when recording stopped.
    backlog: i64,
    /// Readings committed in the window, and offered in it less the rounding allowance.
    committed_in_window: f64,
    due_in_window: f64,
}

impl Step {
    fn quantile_ms(&self, q: f64) -> f64 {
        self.latencies.as_ref().map_or(f64::NAN, |l| l.quantile_ms(q))
    }

    fn p99_ms(&self) -> f64 {
        self.quantile_ms(0.99)
    }

    fn lossless(&self, bound_ms: u64) -> bool {
        self.complete
            && self.lost == 0
            && self.committed_in_window >= self.due_in_window
            && self.p99_ms() <= bound_ms as f64
    }
}

/// One run's figures.
#[derive(Debug, Clone, Default)]
struct RunFigures {
    best: Step,
    /// Over every step of the search, lossless or not.
    search_lost: i64,
    search_stored_twice: i64,
    latency: Step,
    drain_s: f64,
    resends: Step,
    replay_twice_stored: i64,
    replay_lost: i64,
    /// Readings delivered a second time by publishing the pre-signed uplinks twice.
    replayed: i64,
    catch_up: Step,
    /// Disk per stored reading and uplink once the run's inserts are in.
    footprint: footprint::Footprint,
    ring_per_second: f64,
    copy_rows_per_second: f64,
}

impl RunFigures {
    /// Every step after the search (the search's own are summed as it goes).
    fn steps(&self) -> [&Step; 3] {
        [&self.latency, &self.resends, &self.catch_up]
    }

    /// Readings recorded (or replayed) and never stored.
    fn lost(&self) -> i64 {
        self.search_lost + self.steps().iter().map(|s| s.lost).sum::<i64>() + self.replay_lost
    }

    /// Readings stored more than once, counted from the table.
    fn stored_twice(&self) -> i64 {
        self.search_stored_twice
            + self.steps().iter().map(|s| s.stored_twice).sum::<i64>()
            + self.replay_twice_stored
    }

    /// Readings delivered again on purpose: devices' resends after the gateway restart, and the
    /// replayed uplinks' second copies.
    fn delivered_again(&self) -> i64 {
        self.resends.resent + self.replayed
    }
}

/// Settings of one benchmark, after `--quick`.
struct Settings {
    runs: usize,
    devices: usize,
    seconds: u64,
    start_rate: f64,
    bound_ms: u64,
    durable: bool,
    statements: bool,
}

pub async fn run(args: IngestBenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let settings = Settings::new(&args.search, args.statements);
    let durability =
        if settings.durable { "durable (fsync on, on disk)" } else { "NON-DURABLE (in memory, fsync off)" };
    writeln!(
        out,
        "setting up: private PostgreSQL {durability}, PKI, gateway, {} devices ...",
        settings.devices
    )?;
    out.flush()?;
    let mut world = World::build(settings.devices, settings.durable, settings.statements, None).await?;
    let preloaded = match args.preload {
        0 => Ok(None),
        n => match world.db().await {
            Ok(mut db) => preload::preload(&mut db, n, args.preload_per_uplink, out).await.map(Some),
            Err(e) => Err(e),
        },
    };
    let preloaded = match preloaded {
        Ok(p) => p,
        Err(e) => {
            world.shutdown().await;
            return Err(e.context("preloading the database"));
        }
    };
    let result = run_all(&mut world, &settings, out).await;
    world.shutdown().await;
    let figures = result?;
    if let Some(p) = preloaded {
        writeln!(
            out,
            "with {} readings already stored ({} uplinks of {}, {} hourly rollup rows) before the runs",
            p.readings, p.uplinks, p.per_uplink, p.rollups
        )?;
    }
    report(out, &figures, &settings)
}

impl Settings {
    fn new(args: &SearchArgs, statements: bool) -> Settings {
        Settings {
            runs: if args.quick { 1 } else { args.runs.max(1) },
            devices: if args.quick { args.devices.min(40) } else { args.devices.max(1) },
            seconds: if args.quick { args.seconds.min(2) } else { args.seconds.max(1) },
            start_rate: args.start_rate.max(1.0),
            bound_ms: args.latency_bound_ms,
            durable: !args.non_durable,
            statements,
        }
    }
}

async fn run_all(world: &mut World, s: &Settings, out: &mut dyn Write) -> anyhow::Result<Vec<RunFigures>> {
    let mut all = Vec::new();
    for run in 0..s.runs {
        // Each run's statements and maintenance apart, so a cost that grows from run to run
        // shows where it grows.
        let before = match s.statements {
            true => Some(profile_start(world).await?),
            false => None,
        };
        let collector = Hosted::start(world.collector_config(), 2)?;
        let figures = one_run(world, &collector, run as u32 * 1000, s, out).await;
        let _ = tokio::task::spawn_blocking(move || collector.stop()).await;
        let f = figures?;
        writeln!(
            out,
            "run {}: shape 1 {} uplinks/s lossless, {} µs server CPU per uplink, p99 sample to ack {} ms; \
             shape 34 {:.0} readings/s; lost {}, resent {}, stored twice {}",
            run + 1,
            whole(f.best.uplinks_per_s),
            whole(f.best.server_us_per_uplink),
            whole(f.latency.p99_ms()),
            f.catch_up.readings_per_s,
            f.lost(),
            f.delivered_again(),
            f.stored_twice(),
        )?;
        if let Some(before) = before {
            profile_end(world, run + 1, before, out).await?;
        }
        out.flush()?;
        all.push(f);
    }
    Ok(all)
}

/// Where a run's profile starts: the statements forgotten, the uplinks stored and the tables'
/// maintenance counts noted.
async fn profile_start(world: &World) -> anyhow::Result<(i64, statements::Maintenance)> {
    let db = world.db().await?;
    // Counted before the statistics are forgotten, so the profile's own count is not in it.
    let uplinks: i64 = db.query_one("SELECT count(*) FROM uplinks", &[]).await?.get(0);
    let maintenance = statements::maintenance(&db).await?;
    statements::reset(&db).await?;
    Ok((uplinks, maintenance))
}

/// The run's statements per uplink it committed, and the maintenance PostgreSQL did meanwhile.
async fn profile_end(
    world: &World,
    run: usize,
    (uplinks_before, maintenance_before): (i64, statements::Maintenance),
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let db = world.db().await?;
    // The report first, so the count below is not in it.
    let report = statements::heaviest(&db).await?;
    let uplinks: i64 = db.query_one("SELECT count(*) FROM uplinks", &[]).await?.get(0);
    statements::report(report, run, (uplinks - uplinks_before).max(0) as u64, out)?;
    let maintenance = statements::maintenance(&db).await?;
    statements::report_maintenance(&db, &maintenance_before, &maintenance, out).await
}

async fn one_run(
    world: &mut World,
    collector: &Hosted,
    boot0: u32,
    s: &Settings,
    out: &mut dyn Write,
) -> anyhow::Result<RunFigures> {
    let mut f = RunFigures::default();
    let mut boot = boot0;
    let mut next_boot = || {
        boot += 1;
        boot
    };

    // 1. Shape 1: pace up until a step is no longer lossless.
    let search = search_shape_one(world, collector, &mut next_boot, s, out).await?;
    f.best = search.best;
    f.search_lost = search.lost;
    f.search_stored_twice = search.stored_twice;

    // 2. Latency at half the highest lossless rate, then the hazard worker's backlog drained.
    f.latency =
        step(world, collector, next_boot(), Shape::One, Some(f.best.offered / 2.0), s.seconds, false).await?;
    f.drain_s = drain_hazard_inbox(world).await?;

    // 3. Resends: the gateway restarted mid-step; then pre-signed uplinks published twice.
    f.resends =
        step(world, collector, next_boot(), Shape::One, Some(f.best.offered / 2.0), s.seconds, true).await?;
    let replay_boot = next_boot();
    let specs = world.devices.clone();
    let signer = dampwatch_collector::DownlinkSigner::load(&world.pki())?;
    let keys = fleet::collector_keys(&world.pki())?;
    let uplinks = tokio::task::spawn_blocking(move || {
        replay::presign(&specs, replay_boot, REPLAY_PER_DEVICE, &signer, keys)
    })
    .await??;
    let readings: i64 = uplinks.iter().map(|u| u.readings as i64).sum();
    let (broker, login) = world.broker_v4().ok_or_else(|| anyhow::anyhow!("no broker"))?;
    let m = collector.metrics.clone();
    let deadline = Instant::now() + Duration::from_secs(300);
    let stored_before = m.readings_stored.get();
    for _ in 0..2 {
        replay::publish_all(broker, &login, &uplinks, &m, 1000, deadline).await?;
    }
    while (m.readings_stored.get() - stored_before) < readings as u64 {
        anyhow::ensure!(Instant::now() < deadline, "the collector did not store every replayed reading");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (rows, distinct) = stored_rows(&world.db().await?, &world.devices, replay_boot).await?;
    f.replay_lost = readings - distinct;
    f.replayed = readings;
    f.replay_twice_stored = rows - distinct;

    // 4. Shape 34: catching up, as fast as the queues allow.
    f.catch_up = step(world, collector, next_boot(), Shape::CatchUp, None, s.seconds, false).await?;
    f.footprint = footprint::measure(&world.db().await?).await?;

    // 5. Floors on the pre-signed uplinks.
    let signed = std::sync::Arc::new(uplinks);
    let for_ring = signed.clone();
    f.ring_per_second =
        tokio::task::spawn_blocking(move || floors::ring_verifications_per_second(&for_ring)).await??;
    let mut db = world.db().await?;
    f.copy_rows_per_second = floors::copy_rows_per_second(&mut db, &signed).await?;
    Ok(f)
}

/// The shape-1 search of one run.
struct Search {
    /// The highest lossless step (or, when none was, a placeholder at the first rate with no
    /// figures).
    best: Step,
    /// Over every step, lossless or not.
    lost: i64,
    stored_twice: i64,
}

/// Paces shape 1 up from the first rate, a quarter more each step, until a step is no longer
/// lossless.
async fn search_shape_one(
    world: &mut World,
    collector: &Hosted,
    next_boot: &mut dyn FnMut() -> u32,
    s: &Settings,
    out: &mut dyn Write,
) -> anyhow::Result<Search> {
    let mut found = Search { best: Step::default(), lost: 0, stored_twice: 0 };
    let mut rate = s.start_rate;
    for _ in 0..MAX_STEPS {
        let step = step(world, collector, next_boot(), Shape::One, Some(rate), s.seconds, false).await?;
        let ok = step.lossless(s.bound_ms);
        found.lost += step.lost;
        found.stored_twice += step.stored_twice;
        writeln!(
            out,
            "  shape 1 at {rate:.0}/s: committed {:.0}/s, p99 {:.0} ms, {:.0} µs server CPU per uplink{}",
            step.uplinks_per_s,
            step.p99_ms(),
            step.server_us_per_uplink,
            if ok { "" } else { " (not lossless: the search stops)" }
        )?;
        out.flush()?;
        if !ok {
            break;
        }
        found.best = step;
        rate *= STEP_FACTOR;
    }
    if found.best.offered == 0.0 {
        // Nothing lossless even at the first rate: a rate of 0 and no CPU figure for this run,
        // and the rest of the run measures at half the first rate instead.
        writeln!(
            out,
            "  even the first step ({:.0}/s) was not lossless; the rest of the run uses half of it",
            s.start_rate
        )?;
        found.best = Step {
            offered: s.start_rate,
            uplinks_per_s: 0.0,
            readings_per_s: 0.0,
            server_us_per_uplink: f64::NAN,
            postgres_us_per_uplink: f64::NAN,
            load_us_per_uplink: f64::NAN,
            message_layer_us_per_uplink: f64::NAN,
            ..Step::default()
        };
    }
    Ok(found)
}

/// Server CPU so far: this process without the load generator, PostgreSQL, and the message
/// cluster's nodes when there is one; (all, PostgreSQL, message cluster).
fn server_cpu(world: &World, load: &LoadRun) -> (Duration, Duration, Duration) {
    let postgres = world.stack.pg.postmaster_pid().map_or(Duration::ZERO, cpu::postgres);
    let cluster: Duration = world.cluster.iter().flat_map(|c| c.pids()).map(cpu::process).sum();
    (cpu::this_process().saturating_sub(load.cpu()) + postgres + cluster, postgres, cluster)
}

/// Runs one step: `rate` readings a second in all (`None`: as fast as the queues allow) at
/// `shape`, measured over `seconds` after the warm-up; with `restart_gateway`, the gateway is
/// restarted halfway.
async fn step(
    world: &mut World,
    collector: &Hosted,
    boot: u32,
    shape: Shape,
    rate: Option<f64>,
    seconds: u64,
    restart_gateway: bool,
) -> anyhow::Result<Step> {
    let devices = world.devices.len();
    let start = Instant::now();
    let (warm, end) = (start + WARM_UP, start + WARM_UP + Duration::from_secs(seconds));
    let plan = Plan {
        readings: u32::MAX - 1,
        rate: rate.map(|r| r / devices as f64),
        batch: shape.readings_per_uplink(),
        linger: match shape {
            Shape::One => Duration::ZERO,
            Shape::CatchUp => Duration::from_secs(1),
        },
        ack_timeout_s: 10,
        port: world.port(),
        connect_rate: CONNECT_RATE,
        stop_recording: Some(end),
        deadline: end + DRAIN,
        latency_from: Some(warm),
        collector_keys: fleet::collector_keys(&world.pki())?,
    };
    let specs = world
        .devices
        .iter()
        .cloned()
        .map(|mut spec| {
            spec.boot = boot;
            spec
        })
        .collect();
    let load = LoadRun::start(specs, plan)?;
    let m = collector.metrics.clone();
    tokio::time::sleep_until(warm.into()).await;
    let (uplinks0, readings0, t0) = (m.uplinks_verified.get(), m.readings_stored.get(), Instant::now());
    let ((server0, pg0, mq0), load0) = (server_cpu(world, &load), load.cpu());
    if restart_gateway {
        tokio::time::sleep(Duration::from_secs(seconds) / 2).await;
        world.stack.stop_gateway().await;
        world.stack.restart_gateway().await?;
    }
    tokio::time::sleep_until(end.into()).await;
    let (uplinks1, readings1, t1) = (m.uplinks_verified.get(), m.readings_stored.get(), Instant::now());
    let ((server1, pg1, mq1), load1) = (server_cpu(world, &load), load.cpu());
    let db = world.db().await?;
    let backlog: i64 = db.query_one("SELECT count(*) FROM hazard_inbox", &[]).await?.get(0);
    let outcomes = load.finish().await?;
    anyhow::ensure!(outcomes.len() == devices, "a load device failed");

    let secs = (t1 - t0).as_secs_f64();
    let uplinks = (uplinks1 - uplinks0).max(1) as f64;
    let mut latencies = Latencies::default();
    for l in outcomes.iter().flat_map(|o| &o.latencies) {
        latencies.record(*l);
    }
    let recorded: i64 = outcomes.iter().map(|o| i64::from(o.recorded)).sum();
    let (rows, distinct) = stored_rows(&db, &world.devices, boot).await?;
    Ok(Step {
        offered: rate.unwrap_or(0.0),
        uplinks_per_s: (uplinks1 - uplinks0) as f64 / secs,
        readings_per_s: (readings1 - readings0) as f64 / secs,
        server_us_per_uplink: (server1 - server0).as_secs_f64() * 1e6 / uplinks,
        postgres_us_per_uplink: (pg1 - pg0).as_secs_f64() * 1e6 / uplinks,
        message_layer_us_per_uplink: (mq1 - mq0).as_secs_f64() * 1e6 / uplinks,
        load_us_per_uplink: (load1 - load0).as_secs_f64() * 1e6 / uplinks,
        latencies: (latencies.count() > 0).then_some(latencies),
        lost: (recorded - distinct).max(0),
        resent: outcomes.iter().map(|o| i64::from(o.resent)).sum(),
        stored_twice: rows - distinct,
        complete: outcomes.iter().all(|o: &Outcome| o.complete),
        backlog,
        committed_in_window: (readings1 - readings0) as f64,
        due_in_window: KEPT_UP * rate.unwrap_or(0.0) * secs - 2.0 * devices as f64,
    })
}

/// Waits until the hazard worker has consumed every committed range; returns how long it took.
async fn drain_hazard_inbox(world: &World) -> anyhow::Result<f64> {
    let db = world.db().await?;
    let start = Instant::now();
    loop {
        let left: i64 = db.query_one("SELECT count(*) FROM hazard_inbox", &[]).await?.get(0);
        if left == 0 {
            return Ok(start.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(300),
            "the hazard worker did not drain {left} ranges"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (rows, distinct keys) stored for `boot` by the benchmark's devices: rows are counted, not
/// assumed unique (with TimescaleDB the table has no primary key; the key table guards it).
///
/// By the devices' ids, so the count reads the key's index, however many readings are stored.
async fn stored_rows(
    db: &tokio_postgres::Client,
    devices: &[fleet::DeviceSpec],
    boot: u32,
) -> anyhow::Result<(i64, i64)> {
    let ids: Vec<&str> = devices.iter().map(|d| d.device.as_str()).collect();
    let r = db
        .query_one(
            "SELECT count(*), count(DISTINCT (device_id, seq)) FROM readings
             WHERE device_id = ANY($2) AND boot = $1",
            &[&i64::from(boot), &ids],
        )
        .await?;
    Ok((r.get(0), r.get(1)))
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

/// Picks one step of a run.
type StepOf = fn(&RunFigures) -> &Step;

/// Picks one figure of a run.
type Figure = fn(&RunFigures) -> f64;

fn report(out: &mut dyn Write, runs: &[RunFigures], s: &Settings) -> anyhow::Result<()> {
    let col = |f: Figure| -> (f64, String) {
        let values: Vec<f64> = runs.iter().map(f).collect();
        let each: Vec<String> = values.iter().map(|v| fmt(*v)).collect();
        (median(values), each.join(", "))
    };
    let durable = if s.durable { "on" } else { "off" };
    let rows: Vec<(String, Figure)> = vec![
        ("shape 1: highest lossless rate, uplinks/s (= readings/s)".into(), |f| f.best.uplinks_per_s),
        ("shape 1: server CPU per uplink, µs (all server processes, PostgreSQL included)".into(), |f| {
            f.best.server_us_per_uplink
        }),
        ("shape 1: of which PostgreSQL, µs per uplink".into(), |f| f.best.postgres_us_per_uplink),
        ("shape 1: load generator CPU per uplink, µs (not counted above)".into(), |f| {
            f.best.load_us_per_uplink
        }),
        ("shape 1: hazard inbox rows when recording stopped".into(), |f| f.best.backlog as f64),
        ("latency step rate, uplinks/s (half the highest lossless)".into(), |f| f.latency.offered),
        ("sample to commit acknowledgement p50, ms".into(), |f| f.latency.quantile_ms(0.50)),
        ("sample to commit acknowledgement p99, ms".into(), |f| f.latency.quantile_ms(0.99)),
        ("sample to commit acknowledgement max, ms".into(), |f| {
            f.latency.latencies.as_ref().map_or(f64::NAN, |l| l.max_ms())
        }),
        ("hazard inbox rows when the latency step stopped recording".into(), |f| f.latency.backlog as f64),
        ("hazard inbox drained in, s".into(), |f| f.drain_s),
        ("shape 34 (catch-up, as fast as the queues allow): readings/s".into(), |f| {
            f.catch_up.readings_per_s
        }),
        ("shape 34: uplinks/s".into(), |f| f.catch_up.uplinks_per_s),
        ("shape 34: server CPU per uplink, µs (all server processes)".into(), |f| {
            f.catch_up.server_us_per_uplink
        }),
        ("on disk per stored reading, bytes (`readings` with its indexes)".into(), |f| {
            f.footprint.bytes_per_reading
        }),
        (
            "on disk per stored uplink, bytes (`uplinks`: payload and signature kept as evidence)".into(),
            |f| f.footprint.bytes_per_uplink,
        ),
        ("floor: ring Ed25519 verifications/s (1 core)".into(), |f| f.ring_per_second),
        ("floor: binary COPY rows/s".into(), |f| f.copy_rows_per_second),
    ];
    writeln!(out)?;
    writeln!(
        out,
        "{} load devices on this machine with the servers; PostgreSQL durable={durable}; {}-second steps after a {}-second warm-up; medians of {} runs",
        s.devices,
        s.seconds,
        WARM_UP.as_secs(),
        runs.len()
    )?;
    writeln!(out)?;
    writeln!(out, "| measure | median | each run |")?;
    writeln!(out, "|---|---:|---|")?;
    for (name, get) in &rows {
        let (m, each) = col(*get);
        writeln!(out, "| {name} | {} | {each} |", fmt(m))?;
    }
    let sum = |g: fn(&RunFigures) -> i64| runs.iter().map(g).sum::<i64>();
    let (lost, again, twice) =
        (sum(RunFigures::lost), sum(RunFigures::delivered_again), sum(RunFigures::stored_twice));
    writeln!(out, "| readings lost / delivered again (device resends after the gateway restart, and replayed uplinks) / stored twice (all runs) | {lost} / {again} / {twice} | |")?;
    writeln!(out)?;
    // Shape 1's rate and CPU are its highest lossless step's, its latency the half-rate step's;
    // shape 34 (catching up, as fast as the queues allow) has no latency figure.
    let shapes: [(Shape, StepOf, Option<StepOf>); 2] =
        [(Shape::One, |f| &f.best, Some(|f| &f.latency)), (Shape::CatchUp, |f| &f.catch_up, None)];
    for (shape, rates, latency) in shapes {
        let median_of = |get: &dyn Fn(&RunFigures) -> f64| median(runs.iter().map(get).collect());
        let p99 = latency.map_or(f64::NAN, |l| median_of(&|f| l(f).quantile_ms(0.99)));
        writeln!(
            out,
            "ingest: shape={} uplinks_per_s={} readings_per_s={} server_us_per_uplink={} \
             p99_sample_to_ack_ms={} lost={lost} resent={again} stored_twice={twice} durable={durable}",
            shape.readings_per_uplink(),
            whole(median_of(&|f| rates(f).uplinks_per_s)),
            whole(median_of(&|f| rates(f).readings_per_s)),
            whole(median_of(&|f| rates(f).server_us_per_uplink)),
            whole(p99),
        )?;
    }
    Ok(())
}

/// A figure rounded to a whole number, or "-" when there is none.
fn whole(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.0}")
    } else {
        "-".into()
    }
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
