//! A registered sensor, as its landlord sees it (read-only: operators admit and revoke
//! devices through provisioning).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};
use utoipa::ToSchema;

use super::{load, room, text_enum, Room};

text_enum! {
    /// Whether the device may still send.
    pub enum DeviceStatus {
        Active = "active",
        Revoked = "revoked",
    }
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Device {
    pub id: String,
    /// Where its readings are watched: its room, or itself when it is placed in none.
    pub room: Room,
    pub status: DeviceStatus,
    /// Which of the device's signing keys is current.
    #[schema(minimum = 1)]
    pub key_id: i32,
    /// The Ed25519 public key its readings are verified with (hex).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub signing_public_key: String,
    #[schema(required = true)]
    pub cert_serial: Option<String>,
    pub provisioned_at: DateTime<Utc>,
    #[schema(required = true)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which devices to list: by id, all filters optional.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter<'a> {
    pub status: Option<DeviceStatus>,
    /// Only the devices placed in this room.
    pub room_id: Option<i64>,
    /// Only ids after this (the page cursor).
    pub after: Option<&'a str>,
    pub limit: i64,
}

fn read(row: &Row) -> Result<Device, tokio_postgres::Error> {
    Ok(Device {
        id: row.try_get(0)?,
        room: room(row, 1)?,
        status: row.try_get(8)?,
        key_id: row.try_get(9)?,
        signing_public_key: row.try_get(10)?,
        cert_serial: row.try_get(11)?,
        provisioned_at: row.try_get(12)?,
        revoked_at: row.try_get(13)?,
    })
}

/// Devices by id.
pub async fn list<C>(client: &C, filter: &DeviceFilter<'_>) -> Result<Vec<Device>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    // A device placed in no room is watched as its own room (`device:<id>`), as its alerts say.
    let status = filter.status.map(DeviceStatus::as_str);
    load(
        client,
        "SELECT t.id,
                CASE WHEN t.room_id IS NULL THEN 'device:' || t.id ELSE 'room:' || t.room_id END,
                t.room_id, r.name, d.id, d.reference, d.address,
                CASE WHEN t.room_id IS NULL THEN t.id END,
                t.status, t.key_id, encode(t.signing_public_key, 'hex'), t.cert_serial, t.provisioned_at,
                t.revoked_at
         FROM devices t LEFT JOIN rooms r ON r.id = t.room_id LEFT JOIN dwellings d ON d.id = r.dwelling_id
         WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.id > $2)
           AND ($4::int8 IS NULL OR t.room_id = $4)
         ORDER BY t.id LIMIT $3",
        &[&status, &filter.after, &filter.limit, &filter.room_id],
        read,
    )
    .await
}
