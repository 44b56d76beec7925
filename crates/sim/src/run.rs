//! `dampwatch sim` from start to summary: check the arguments, provision if asked, load the
//! fleet's credentials, assign boot numbers, build the devices, run one task per device while
//! printing progress, stop sampling after `--for`, wait (bounded) for the queues to drain, and
//! print the summary.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::boot;
use crate::cli::SimArgs;
use crate::clock::SimClock;
use crate::device::{DeviceSetup, SimDevice};
use crate::error::SimError;
use crate::firmware_device::FirmwareDevice;
use crate::fleet;
use crate::link::GatewayAddr;
use crate::pacer::ConnectPacer;
use crate::physics::time::DAY_MS;
use crate::progress;
use crate::provision::{provision, KEY_ID};
use crate::summary::SimSummary;
use crate::task::{run_device, Shared};
use crate::totals::Totals;

/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Connections the pacer lets through at once before holding to `--connect-rate` (the gateway
/// allows a burst of 200 from one address by default).
const CONNECT_BURST: u32 = 100;
/// Fastest simulation accepted: beyond this a sample interval is shorter than a millisecond.
const MAX_SPEED: f64 = 600_000.0;
/// The longest simulated history a run may cover (`--for × --speed`).
pub const MAX_SPAN: Duration = Duration::from_secs(5 * 365 * 86_400);

/// Runs the simulation and returns its summary, which is also the last line written to `out`.
pub async fn run(args: SimArgs, out: &mut dyn Write) -> Result<SimSummary, SimError> {
    check(&args)?;
    let gateway: GatewayAddr = args.gateway.parse()?;
    let ids = fleet::device_ids(&args.device_prefix, args.devices)?;
    let pki = args.pki_dir();
    if !dampwatch_pki::is_initialized(&pki) {
        return Err(SimError::NoPki { dir: pki });
    }
    let span_ms = (args.duration.as_secs_f64() * args.speed * 1000.0) as i64;

    if args.provision {
        let url = database_url(&args)?;
        // A day before the simulated span starts, so no reading is dated before installation.
        let provisioned_at =
            DateTime::<Utc>::from_timestamp_millis(Utc::now().timestamp_millis() - span_ms - DAY_MS)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let p = provision(&pki, &args.bundles_dir(), &url, &args.landlord, &ids, provisioned_at).await?;
        writeln!(
            out,
            "sim: provisioned {} devices: {} certificates issued, {} reused; {} registered, {} already registered",
            ids.len(),
            p.certificates_issued,
            p.certificates_reused,
            p.registered,
            p.already_registered
        )?;
        if p.registered_late > 0 {
            writeln!(
                out,
                "sim: warning: {} devices were registered after {}; the collector will correct the times of \
                 their readings dated earlier",
                p.registered_late,
                provisioned_at.format("%Y-%m-%d %H:%M UTC")
            )?;
        }
    }

    let credentials = {
        let (bundles, landlord, ids) = (args.bundles_dir(), args.landlord.clone(), ids.clone());
        tokio::task::spawn_blocking(move || fleet::load(&bundles, &landlord, &ids)).await??
    };
    let collector_keys = crate::provision::collector_keys(&pki)?;
    let boots = {
        let (dir, ids) = (args.boot_dir(), ids.clone());
        tokio::task::spawn_blocking(move || boot::next_boots(&dir, &ids)).await??
    };

    // Rooms are warmed up against the final span; the clock starts once they are built.
    let planned = SimClock::new(Instant::now(), Utc::now().timestamp_millis(), args.speed, args.duration);
    let devices = {
        let (landlord, scenario) = (args.landlord.clone(), args.scenario);
        tokio::task::spawn_blocking(move || {
            credentials
                .into_iter()
                .zip(boots)
                .enumerate()
                .map(|(index, (c, boot))| {
                    let setup = DeviceSetup {
                        id: c.id.clone(),
                        landlord: landlord.clone(),
                        key_id: KEY_ID,
                        signing_seed: c.signing_seed,
                        collector_keys,
                        boot,
                        scenario: scenario.for_device(index),
                    };
                    let dev = SimDevice::new(setup, planned)
                        .map_err(|source| SimError::Identity { device: c.id.clone(), source })?;
                    Ok((dev, c.tls))
                })
                .collect::<Result<Vec<_>, SimError>>()
        })
        .await??
    };

    let clock = planned.starting_at(Instant::now());
    let span = clock.span();
    writeln!(
        out,
        "sim: {} devices, scenario {}, speed {}x: simulating {} ({} to {}) in {} of sampling, gateway {}",
        ids.len(),
        args.scenario,
        args.speed,
        progress::span(span.len_ms() as u64),
        timestamp(span.from_ms),
        timestamp(span.to_ms),
        humantime::format_duration(args.duration),
        gateway
    )?;
    let shared = Arc::new(Shared {
        clock,
        gateway,
        pacer: ConnectPacer::new(args.connect_rate, CONNECT_BURST, clock.origin()),
        stop: CancellationToken::new(),
        totals: Totals::default(),
    });
    let mut tasks = JoinSet::new();
    for (dev, tls) in devices {
        let shared = shared.clone();
        tasks.spawn(async move { run_device(dev, tls, shared).await.stats() });
    }
    supervise(tasks, &shared, &args, out).await
}

/// Prints progress until every device task has ended, stopping them at the drain deadline.
async fn supervise(
    mut tasks: JoinSet<dampwatch_firmware::Stats>,
    shared: &Shared,
    args: &SimArgs,
    out: &mut dyn Write,
) -> Result<SimSummary, SimError> {
    let clock = shared.clock;
    let sampling_end = clock.origin() + args.duration;
    let deadline = sampling_end + args.drain_timeout;
    let mut ticker = tokio::time::interval_at((clock.origin() + PROGRESS_EVERY).into(), PROGRESS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut drain_announced, mut stopped) = (false, false);
    let mut summary = SimSummary { span: clock.span(), ..SimSummary::default() };
    let mut failures: Vec<String> = Vec::new();
    let print_progress = |out: &mut dyn Write| -> std::io::Result<()> {
        let now = Instant::now();
        let simulated = clock.sim_ms(now).min(clock.sampling_end_sim_ms());
        writeln!(
            out,
            "{}",
            progress::line(now - clock.origin(), simulated, args.devices, &shared.totals.snapshot())
        )
    };
    while !tasks.is_empty() {
        tokio::select! {
            biased;
            done = tasks.join_next() => match done {
                Some(Ok(stats)) => summary.add(&stats),
                Some(Err(e)) => failures.push(e.to_string()),
                None => break,
            },
            _ = tokio::time::sleep_until(sampling_end.into()), if !drain_announced => {
                drain_announced = true;
                print_progress(out)?;
                ticker.reset();
                let queued = shared.totals.snapshot().queued;
                writeln!(
                    out,
                    "sim: sampling done; waiting up to {} for {queued} queued readings to be confirmed",
                    humantime::format_duration(args.drain_timeout)
                )?;
            }
            _ = tokio::time::sleep_until(deadline.into()), if !stopped => {
                stopped = true;
                writeln!(
                    out,
                    "sim: drain timeout: {} readings still unconfirmed; stopping",
                    shared.totals.snapshot().queued
                )?;
                shared.stop.cancel();
            }
            _ = ticker.tick() => print_progress(out)?,
        }
    }
    writeln!(out, "{summary}")?;
    if let Some(first) = failures.first() {
        return Err(SimError::DeviceTasks { failed: failures.len(), first: first.clone() });
    }
    Ok(summary)
}

fn check(args: &SimArgs) -> Result<(), SimError> {
    let bad = |m: String| Err(SimError::InvalidArguments(m));
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= MAX_SPEED) {
        return bad(format!("--speed must be above 0 and at most {MAX_SPEED}, got {}", args.speed));
    }
    if args.duration.is_zero() {
        return bad("--for must be longer than zero".into());
    }
    // The simulated span ends at the present, so it starts `--for × --speed` ago: keep that
    // within a plausible device history (readings are never dated before it).
    let span = args.duration.as_secs_f64() * args.speed;
    if span > MAX_SPAN.as_secs_f64() {
        return bad(format!(
            "--for {} at --speed {} simulates {} of history, more than the {} a run may reach back; \
             shorten --for or lower --speed",
            humantime::format_duration(args.duration),
            args.speed,
            humantime::format_duration(Duration::from_secs(span as u64)),
            humantime::format_duration(MAX_SPAN),
        ));
    }
    if !(args.connect_rate.is_finite() && args.connect_rate > 0.0) {
        return bad(format!("--connect-rate must be above 0, got {}", args.connect_rate));
    }
    if let Err(e) = dampwatch_wire::validate_landlord_id(&args.landlord) {
        return bad(format!("--landlord {:?} {e}", args.landlord));
    }
    Ok(())
}

