//! The device registry in PostgreSQL: landlords, dwellings, rooms and devices with their
//! signing keys. The collector reads it (cached) to check uplinks; the `dampwatch devices`
//! commands and the simulator's provisioning write it.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio_postgres::GenericClient;

/// What the collector checks an uplink against: the registry's entry of its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    pub landlord: String,
    pub key_id: u32,
    pub public_key: Vec<u8>,
    pub active: bool,
    pub provisioned_at: DateTime<Utc>,
}

/// A device to register.
#[derive(Debug, Clone)]
pub struct NewDevice<'a> {
    pub id: &'a str,
    pub landlord: &'a str,
    pub public_key: &'a [u8],
    pub key_id: u32,
    pub cert_serial: Option<String>,
    /// When the device was installed; readings dated earlier are corrected. `None` = now.
    pub provisioned_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("device {0} is already registered; revoke or move it instead")]
    DeviceExists(String),
    #[error("device {0} is not registered")]
    UnknownDevice(String),
    #[error("invalid id: {0}")]
    InvalidId(String),
    #[error("signing public key must be 32 bytes, got {0}")]
    BadKey(usize),
    #[error(
        "signing public key {0} is not an Ed25519 key of prime order (of small or mixed order, or no \
         point); a key made from a random seed, as RFC 8032 makes it, always is"
    )]
    KeyNotPrimeOrder(String),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
}

/// Creates the landlord if it does not exist.
pub async fn ensure_landlord(db: &impl GenericClient, id: &str, name: &str) -> Result<(), RegistryError> {
    dampwatch_wire::validate_landlord_id(id)
        .map_err(|e| RegistryError::InvalidId(format!("landlord {id:?} {e}")))?;
    db.execute("INSERT INTO landlords (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", &[&id, &name])
        .await?;
    Ok(())
}

/// Registers a device (and its landlord, if new).
pub async fn add_device(db: &impl GenericClient, d: &NewDevice<'_>) -> Result<(), RegistryError> {
    dampwatch_wire::validate_device_id(d.id)
        .map_err(|e| RegistryError::InvalidId(format!("device {:?} {e}", d.id)))?;
    let Ok(key) = <&[u8; 32]>::try_from(d.public_key) else {
        return Err(RegistryError::BadKey(d.public_key.len()));
    };
    // Under a key not of prime order the collector's verifier and the firmware's could
    // disagree, and anyone can sign for a key of small order (`dampwatch_wire::public_key`).
    if !dampwatch_wire::public_key::is_prime_order(key) {
        return Err(RegistryError::KeyNotPrimeOrder(hex::encode(key)));
    }
    ensure_landlord(db, d.landlord, "").await?;
    let n = db
        .execute(
            "INSERT INTO devices (id, landlord_id, signing_public_key, key_id, cert_serial, provisioned_at)
             VALUES ($1, $2, $3, $4, $5, coalesce($6, now())) ON CONFLICT (id) DO NOTHING",
            &[&d.id, &d.landlord, &d.public_key, &(d.key_id as i32), &d.cert_serial, &d.provisioned_at],
        )
        .await?;
    if n == 0 {
        return Err(RegistryError::DeviceExists(d.id.to_owned()));
    }
    Ok(())
}

/// Marks a device revoked: its uplinks are refused from then on.
pub async fn revoke_device(db: &impl GenericClient, id: &str) -> Result<(), RegistryError> {
    let n = db
        .execute(
            "UPDATE devices SET status = 'revoked', revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
            &[&id],
        )
        .await?;
    if n == 0 {
        return Err(RegistryError::UnknownDevice(id.to_owned()));
    }
    Ok(())
}

/// Registry entries of the given devices (absent ids are not in the map).
pub async fn lookup(
    db: &impl GenericClient,
    ids: &[&str],
) -> Result<HashMap<String, DeviceEntry>, tokio_postgres::Error> {
    let rows = db
        .query(
            "SELECT id, landlord_id, key_id, signing_public_key, status = 'active', provisioned_at
             FROM devices WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let entry = DeviceEntry {
                landlord: r.get(1),
                key_id: r.get::<_, i32>(2) as u32,
                public_key: r.get(3),
                active: r.get(4),
                provisioned_at: r.get(5),
            };
            (r.get::<_, String>(0), entry)
        })
        .collect())
}

/// Where a device is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub dwelling_id: i64,
    pub dwelling: String,
    pub room_id: i64,
    pub room: String,
}

