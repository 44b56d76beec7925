//! Writing one batch in one transaction: uplinks (the evidence), readings (binary COPY through
//! a staging table, then an idempotent insert, so a redelivered uplink inserts nothing),
//! quarantined messages, and the devices' commit positions.
//!
//! Nothing here acknowledges anything: the caller acks MQTT and tells devices their position
//! only after `store_batch` returned Ok, i.e. after COMMIT.

use crate::checks::{CheckedUplink, Rejection};
use crate::reject::Reason;
use chrono::{DateTime, Utc};
use futures_util::pin_mut;
use ring::digest::{digest, SHA256};
use std::collections::{HashMap, HashSet};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

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

/// What a committed batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub readings_stored: u64,
    pub readings_duplicate: u64,
    /// Quarantine rows written, by reason.
    pub quarantined: Vec<(Reason, u64)>,
    /// (landlord, device, boot, committed_seq) of every device in the batch.
    pub positions: Vec<(String, String, i64, i64)>,
}

/// Creates the per-connection staging tables (once per connection).
pub async fn prepare_session(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_readings (LIKE readings) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE IF NOT EXISTS stage_uplinks (LIKE uplinks) ON COMMIT DELETE ROWS;",
        )
        .await
}

const READING_COLUMNS: &[Type] = &[
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::BOOL,
    Type::TIMESTAMPTZ,
    Type::FLOAT4,
    Type::FLOAT4,
    Type::FLOAT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::BYTEA,
];

