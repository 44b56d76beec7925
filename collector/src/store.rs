//! Writing one batch in one transaction: first admission (the per-device limits that need the
//! database, [`crate::admission`]), then uplinks (the evidence), readings (binary COPY through
//! a staging table, then an idempotent insert, so a redelivered uplink inserts nothing), the
//! hourly rollups of what was inserted, quarantined messages ([`crate::quarantine`]), the hazard
//! engine's inbox and the devices' commit positions.
//!
//! Every per-device read is bounded, whatever one device has sent before: the inbox names only
//! the readings this transaction inserted, and a commit position moves by reading at most
//! `DEVICE_QUEUE_CAPACITY` index entries above it (the sequence window of admission keeps every
//! stored reading beyond a position within that distance of it).
//!
//! Nothing here acknowledges anything: the caller acks MQTT and tells devices their position
//! only after `store_batch` returned Ok, i.e. after COMMIT.
//!
//! Rows are inserted in key order so that two collectors writing overlapping devices take their
//! row locks in the same order (fewer deadlocks; a deadlock that still happens is retried).

use crate::admission::{self, DeviceLimits};
use crate::checks::{CheckedUplink, Rejection};
use crate::db::{Layout, Session};
use crate::quarantine;
use crate::reject::Reason;
use chrono::{DateTime, Utc};
use dampwatch_store::{write_reading, Prepared, Provenance, READING_COLUMNS};
use dampwatch_wire::limits::DEVICE_QUEUE_CAPACITY;
use futures_util::pin_mut;
use ring::digest::{digest, SHA256};
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Transaction};

/// A message that failed its checks, to quarantine.
#[derive(Debug, Clone)]
pub struct Quarantined {
    pub received_at: DateTime<Utc>,
    pub topic: String,
    pub raw: Vec<u8>,
    pub rejection: Rejection,
}

/// An uplink that passed its checks, with its arrival time and topic.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub received_at: DateTime<Utc>,
    pub topic: String,
    pub raw: Vec<u8>,
    pub uplink: CheckedUplink,
}

/// A device's commit position after a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub landlord: String,
    pub device: String,
    pub boot: i64,
    pub committed_seq: i64,
}

/// What a committed batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub readings_stored: u64,
    pub readings_duplicate: u64,
    /// Messages quarantined (refused, or copied for their flagged readings), by reason,
    /// including those past their device's quarantine quota.
    pub quarantined: Vec<(Reason, u64)>,
    /// Of those, the ones past their device's quota: counted, without a quarantine row.
    pub quarantine_suppressed: Vec<(Reason, u64)>,
    /// The position of every (device, boot) in the batch.
    pub positions: Vec<Position>,
}

/// Prepares a new connection: UTC (hourly rollups are UTC hours), the per-connection staging
/// tables, and which layout the schema has.
///
/// A commit must be durable before devices are told to forget their readings, so a server
/// configured with `synchronous_commit = off` (whose crash loses the last transactions it
/// reported committed) is overridden for this session. Stronger settings are left alone.
pub async fn prepare_session(client: &Client) -> Result<Layout, tokio_postgres::Error> {
    let sync: String = client.query_one("SELECT current_setting('synchronous_commit')", &[]).await?.get(0);
    if sync == "off" {
        client.batch_execute("SET synchronous_commit = on").await?;
    }
    client
        .batch_execute(
            "SET TIME ZONE 'UTC';
             CREATE TEMP TABLE IF NOT EXISTS stage_readings (LIKE readings) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE IF NOT EXISTS stage_uplinks (LIKE uplinks) ON COMMIT DELETE ROWS;",
        )
        .await?;
    let timescale: bool =
        client.query_one("SELECT to_regclass('reading_keys') IS NOT NULL", &[]).await?.get(0);
    Ok(if timescale { Layout::Timescale } else { Layout::Plain })
}

/// What every insert does with the readings it inserted (`{new}`: rows with device_id, boot,
/// seq and received_at). The hazard worker is told of exactly those, one inbox row per run of
/// consecutive sequence numbers, never a range over readings stored before or over a gap (a
/// resend or a sparse uplink cannot make it read a whole boot); and they count towards their
/// device's hourly budget.
fn news(new: &str) -> String {
    format!(
        "inbox AS (
    INSERT INTO hazard_inbox (device_id, boot, min_seq, max_seq)
    SELECT device_id, boot, min(seq), max(seq)
    FROM (SELECT device_id, boot, seq, seq - row_number() OVER (PARTITION BY device_id, boot ORDER BY seq) AS run
          FROM {new}) runs
    GROUP BY device_id, boot, run ORDER BY device_id, boot, min(seq)
), intake AS (
    INSERT INTO device_hourly_intake AS h (device_id, hour, readings)
    SELECT device_id, date_trunc('hour', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)
    FROM {new} GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (device_id, hour) DO UPDATE SET readings = h.readings + excluded.readings
)"
    )
}

