//! The quarantine: refused messages (and copies of uplinks with flagged readings) kept with
//! their reason and raw bytes for inspection, in `rejected_messages`.
//!
//! Each device has a quota of rows per hour of arrival, so that one device cannot fill the
//! table (a stolen key can send validly signed nonsense as fast as the gateway lets it). A
//! message past its device's quota leaves no row, but it is still counted: by reason in the
//! metrics (`quarantine_suppressed_total`), and per device and hour in `device_hourly_intake`,
//! which `dampwatch devices list` shows. Messages whose topic named no device share one quota.
//! Collectors sharing the load may each write one batch past the quota before they see each
//! other's counts.

use crate::admission::hour_of;
use crate::reject::Reason;
use crate::store::Quarantined;
use chrono::{DateTime, Utc};
use dampwatch_store::Prepared;
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::Transaction;

/// What [`quarantine`] did, by reason.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    /// Every message counted (with a row or not).
    pub counted: Vec<(Reason, u64)>,
    /// Those past their device's quota, which have no row.
    pub suppressed: Vec<(Reason, u64)>,
}

/// Per device and hour: rows written, rows suppressed, the last reason.
#[derive(Default)]
struct HourCount<'a> {
    written: i64,
    suppressed: i64,
    last_reason: Option<&'a str>,
}

/// Writes the quarantine rows `rows` allows within each device's hourly `quota`.
pub async fn quarantine(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    quota: u32,
    rows: &[&Quarantined],
) -> Result<Written, tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok(Written::default());
    }
    let key = |q: &Quarantined| (q.rejection.device.clone().unwrap_or_default(), hour_of(q.received_at));
    let keys: Vec<(String, DateTime<Utc>)> = rows.iter().map(|q| key(q)).collect();
    let devices: Vec<&str> = keys.iter().map(|(d, _)| d.as_str()).collect();
    let hours: Vec<DateTime<Utc>> = keys.iter().map(|(_, h)| *h).collect();
    let counts = prepared
        .statement(
            tx,
            "SELECT DISTINCT h.device_id, h.hour, h.quarantined
             FROM unnest($1::text[], $2::timestamptz[]) AS t (device_id, hour)
             JOIN device_hourly_intake h ON h.device_id = t.device_id AND h.hour = t.hour",
        )
        .await?;
    let before: HashMap<(String, DateTime<Utc>), i64> = tx
        .query(&counts, &[&devices, &hours])
        .await?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();

    let mut counted: HashMap<Reason, u64> = HashMap::new();
    let mut suppressed: HashMap<Reason, u64> = HashMap::new();
    // Sorted, so concurrent collectors lock the counter rows in the same order.
    let mut hours_seen: BTreeMap<&(String, DateTime<Utc>), HourCount> = BTreeMap::new();
    let (mut at, mut reason, mut detail, mut topic, mut device, mut raw) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for (q, k) in rows.iter().zip(&keys) {
        let r = q.rejection.reason;
        *counted.entry(r).or_default() += 1;
        let c = hours_seen.entry(k).or_default();
        c.last_reason = Some(r.as_str());
        if before.get(k).copied().unwrap_or(0) + c.written >= i64::from(quota) {
            c.suppressed += 1;
            *suppressed.entry(r).or_default() += 1;
            continue;
        }
        c.written += 1;
        at.push(q.received_at);
        reason.push(r.as_str());
        // PostgreSQL text cannot hold NUL; the raw bytes keep the original.
        detail.push(q.rejection.detail.replace('\0', "\u{FFFD}"));
        topic.push(q.topic.replace('\0', "\u{FFFD}"));
        device.push(q.rejection.device.as_ref().map(|d| d.replace('\0', "\u{FFFD}")));
        raw.push(q.raw.as_slice());
    }
    if !at.is_empty() {
        tx.execute(
            "INSERT INTO rejected_messages (received_at, reason, detail, topic, device_id, raw)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])",
            &[&at, &reason, &detail, &topic, &device, &raw],
        )
        .await?;
    }
    let (mut d, mut h, mut w, mut s, mut last) = (vec![], vec![], vec![], vec![], vec![]);
    for ((dev, hour), c) in &hours_seen {
        d.push(dev.as_str());
        h.push(*hour);
        w.push(c.written);
        s.push(c.suppressed);
        last.push(c.last_reason);
    }
    let add = prepared
        .statement(
            tx,
            "INSERT INTO device_hourly_intake AS h (device_id, hour, quarantined, suppressed, last_reason)
             SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int8[], $4::int8[], $5::text[])
             ON CONFLICT (device_id, hour) DO UPDATE SET
                 quarantined = h.quarantined + excluded.quarantined,
                 suppressed = h.suppressed + excluded.suppressed,
                 last_reason = excluded.last_reason",
        )
        .await?;
    tx.execute(&add, &[&d, &h, &w, &s, &last]).await?;
    Ok(Written { counted: counted.into_iter().collect(), suppressed: suppressed.into_iter().collect() })
}