/// Stores a batch in one transaction. On error nothing is stored and nothing may be acked.
pub async fn store_batch(
    client: &mut Client,
    accepted: &[Accepted],
    quarantined: &[Quarantined],
) -> Result<Outcome, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let mut outcome = Outcome::default();
    let digests: Vec<Vec<u8>> =
        accepted.iter().map(|a| digest(&SHA256, &a.uplink.payload).as_ref().to_vec()).collect();

    // Uplinks: the signed bytes, once each. Those already present are replays.
    let mut replayed: Vec<Quarantined> = Vec::new();
    if !accepted.is_empty() {
        let sink = tx
            .copy_in("COPY stage_uplinks (digest, device_id, key_id, payload, signature, received_at) FROM STDIN BINARY")
            .await?;
        let w = BinaryCopyInWriter::new(
            sink,
            &[Type::BYTEA, Type::TEXT, Type::INT4, Type::BYTEA, Type::BYTEA, Type::TIMESTAMPTZ],
        );
        pin_mut!(w);
        for (a, d) in accepted.iter().zip(&digests) {
            let u = &a.uplink;
            w.as_mut()
                .write(&[d, &u.device, &(u.key_id as i32), &u.payload, &u.signature, &a.received_at])
                .await?;
        }
        w.finish().await?;
        let fresh: HashSet<Vec<u8>> = tx
            .query(
                "INSERT INTO uplinks SELECT DISTINCT ON (digest) * FROM stage_uplinks
                 ON CONFLICT (digest) DO NOTHING RETURNING digest",
                &[],
            )
            .await?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        let mut seen = HashSet::new();
        for (a, d) in accepted.iter().zip(&digests) {
            if !fresh.contains(d) || !seen.insert(d) {
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
    }

    // Readings: binary COPY into staging, then insert what is new.
    let staged: u64 = accepted.iter().map(|a| a.uplink.readings.len() as u64).sum();
    if staged > 0 {
        let sink = tx.copy_in("COPY stage_readings FROM STDIN BINARY").await?;
        let w = BinaryCopyInWriter::new(sink, READING_COLUMNS);
        pin_mut!(w);
        for (a, d) in accepted.iter().zip(&digests) {
            let u = &a.uplink;
            for r in &u.readings {
                w.as_mut()
                    .write(&[
                        &u.device,
                        &u.boot,
                        &r.seq,
                        &r.sampled_at,
                        &r.device_time,
                        &r.time_corrected,
                        &a.received_at,
                        &r.temperature_c,
                        &r.rh_pct,
                        &r.surface_temperature_c,
                        &r.co2_ppm,
                        &r.battery_mv,
                        &r.status,
                        d,
                    ])
                    .await?;
            }
        }
        w.finish().await?;
        outcome.readings_stored = tx
            .execute("INSERT INTO readings SELECT * FROM stage_readings ON CONFLICT DO NOTHING", &[])
            .await?;
        outcome.readings_duplicate = staged - outcome.readings_stored;
    }

    // Quarantine: refused messages, replays, and uplinks with flagged values (kept for
    // inspection even though their readings were stored).
    let flagged = accepted.iter().filter_map(|a| {
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
    });
    let all_q: Vec<Quarantined> = quarantined.iter().cloned().chain(replayed).chain(flagged).collect();
    if !all_q.is_empty() {
        let mut by_reason: HashMap<Reason, u64> = HashMap::new();
        let (mut at, mut reason, mut detail, mut topic, mut device, mut raw) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for q in &all_q {
            *by_reason.entry(q.rejection.reason).or_default() += 1;
            at.push(q.received_at);
            reason.push(q.rejection.reason.as_str());
            detail.push(q.rejection.detail.as_str());
            topic.push(q.topic.as_str());
            device.push(q.rejection.device.as_deref());
            raw.push(q.raw.as_slice());
        }
        tx.execute(
            "INSERT INTO rejected_messages (received_at, reason, detail, topic, device_id, raw)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])",
            &[&at, &reason, &detail, &topic, &device, &raw],
        )
        .await?;
        outcome.quarantined = by_reason.into_iter().collect();
    }

    enqueue_for_hazards(&tx, accepted).await?;
    outcome.positions = advance_positions(&tx, accepted).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Tells the hazard engine which readings this transaction stored (the inbox is the
/// engine's transactional outbox: it sees exactly the committed readings). Rows already stored
/// before (duplicates) are harmless: the engine treats a reading it has seen as a duplicate.
async fn enqueue_for_hazards(
    tx: &tokio_postgres::Transaction<'_>,
    accepted: &[Accepted],
) -> Result<(), tokio_postgres::Error> {
    let mut ranges: HashMap<(&str, i64), (i64, i64)> = HashMap::new();
    for a in accepted {
        let u = &a.uplink;
        let (Some(first), Some(last)) = (u.readings.first(), u.readings.last()) else { continue };
        let e = ranges.entry((&u.device, u.boot)).or_insert((first.seq, last.seq));
        e.0 = e.0.min(first.seq);
        e.1 = e.1.max(last.seq);
    }
    if ranges.is_empty() {
        return Ok(());
    }
    let (mut dev, mut boot, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
    for ((d, b), (l, h)) in ranges {
        dev.push(d);
        boot.push(b);
        lo.push(l);
        hi.push(h);
    }
    tx.execute(
        "INSERT INTO hazard_inbox (device_id, boot, min_seq, max_seq)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[])",
        &[&dev, &boot, &lo, &hi],
    )
    .await?;
    Ok(())
}

/// Moves each touched device's commit position over every contiguous stored reading, starting
/// from the stored position or the device's floor (below which it holds nothing unconfirmed).
async fn advance_positions(
    tx: &tokio_postgres::Transaction<'_>,
    accepted: &[Accepted],
) -> Result<Vec<(String, String, i64, i64)>, tokio_postgres::Error> {
    // One row per (device, boot): the highest floor and drop counters seen in the batch.
    let mut touched: HashMap<(&str, i64), (&str, i64, i64, i64)> = HashMap::new();
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
    let rows = tx
        .query(
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
                         FROM readings r
                         WHERE r.device_id = s.device_id AND r.boot = s.boot AND r.seq > s.pos
                     ) x WHERE x.run = s.pos), 0) AS pos
                 FROM start s
             )
             INSERT INTO device_positions AS p
                 (device_id, boot, committed_seq, dropped_queue_full, dropped_sensor_failed, updated_at)
             SELECT device_id, boot, pos, dq, ds, now() FROM advanced
             ON CONFLICT (device_id, boot) DO UPDATE SET
                 committed_seq = greatest(p.committed_seq, excluded.committed_seq),
                 dropped_queue_full = greatest(p.dropped_queue_full, excluded.dropped_queue_full),
                 dropped_sensor_failed = greatest(p.dropped_sensor_failed, excluded.dropped_sensor_failed),
                 updated_at = now()
             RETURNING device_id, boot, committed_seq",
            &[&dev, &boot, &floor, &dq, &ds],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let d: String = r.get(0);
            let l = landlord_of.get(d.as_str()).copied().unwrap_or_default().to_owned();
            (l, d, r.get(1), r.get(2))
        })
        .collect())
}

fn hex_prefix(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
