//! The device registry in PostgreSQL: landlords, dwellings, rooms and devices with their
//! signing keys. The collector reads it (cached) to check uplinks; the `dampwatch devices`
//! commands and the simulator's provisioning write it.

use crate::checks::DeviceEntry;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio_postgres::GenericClient;

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
    if d.public_key.len() != 32 {
        return Err(RegistryError::BadKey(d.public_key.len()));
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
