//! A room's stored readings after a time, from every sensor in the room: what a replay folds
//! again to place late readings in time order.

use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;

use crate::error::AlertsError;
use crate::room::{RoomRef, StoredReading};

/// The stored readings of `room` sampled after `after` (all of them for `None`), in sample-time
/// order. A room's sensors are the devices placed in it now (a device placed in another
/// landlord's room is its own room, as when its readings arrive); a device without a room is
/// its own room.
pub async fn after(
    tx: &Transaction<'_>,
    room: &RoomRef,
    landlord_id: &str,
    after: Option<DateTime<Utc>>,
) -> Result<Vec<StoredReading>, AlertsError> {
    let rows = tx
        .query(
            "WITH sensors AS (
                 SELECT d.id FROM devices d
                 JOIN rooms m ON m.id = d.room_id
                 JOIN dwellings w ON w.id = m.dwelling_id AND w.landlord_id = d.landlord_id
                 WHERE d.room_id = $1
                 UNION
                 SELECT $2::text WHERE $2::text IS NOT NULL)
             SELECT r.device_id, r.sampled_at, r.temperature_centi_c, r.rh_centi_pct, r.surface_temperature_centi_c, r.co2_ppm,
                    r.status
             FROM readings r
             WHERE r.device_id IN (SELECT id FROM sensors)
               AND r.sampled_at > coalesce($3::timestamptz, '-infinity')
             ORDER BY r.sampled_at, r.device_id, r.boot, r.seq",
            &[&room.room_id(), &room.device_id(), &after],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredReading {
            device_id: r.get(0),
            landlord_id: landlord_id.to_owned(),
            room: room.clone(),
            sampled_at: r.get(1),
            temperature_centi_c: r.get(2),
            rh_centi_pct: r.get(3),
            surface_temperature_centi_c: r.get(4),
            co2_ppm: r.get(5),
            status: r.get(6),
        })
        .collect())
}
