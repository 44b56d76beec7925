//! `bench ingest --preload N`: the runs write into a database that already holds N readings, so
//! they show whether the cost of storing an uplink grows with what is stored (the indexes the
//! runs insert into, the uplinks' digest key above all, are as large as N makes them).
//!
//! The readings are those of another landlord's 2,000 homes, one device each, a reading every
//! ten minutes back from now, in uplinks of `--preload-per-uplink` readings signed by each
//! device's own key, copied in as the collector stores them (`restore::seed`, the same seed
//! the restore drill uses), with their hourly rollups; the hazard worker has nothing of them
//! to do. They are then vacuumed, frozen and checkpointed, as rows stored months ago would be.

use std::io::Write;
use std::time::Instant;

use chrono::Utc;
use tokio_postgres::Client;

use crate::restore::{self, Plan};
use crate::rollups::roll_up;

/// Homes (one device each) the preloaded readings come from.
const DEVICES: u32 = 2_000;
/// Devices whose rollups are added per statement.
const ROLLUP_DEVICES: usize = 100;

/// What was preloaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Preloaded {
    pub readings: u64,
    pub uplinks: u64,
    pub per_uplink: u32,
    pub rollups: u64,
    pub seconds: f64,
}

/// Stores `readings` readings (rounded up to whole uplinks of every device) before the runs,
/// saying what it does as it goes.
pub async fn preload(
    db: &mut Client,
    readings: u64,
    per_uplink: u32,
    out: &mut dyn Write,
) -> anyhow::Result<Preloaded> {
    let per_uplink = per_uplink.max(1);
    let per_device = readings.div_ceil(u64::from(DEVICES));
    let uplinks_per_device = u32::try_from(per_device.div_ceil(u64::from(per_uplink)))?;
    let plan = Plan { devices: DEVICES, uplinks_per_device, readings_per_uplink: per_uplink, cases: 0 };
    writeln!(
        out,
        "preloading {} readings: {DEVICES} homes, {uplinks_per_device} signed uplinks of {per_uplink} each, \
         copied in and rolled up (this takes minutes) ...",
        plan.readings()
    )?;
    out.flush()?;
    let started = Instant::now();
    let seeded = restore::seed(db, plan, Utc::now()).await?;
    writeln!(
        out,
        "  {} readings in {} uplinks stored in {:.0} s; adding their hourly rollups ...",
        seeded.readings,
        seeded.uplinks,
        started.elapsed().as_secs_f64()
    )?;
    out.flush()?;
    let devices: Vec<String> = db
        .query("SELECT id FROM devices WHERE landlord_id = $1 ORDER BY id", &[&restore::LANDLORD])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rollups = 0;
    for chunk in devices.chunks(ROLLUP_DEVICES) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        rollups += roll_up(&*db, &ids).await?;
    }
    writeln!(out, "  {rollups} hourly rollup rows added; vacuuming and checkpointing ...")?;
    out.flush()?;
    // A database that has held its readings for months has long been vacuumed (and frozen) by
    // autovacuum and its pages written out. Without this, autovacuum's first pass over the
    // freshly copied rows, the full-page writes after it and the flushing of the copy's dirty
    // buffers would fall inside the runs and be counted as the cost of their uplinks.
    db.batch_execute("VACUUM (FREEZE, ANALYZE)").await?;
    db.batch_execute("CHECKPOINT").await?;
    let preloaded = Preloaded {
        readings: seeded.readings,
        uplinks: seeded.uplinks,
        per_uplink,
        rollups,
        seconds: started.elapsed().as_secs_f64(),
    };
    writeln!(
        out,
        "  preloaded: {} readings, {} uplinks, {} hourly rollup rows in {:.0} s",
        preloaded.readings, preloaded.uplinks, preloaded.rollups, preloaded.seconds
    )?;
    out.flush()?;
    Ok(preloaded)
}
