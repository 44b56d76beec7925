//! A device with its newest stored reading: when it last sent and its battery then. The
//! dashboard's room page lists a room's devices so, and its devices page every device of the
//! landlord (offline, low battery, credentials due). The tenant role reads readings only
//! through functions confined to its landlord (`tenant_room_device_latest`,
//! `tenant_device_latest`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::device::{self, Device, DeviceFilter};
use super::load;

/// A device and its newest stored reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceHealth {
    pub device: Device,
    /// Sample time of its newest reading (none when it has sent nothing).
    pub last_reading_at: Option<DateTime<Utc>>,
    /// Supply voltage in that reading, mV (none when the reading carried none).
    pub battery_mv: Option<i32>,
}

type Latest = HashMap<String, (Option<DateTime<Utc>>, Option<i32>)>;

async fn latest<C>(
    client: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Latest, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let rows =
        load(client, sql, params, |r| Ok((r.try_get::<_, String>(0)?, (r.try_get(1)?, r.try_get(2)?))))
            .await?;
    Ok(rows.into_iter().collect())
}

fn joined(devices: Vec<Device>, mut latest: Latest) -> Vec<DeviceHealth> {
    devices
        .into_iter()
        .map(|device| {
            let (last_reading_at, battery_mv) = latest.remove(&device.id).unwrap_or((None, None));
            DeviceHealth { device, last_reading_at, battery_mv }
        })
        .collect()
}

/// The devices placed in the room, by id, each with its newest reading.
pub async fn of_room<C>(client: &C, room_id: i64) -> Result<Vec<DeviceHealth>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let filter = DeviceFilter { room_id: Some(room_id), limit: i64::MAX, ..DeviceFilter::default() };
    let placed = device::list(client, &filter).await?;
    Ok(joined(placed, latest(client, "SELECT * FROM tenant_room_device_latest($1)", &[&room_id]).await?))
}

/// Every device of the landlord (the tenant transaction's), by id, each with its newest reading.
pub async fn of_landlord<C>(client: &C) -> Result<Vec<DeviceHealth>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let all = device::list(client, &DeviceFilter { limit: i64::MAX, ..DeviceFilter::default() }).await?;
    Ok(joined(all, latest(client, "SELECT * FROM tenant_device_latest()", &[]).await?))
}
