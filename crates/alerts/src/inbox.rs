//! The hazard inbox: ranges of committed readings the collector wrote in the same
//! transaction as the readings. Taking rows deletes them inside the caller's transaction, so
//! they are consumed exactly once: on commit with everything they caused, or not at all.

use std::collections::BTreeMap;

use dampwatch_store::Prepared;
use tokio_postgres::Transaction;

use crate::error::AlertsError;
use crate::room::{RoomRef, StoredReading};

/// One inbox row: readings `min_seq..=max_seq` of a device's boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRange {
    pub id: i64,
    pub device_id: String,
    pub boot: i64,
    pub min_seq: i64,
    pub max_seq: i64,
}

/// Deletes up to `limit` inbox rows, oldest first, skipping rows another worker holds; then
/// also takes every row of the same devices older than the newest one it took, waiting for a
/// worker that holds one to finish. So a device's readings are folded in commit order even
/// with several workers: a worker that took a newer range waits for the one folding an older
/// range (and takes the older range itself if that worker rolled back). Below the newest, not
/// the oldest: another worker may hold a range between two this one took.
pub async fn take(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    limit: i64,
) -> Result<Vec<InboxRange>, AlertsError> {
    // Every inbox row is deleted soon after it is written, so the inbox's indexes hold entries
    // of dead rows until autovacuum next comes (once a minute at most by default, every ten
    // seconds in Dampwatch's own cluster: a hundred or more per device at a few thousand uplinks
    // a second and a minute). A plain index scan marks an entry whose row is dead to every
    // transaction, and later scans step over it without reading the row; a bitmap scan cannot
    // mark entries, so each probe below read the heap page of every dead row of its device
    // again, a cost that grew with the time since the last vacuum (measured on a copy of such an
    // inbox: 500 devices' probes read 74,000 pages, 21 ms, as a bitmap scan; 2,200 pages, 2 ms,
    // as an index scan once it had marked them). Only for these statements: `SET LOCAL` ends
    // with the transaction, and the reset below ends it for the rest of it. The two settings
    // cost a round trip each per unit of work, not per reading.
    tx.batch_execute("SET LOCAL enable_bitmapscan = off").await?;
    let oldest = prepared
        .statement(
            tx,
            // `= ANY(ARRAY(…))` rather than `IN (…)`: the inbox churns faster than its
            // statistics, and `IN` let the planner hash-join a scan of the whole backlog.
            "DELETE FROM hazard_inbox WHERE id = ANY(ARRAY(
                 SELECT id FROM hazard_inbox ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $1))
             RETURNING id, device_id, boot, min_seq, max_seq",
        )
        .await?;
    let rows = tx.query(&oldest, &[&limit]).await?;
    let mut ranges: Vec<InboxRange> = rows.iter().map(range).collect();
    let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
    for r in &ranges {
        let e = newest.entry(r.device_id.as_str()).or_insert(r.id);
        *e = (*e).max(r.id);
    }
    if !newest.is_empty() {
        let devices: Vec<&str> = newest.keys().copied().collect();
        let below: Vec<i64> = newest.values().copied().collect();
        let older_of = prepared
            .statement(
                tx,
                // Per device, through its index (device_id, id): usually there is nothing
                // older, and finding that must not cost a scan of the backlog. The rows this
                // transaction took above are already deleted for it, so only rows another
                // worker holds are waited for. Two workers can still wait on each other
                // (each holding an older row of the other's device): PostgreSQL then aborts
                // one, which rolls back and takes its rows again (`worker.rs`).
                "DELETE FROM hazard_inbox WHERE id = ANY(ARRAY(
                     SELECT o.id FROM unnest($1::text[], $2::int8[]) AS c (device_id, below)
                     CROSS JOIN LATERAL (
                         SELECT h.id FROM hazard_inbox h
                         WHERE h.device_id = c.device_id AND h.id < c.below
                         ORDER BY h.id FOR UPDATE) o))
                 RETURNING id, device_id, boot, min_seq, max_seq",
            )
            .await?;
        let older = tx.query(&older_of, &[&devices, &below]).await?;
        ranges.extend(older.iter().map(range));
    }
    tx.batch_execute("SET LOCAL enable_bitmapscan TO DEFAULT").await?;
    ranges.sort_by_key(|r| r.id);
    Ok(ranges)
}

fn range(r: &tokio_postgres::Row) -> InboxRange {
    InboxRange { id: r.get(0), device_id: r.get(1), boot: r.get(2), min_seq: r.get(3), max_seq: r.get(4) }
}

/// The stored readings of `ranges` with their device's landlord and room, in sample-time
/// order. A reading named by two ranges comes twice (the engine drops the repeat).
pub async fn readings(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    ranges: &[InboxRange],
) -> Result<Vec<StoredReading>, AlertsError> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let devices: Vec<&str> = ranges.iter().map(|r| r.device_id.as_str()).collect();
    let boots: Vec<i64> = ranges.iter().map(|r| r.boot).collect();
    let lows: Vec<i64> = ranges.iter().map(|r| r.min_seq).collect();
    let highs: Vec<i64> = ranges.iter().map(|r| r.max_seq).collect();
    let select = prepared
        .statement(
            tx,
            // A device placed in another landlord's room (a registry mistake) is kept out of
            // that room: it counts as its own room, so no landlord sees another's readings.
            "SELECT r.device_id, d.landlord_id, CASE WHEN w.landlord_id = d.landlord_id THEN d.room_id END,
                    r.sampled_at, r.temperature_centi_c, r.rh_centi_pct, r.surface_temperature_centi_c, r.co2_ppm, r.status
             FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[]) AS q (device_id, boot, lo, hi)
             JOIN readings r ON r.device_id = q.device_id AND r.boot = q.boot AND r.seq BETWEEN q.lo AND q.hi
             JOIN devices d ON d.id = r.device_id
             LEFT JOIN rooms m ON m.id = d.room_id
             LEFT JOIN dwellings w ON w.id = m.dwelling_id
             ORDER BY r.sampled_at, r.device_id, r.boot, r.seq",
        )
        .await?;
    let rows = tx.query(&select, &[&devices, &boots, &lows, &highs]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let device_id: String = r.get(0);
            StoredReading {
                room: RoomRef::of(r.get(2), &device_id),
                device_id,
                landlord_id: r.get(1),
                sampled_at: r.get(3),
                temperature_centi_c: r.get(4),
                rh_centi_pct: r.get(5),
                surface_temperature_centi_c: r.get(6),
                co2_ppm: r.get(7),
                status: r.get(8),
            }
        })
        .collect())
}