/// Places a device in a room of one of its landlord's dwellings, creating the dwelling (by its
/// reference) and the room (by name) if they do not exist yet. `address` is set on a dwelling
/// created here, or updated when given for an existing one.
pub async fn place_device(
    db: &impl GenericClient,
    device: &str,
    dwelling: &str,
    room: &str,
    address: Option<&str>,
) -> Result<Placement, RegistryError> {
    if dwelling.trim().is_empty() || room.trim().is_empty() {
        return Err(RegistryError::InvalidId("dwelling reference and room name must not be empty".into()));
    }
    let Some(row) = db.query_opt("SELECT landlord_id FROM devices WHERE id = $1", &[&device]).await? else {
        return Err(RegistryError::UnknownDevice(device.to_owned()));
    };
    let landlord: String = row.get(0);
    let dwelling_id: i64 = db
        .query_one(
            "INSERT INTO dwellings (landlord_id, reference, address) VALUES ($1, $2, coalesce($3, ''))
             ON CONFLICT (landlord_id, reference) DO UPDATE SET address = coalesce($3, dwellings.address)
             RETURNING id",
            &[&landlord, &dwelling, &address],
        )
        .await?
        .get(0);
    let room_id: i64 = db
        .query_one(
            "INSERT INTO rooms (dwelling_id, name) VALUES ($1, $2)
             ON CONFLICT (dwelling_id, name) DO UPDATE SET name = excluded.name
             RETURNING id",
            &[&dwelling_id, &room],
        )
        .await?
        .get(0);
    db.execute("UPDATE devices SET room_id = $2 WHERE id = $1", &[&device, &room_id]).await?;
    Ok(Placement { dwelling_id, dwelling: dwelling.to_owned(), room_id, room: room.to_owned() })
}

/// One device as `dampwatch devices list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSummary {
    pub id: String,
    pub landlord: String,
    pub status: String,
    pub dwelling: Option<String>,
    pub room: Option<String>,
    pub cert_serial: Option<String>,
    /// Sample time of the newest stored reading.
    pub last_reading: Option<DateTime<Utc>>,
    /// The latest boot's commit position: (boot, seq).
    pub position: Option<(i64, i64)>,
    /// Readings the device reported dropping (queue full, sensor failed), latest boot.
    pub dropped_queue_full: i64,
    pub dropped_sensor_failed: i64,
    /// Its messages quarantined in the last 24 hours (by the hour), with a row or past its quota.
    pub quarantined_24h: i64,
    /// The reason of the latest of them.
    pub last_quarantine_reason: Option<String>,
}

/// Every device (of one landlord, if given), ordered by landlord and id.
pub async fn list_devices(
    db: &impl GenericClient,
    landlord: Option<&str>,
) -> Result<Vec<DeviceSummary>, tokio_postgres::Error> {
    // The newest reading through the primary key backwards, and the quarantine counts of at
    // most 25 hourly rows through theirs: no scan of the device's history.
    let rows = db
        .query(
            "SELECT d.id, d.landlord_id, d.status, w.reference, r.name, d.cert_serial,
                    (SELECT x.sampled_at FROM readings x WHERE x.device_id = d.id
                     ORDER BY x.boot DESC, x.seq DESC LIMIT 1),
                    p.boot, p.committed_seq, coalesce(p.dropped_queue_full, 0), coalesce(p.dropped_sensor_failed, 0),
                    coalesce(q.n, 0)::int8, q.last_reason
             FROM devices d
             LEFT JOIN LATERAL (
                 SELECT sum(h.quarantined + h.suppressed) AS n,
                        (array_agg(h.last_reason ORDER BY h.hour DESC)
                             FILTER (WHERE h.last_reason IS NOT NULL))[1] AS last_reason
                 FROM device_hourly_intake h
                 WHERE h.device_id = d.id AND h.hour > now() - interval '1 day'
             ) q ON true
             LEFT JOIN rooms r ON r.id = d.room_id
             LEFT JOIN dwellings w ON w.id = r.dwelling_id
             LEFT JOIN LATERAL (
                 SELECT boot, committed_seq, dropped_queue_full, dropped_sensor_failed FROM device_positions
                 WHERE device_id = d.id ORDER BY boot DESC LIMIT 1
             ) p ON true
             WHERE $1::text IS NULL OR d.landlord_id = $1
             ORDER BY d.landlord_id, d.id",
            &[&landlord],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeviceSummary {
            id: r.get(0),
            landlord: r.get(1),
            status: r.get(2),
            dwelling: r.get(3),
            room: r.get(4),
            cert_serial: r.get(5),
            last_reading: r.get(6),
            position: r.get::<_, Option<i64>>(7).zip(r.get::<_, Option<i64>>(8)),
            dropped_queue_full: r.get(9),
            dropped_sensor_failed: r.get(10),
            quarantined_24h: r.get(11),
            last_quarantine_reason: r.get(12),
        })
        .collect())
}

/// Whether a device is registered.
pub async fn device_exists(db: &impl GenericClient, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(db.query_opt("SELECT 1 FROM devices WHERE id = $1", &[&id]).await?.is_some())
}