/// The database URL: `--database-url`, else the file a running demo wrote.
fn database_url(args: &SimArgs) -> Result<String, SimError> {
    if let Some(url) = &args.database_url {
        return Ok(url.clone());
    }
    let file = args.database_url_file();
    match std::fs::read_to_string(&file) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        _ => Err(SimError::NoDatabaseUrl { file }),
    }
}

fn timestamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_arguments_and_missing_pki_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = SimArgs { data_dir: dir.path().to_owned(), ..SimArgs::default() };
        let mut out = Vec::new();
        let err = run(args.clone(), &mut out).await.unwrap_err().to_string();
        assert!(err.contains("no PKI") && err.contains("pki init"), "{err}");

        args.speed = 0.0;
        assert!(run(args.clone(), &mut out).await.unwrap_err().to_string().contains("--speed"));
        args.speed = 600.0;
        args.duration = Duration::from_secs(10 * 365 * 86_400);
        let err = run(args.clone(), &mut out).await.unwrap_err().to_string();
        assert!(err.contains("shorten --for or lower --speed"), "{err}");
        args.duration = Duration::from_secs(60);
        args.gateway = "nowhere".into();
        assert!(run(args.clone(), &mut out).await.unwrap_err().to_string().contains("HOST:PORT"));
    }

    #[tokio::test]
    async fn provisioning_needs_a_database_url() {
        let dir = tempfile::tempdir().unwrap();
        dampwatch_pki::init(&dir.path().join("pki"), Default::default()).unwrap();
        let args = SimArgs { data_dir: dir.path().to_owned(), provision: true, ..SimArgs::default() };
        let err = run(args.clone(), &mut Vec::new()).await.unwrap_err().to_string();
        assert!(err.contains("--database-url") && err.contains("database-url"), "{err}");
        // Without --provision the missing certificates are named.
        let args = SimArgs { provision: false, ..args };
        let err = run(args, &mut Vec::new()).await.unwrap_err().to_string();
        assert!(err.contains("sim-00001") && err.contains("--provision"), "{err}");
    }
}