/// Inserts the staged readings that are new, adds them to the hourly rollups and the news, and
/// returns how many were new.
fn insert_plain() -> String {
    format!(
        "
WITH ins AS (
    INSERT INTO readings SELECT * FROM stage_readings ORDER BY device_id, boot, seq
    ON CONFLICT DO NOTHING
    RETURNING device_id, boot, seq, received_at, sampled_at, temperature_centi_c, rh_centi_pct,
              surface_temperature_centi_c
), hourly AS (
    INSERT INTO readings_hourly_totals AS h
        (device_id, hour, readings, temperature_n, temperature_centi_sum, temperature_centi_min,
         temperature_centi_max, rh_n, rh_centi_sum, rh_centi_min, rh_centi_max,
         surface_temperature_n, surface_temperature_centi_sum)
    SELECT device_id, date_trunc('hour', sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
           count(temperature_centi_c), coalesce(sum(temperature_centi_c), 0),
           min(temperature_centi_c), max(temperature_centi_c),
           count(rh_centi_pct), coalesce(sum(rh_centi_pct), 0), min(rh_centi_pct), max(rh_centi_pct),
           count(surface_temperature_centi_c), coalesce(sum(surface_temperature_centi_c), 0)
    FROM ins GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (device_id, hour) DO UPDATE SET
        readings = h.readings + excluded.readings,
        temperature_n = h.temperature_n + excluded.temperature_n,
        temperature_centi_sum = h.temperature_centi_sum + excluded.temperature_centi_sum,
        temperature_centi_min = least(h.temperature_centi_min, excluded.temperature_centi_min),
        temperature_centi_max = greatest(h.temperature_centi_max, excluded.temperature_centi_max),
        rh_n = h.rh_n + excluded.rh_n,
        rh_centi_sum = h.rh_centi_sum + excluded.rh_centi_sum,
        rh_centi_min = least(h.rh_centi_min, excluded.rh_centi_min),
        rh_centi_max = greatest(h.rh_centi_max, excluded.rh_centi_max),
        surface_temperature_n = h.surface_temperature_n + excluded.surface_temperature_n,
        surface_temperature_centi_sum = h.surface_temperature_centi_sum + excluded.surface_temperature_centi_sum
), {}
SELECT count(*) FROM ins",
        news("ins")
    )
}

/// The TimescaleDB layout: the key table decides what is new (a hypertable cannot hold a unique
/// index without its time column); the continuous aggregate keeps the rollups.
fn insert_timescale() -> String {
    format!(
        "
WITH fresh AS (
    INSERT INTO reading_keys (device_id, boot, seq, received_at)
    SELECT device_id, boot, seq, received_at FROM stage_readings ORDER BY device_id, boot, seq
    ON CONFLICT DO NOTHING
    RETURNING device_id, boot, seq, received_at
), ins AS (
    INSERT INTO readings
    SELECT DISTINCT ON (s.device_id, s.boot, s.seq) s.*
    FROM stage_readings s JOIN fresh f USING (device_id, boot, seq)
    ORDER BY s.device_id, s.boot, s.seq
), {}
SELECT count(*) FROM fresh",
        news("fresh")
    )
}

/// Stores a batch in one transaction, within each device's `limits`. On error nothing is
/// stored and nothing may be acked.
pub async fn store_batch(
    session: &mut Session,
    limits: DeviceLimits,
    accepted: &[&Accepted],
    quarantined: &[&Quarantined],
) -> Result<Outcome, tokio_postgres::Error> {
    let (layout, prepared) = (session.layout, &mut session.prepared);
    let tx = session.client.transaction().await?;
    let mut outcome = Outcome::default();
    let admission::Admission { admitted, refused } =
        admission::admit(&tx, prepared, limits, accepted).await?;
    let accepted = admitted.as_slice();
    let digests: Vec<[u8; 32]> = accepted.iter().map(|a| sha256(&a.uplink.payload)).collect();

    let replayed = store_uplinks(&tx, prepared, accepted, &digests).await?;

    // Readings: binary COPY into staging, then insert what is new.
    let staged: u64 = accepted.iter().map(|a| a.uplink.readings.len() as u64).sum();
    if staged > 0 {
        let copy = prepared.statement(&tx, "COPY stage_readings FROM STDIN BINARY").await?;
        let sink = tx.copy_in(&copy).await?;
        let w = BinaryCopyInWriter::new(sink, READING_COLUMNS);
        pin_mut!(w);
        for (a, d) in accepted.iter().zip(&digests) {
            let u = &a.uplink;
            let from =
                Provenance { device: &u.device, boot: u.boot, received_at: a.received_at, uplink_digest: d };
            for r in &u.readings {
                write_reading(w.as_mut(), &from, r).await?;
            }
        }
        w.finish().await?;
        let sql = match layout {
            Layout::Plain => insert_plain(),
            Layout::Timescale => insert_timescale(),
        };
        let insert = prepared.statement(&tx, &sql).await?;
        let inserted: i64 = tx.query_one(&insert, &[]).await?.get(0);
        outcome.readings_stored = inserted as u64;
        outcome.readings_duplicate = staged.saturating_sub(outcome.readings_stored);
    }

    // Quarantine: refused messages, replays, and uplinks with flagged values (kept for
    // inspection even though their readings were stored).
    let flagged: Vec<Quarantined> = accepted.iter().filter_map(|a| flag(a)).collect();
    let all_q: Vec<&Quarantined> =
        quarantined.iter().copied().chain(&refused).chain(&replayed).chain(&flagged).collect();
    let written = quarantine::quarantine(&tx, prepared, limits.quarantine_per_hour, &all_q).await?;
    (outcome.quarantined, outcome.quarantine_suppressed) = (written.counted, written.suppressed);

    outcome.positions = advance_positions(&tx, prepared, layout, accepted).await?;
    tx.commit().await?;
    Ok(outcome)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Stores each uplink's signed bytes once; returns the uplinks that were already stored (or
/// appear twice in the batch): replays, to quarantine.
async fn store_uplinks(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    accepted: &[&Accepted],
    digests: &[[u8; 32]],
) -> Result<Vec<Quarantined>, tokio_postgres::Error> {
    if accepted.is_empty() {
        return Ok(Vec::new());
    }
    let copy = prepared
        .statement(tx, "COPY stage_uplinks (digest, device_id, key_id, payload, signature, received_at) FROM STDIN BINARY")
        .await?;
    let sink = tx.copy_in(&copy).await?;
    let w = BinaryCopyInWriter::new(
        sink,
        &[Type::BYTEA, Type::TEXT, Type::INT4, Type::BYTEA, Type::BYTEA, Type::TIMESTAMPTZ],
    );
    pin_mut!(w);
    for (a, d) in accepted.iter().zip(digests) {
        let u = &a.uplink;
        let digest: &[u8] = d;
        w.as_mut()
            .write(&[&digest, &u.device, &(u.key_id as i32), &u.payload, &u.signature, &a.received_at])
            .await?;
    }
    w.finish().await?;
    let insert = prepared
        .statement(
            tx,
            "INSERT INTO uplinks SELECT DISTINCT ON (digest) * FROM stage_uplinks ORDER BY digest
             ON CONFLICT (digest) DO NOTHING RETURNING digest",
        )
        .await?;
    let fresh: HashSet<Vec<u8>> = tx.query(&insert, &[]).await?.into_iter().map(|r| r.get(0)).collect();
    let mut seen = HashSet::new();
    let mut replayed = Vec::new();
    for (a, d) in accepted.iter().zip(digests) {
        if !fresh.contains(d.as_slice()) || !seen.insert(d) {
            replayed.push(Quarantined {
                received_at: a.received_at,
                topic: a.topic.clone(),
                raw: a.raw.clone(),
                rejection: Rejection {
                    reason: Reason::Replayed,
                    detail: format!("uplink {} was received before", hex_prefix(d)),
                    device: Some(a.uplink.device.clone()),
                },
            });
        }
    }
    Ok(replayed)
}

/// A copy, for the quarantine, of an accepted uplink whose readings were flagged.
fn flag(a: &Accepted) -> Option<Quarantined> {
    let u = &a.uplink;
    let (reason, n) = if u.out_of_range > 0 {
        (Reason::OutOfRange, u.out_of_range)
    } else if u.time_corrected > 0 {
        (Reason::TimeCorrected, u.time_corrected)
    } else {
        return None;
    };
    Some(Quarantined {
        received_at: a.received_at,
        topic: a.topic.clone(),
        raw: a.raw.clone(),
        rejection: Rejection {
            reason,
            detail: format!("{n} of {} readings flagged {reason}", u.readings.len()),
            device: Some(u.device.clone()),
        },
    })
}

/// Moves each touched device's commit position over every contiguous stored reading, starting
/// from the stored position or the device's floor (below which it holds nothing unconfirmed).
///
/// It reads the keys above the position up to the queue capacity only: the sequence window
/// ([`crate::admission`]) keeps every stored reading beyond a position within that distance, so
/// the range holds every reading that can extend the position, and a boot with millions of
/// readings beyond it (a stolen key's, say) costs no more than any other.
async fn advance_positions(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    layout: Layout,
    accepted: &[&Accepted],
) -> Result<Vec<Position>, tokio_postgres::Error> {
    // One row per (device, boot): the highest floor and drop counters seen in the batch. Sorted,
    // so concurrent collectors lock position rows in the same order.
    let mut touched: BTreeMap<(&str, i64), (&str, i64, i64, i64)> = BTreeMap::new();
    for a in accepted {
        let u = &a.uplink;
        let e = touched.entry((&u.device, u.boot)).or_insert((&u.landlord, 0, 0, 0));
        e.1 = e.1.max(u.floor_seq);
        e.2 = e.2.max(u.dropped_queue_full);
        e.3 = e.3.max(u.dropped_sensor_failed);
    }
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let (mut dev, mut boot, mut floor, mut dq, mut ds) = (vec![], vec![], vec![], vec![], vec![]);
    let mut landlord_of: HashMap<&str, &str> = HashMap::new();
    for ((d, b), (l, f, q, s)) in &touched {
        dev.push(*d);
        boot.push(*b);
        floor.push(*f);
        dq.push(*q);
        ds.push(*s);
        landlord_of.insert(d, l);
    }
    // The readings' keys are in `readings` (plain) or in `reading_keys` (TimescaleDB).
    let keys = match layout {
        Layout::Plain => "readings",
        Layout::Timescale => "reading_keys",
    };
    let sql = format!(
        "WITH touched AS (
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[])
                 AS t(device_id, boot, floor_seq, dq, ds)
         ), start AS (
             SELECT t.device_id, t.boot, t.dq, t.ds,
                    greatest(coalesce(p.committed_seq, 0), t.floor_seq - 1) AS pos
             FROM touched t
             LEFT JOIN device_positions p ON p.device_id = t.device_id AND p.boot = t.boot
         ), advanced AS (
             SELECT s.device_id, s.boot, s.dq, s.ds, s.pos + coalesce((
                 SELECT count(*) FROM (
                     SELECT r.seq - row_number() OVER (ORDER BY r.seq) AS run
                     FROM {keys} r
                     WHERE r.device_id = s.device_id AND r.boot = s.boot
                       AND r.seq > s.pos AND r.seq <= s.pos + $6
                 ) x WHERE x.run = s.pos), 0) AS pos
             FROM start s
         )
         INSERT INTO device_positions AS p
             (device_id, boot, committed_seq, dropped_queue_full, dropped_sensor_failed, updated_at)
         SELECT device_id, boot, pos, dq, ds, now() FROM advanced ORDER BY device_id, boot
         ON CONFLICT (device_id, boot) DO UPDATE SET
             committed_seq = greatest(p.committed_seq, excluded.committed_seq),
             dropped_queue_full = greatest(p.dropped_queue_full, excluded.dropped_queue_full),
             dropped_sensor_failed = greatest(p.dropped_sensor_failed, excluded.dropped_sensor_failed),
             updated_at = now()
         RETURNING device_id, boot, committed_seq"
    );
    let window = DEVICE_QUEUE_CAPACITY as i64;
    let advance = prepared.statement(tx, &sql).await?;
    let rows = tx.query(&advance, &[&dev, &boot, &floor, &dq, &ds, &window]).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let device: String = r.get(0);
            let landlord = landlord_of.get(device.as_str()).copied().unwrap_or_default().to_owned();
            Position { landlord, device, boot: r.get(1), committed_seq: r.get(2) }
        })
        .collect())
}

fn hex_prefix(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
