//! A room's history as its landlord's people read it: the room and its home, its stored
//! readings over a period (every device placed in the room now, as the hazard worker reads a
//! room), its hourly means over longer ones (the rollups), and its devices with their newest
//! reading. The dashboard's room page charts these.
//!
//! In a tenant transaction, another landlord's room is not found and its history is empty: the
//! room through row-level security, the readings and rollups through the functions of
//! `0320_room_history.sql`, which answer only for the devices of the landlord the transaction
//! names.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::load;

/// A registered room and the home it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomHome {
    pub room_id: i64,
    pub name: String,
    pub dwelling_id: i64,
    /// The landlord's reference for the home.
    pub dwelling_reference: String,
    pub dwelling_address: String,
    /// The stricter cold and heat rules the home's record of its occupants selects (their ids;
    /// the vulnerabilities behind them are sealed): the rules the room is judged by.
    pub occupant_rules: Vec<String>,
}

impl RoomHome {
    /// The key alerts and cases record for this room.
    pub fn key(&self) -> String {
        format!("room:{}", self.room_id)
    }
}

/// One stored reading, its values as the device signed them (hundredths of a °C and of a %).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSample {
    pub device_id: String,
    pub sampled_at: DateTime<Utc>,
    pub temperature_centi_c: Option<i32>,
    pub rh_centi_pct: Option<i32>,
    pub surface_temperature_centi_c: Option<i32>,
    pub co2_ppm: Option<i32>,
    /// `readings.status`: the device's bits and the collector's.
    pub status: i32,
}

/// The mean conditions of one UTC hour, every device of the room pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyMean {
    pub hour: DateTime<Utc>,
    pub readings: i64,
    pub temperature_c: Option<f64>,
    pub rh_pct: Option<f64>,
    /// Of the readings that carried a surface probe value.
    pub surface_temperature_c: Option<f64>,
}

/// The room, if it exists (and, in a tenant transaction, is the landlord's).
pub async fn find<C>(client: &C, room_id: i64) -> Result<Option<RoomHome>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    client
        .query_opt(
            "SELECT r.id, r.name, d.id, d.reference, d.address, d.occupant_rules
             FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE r.id = $1",
            &[&room_id],
        )
        .await?
        .map(|row| {
            Ok(RoomHome {
                room_id: row.try_get(0)?,
                name: row.try_get(1)?,
                dwelling_id: row.try_get(2)?,
                dwelling_reference: row.try_get(3)?,
                dwelling_address: row.try_get(4)?,
                occupant_rules: row.try_get(5)?,
            })
        })
        .transpose()
}

/// The room's stored readings sampled in `[from, to)`, in time order.
pub async fn readings<C>(
    client: &C,
    room_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<StoredSample>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    load(client, "SELECT * FROM tenant_room_readings($1, $2, $3)", &[&room_id, &from, &to], |r| {
        Ok(StoredSample {
            device_id: r.try_get(0)?,
            sampled_at: r.try_get(1)?,
            temperature_centi_c: r.try_get(2)?,
            rh_centi_pct: r.try_get(3)?,
            surface_temperature_centi_c: r.try_get(4)?,
            co2_ppm: r.try_get(5)?,
            status: r.try_get(6)?,
        })
    })
    .await
}

/// The room's hourly means of the hours in `[from, to)` that have readings, in time order.
pub async fn hourly<C>(
    client: &C,
    room_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<HourlyMean>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    load(client, "SELECT * FROM tenant_room_hourly($1, $2, $3)", &[&room_id, &from, &to], |r| {
        Ok(HourlyMean {
            hour: r.try_get(0)?,
            readings: r.try_get(1)?,
            temperature_c: r.try_get(2)?,
            rh_pct: r.try_get(3)?,
            surface_temperature_c: r.try_get(4)?,
        })
    })
    .await
}
