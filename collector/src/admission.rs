//! Admission: the per-device limits that need the database's view, applied to a batch's checked
//! uplinks inside its transaction, before anything of them is stored. They keep one device
//! (one whose signing key was stolen, say) from slowing down or crowding out all the others.
//!
//! - **The sequence window.** A device holds at most `DEVICE_QUEUE_CAPACITY` unconfirmed
//!   readings, numbered consecutively from its uplink's `floor_seq` (the checks refuse a reading
//!   below it). So it never sends a reading numbered beyond the position the commit starts from
//!   (the stored commit position or `floor_seq - 1`, whichever is higher) plus that capacity.
//!   An uplink that does is refused whole (`seq_outside_window`). What this buys: every stored
//!   reading of a boot beyond its commit position lies within the capacity of it, so moving the
//!   position reads at most that many index entries ([`crate::store`]), however many readings
//!   the boot has.
//! - **The hourly budget.** Readings per device and hour of arrival, all boots together (a
//!   device numbers its boots itself). An uplink that would take the device's hour past the
//!   budget is refused whole (`over_budget`). Within a batch every reading of an admitted uplink
//!   counts, since which are new is known only once they are stored; what is kept in
//!   `device_hourly_intake` is what was stored. Collectors sharing the load may each admit one
//!   batch over the budget before they see each other's counts.
//!
//! A refused uplink is quarantined; its message is acknowledged to the broker once that is
//! committed, and its readings never move the device's commit position. A real device, which
//! never reaches these limits, would therefore keep every reading of it and send it again: the
//! delivery guarantee holds.

use crate::checks::Rejection;
use crate::reject::Reason;
use crate::store::{Accepted, Quarantined};
use chrono::{DateTime, Utc};
use dampwatch_store::Prepared;
use dampwatch_wire::limits::DEVICE_QUEUE_CAPACITY;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

/// How much one device may take (`[intake]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Readings stored per device and hour of arrival.
    pub readings_per_hour: u32,
    /// Quarantine rows kept per device and hour of arrival (see [`crate::quarantine`]).
    pub quarantine_per_hour: u32,
}

/// A batch's uplinks after admission.
pub struct Admission<'a> {
    pub admitted: Vec<&'a Accepted>,
    pub refused: Vec<Quarantined>,
}

/// The UTC hour an arrival time falls in (as `date_trunc('hour', …)` in UTC).
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let s = t.timestamp();
    DateTime::from_timestamp(s - s.rem_euclid(3600), 0).unwrap_or(t)
}

/// Splits `accepted` into what may be stored and what is refused, in arrival order.
pub async fn admit<'a>(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    limits: DeviceLimits,
    accepted: &[&'a Accepted],
) -> Result<Admission<'a>, tokio_postgres::Error> {
    if accepted.is_empty() {
        return Ok(Admission { admitted: Vec::new(), refused: Vec::new() });
    }
    let devices: Vec<&str> = accepted.iter().map(|a| a.uplink.device.as_str()).collect();
    let boots: Vec<i64> = accepted.iter().map(|a| a.uplink.boot).collect();
    let hours: Vec<DateTime<Utc>> = accepted.iter().map(|a| hour_of(a.received_at)).collect();
    let (by_boot, by_hour): ([&(dyn ToSql + Sync); 2], [&(dyn ToSql + Sync); 2]) =
        ([&devices, &boots], [&devices, &hours]);
    let positions_of = prepared
        .statement(
            tx,
            "SELECT DISTINCT p.device_id, p.boot, p.committed_seq
             FROM unnest($1::text[], $2::int8[]) AS t (device_id, boot)
             JOIN device_positions p ON p.device_id = t.device_id AND p.boot = t.boot",
        )
        .await?;
    let used_of = prepared
        .statement(
            tx,
            "SELECT DISTINCT h.device_id, h.hour, h.readings
             FROM unnest($1::text[], $2::timestamptz[]) AS t (device_id, hour)
             JOIN device_hourly_intake h ON h.device_id = t.device_id AND h.hour = t.hour",
        )
        .await?;
    // Both in one round trip (the client pipelines them); each reads one index entry per key.
    let (positions, used) =
        tokio::try_join!(tx.query(&positions_of, &by_boot), tx.query(&used_of, &by_hour))?;
    let committed: HashMap<(String, i64), i64> =
        positions.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect();
    let mut tally: HashMap<(String, DateTime<Utc>), i64> =
        used.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect();

    let mut out = Admission { admitted: Vec::with_capacity(accepted.len()), refused: Vec::new() };
    for (a, hour) in accepted.iter().zip(hours) {
        let u = &a.uplink;
        let position = committed.get(&(u.device.clone(), u.boot)).copied().unwrap_or(0);
        let start = position.max(u.floor_seq - 1);
        let limit = start + DEVICE_QUEUE_CAPACITY as i64;
        if let Some(last) = u.readings.last().filter(|r| r.seq > limit) {
            out.refused.push(refuse(
                a,
                Reason::SeqOutsideWindow,
                format!(
                    "reading {} is beyond {limit}: no device holds more than {DEVICE_QUEUE_CAPACITY} readings \
                     above its commit position {position} or its floor {}",
                    last.seq, u.floor_seq
                ),
            ));
            continue;
        }
        let used = tally.entry((u.device.clone(), hour)).or_insert(0);
        let n = u.readings.len() as i64;
        if *used + n > i64::from(limits.readings_per_hour) {
            out.refused.push(refuse(
                a,
                Reason::OverBudget,
                format!(
                    "{n} readings on top of {used} this hour would pass the budget of {} per device and hour",
                    limits.readings_per_hour
                ),
            ));
            continue;
        }
        *used += n;
        out.admitted.push(a);
    }
    Ok(out)
}

fn refuse(a: &Accepted, reason: Reason, detail: String) -> Quarantined {
    tracing::warn!(%reason, %detail, topic = %a.topic, "uplink refused");
    Quarantined {
        received_at: a.received_at,
        topic: a.topic.clone(),
        raw: a.raw.clone(),
        rejection: Rejection { reason, detail, device: Some(a.uplink.device.clone()) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hours_are_utc_hours() {
        let t = Utc.with_ymd_and_hms(2026, 3, 29, 1, 59, 59).unwrap();
        assert_eq!(hour_of(t), Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
        assert_eq!(hour_of(hour_of(t)), hour_of(t));
    }
}
