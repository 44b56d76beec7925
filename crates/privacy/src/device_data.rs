//! Deleting what a departing landlord's devices measured: readings, the signed uplinks they
//! came in, and the hourly rollups, in chunks of `chunk` rows per transaction, so a landlord
//! with years of readings never holds one huge transaction or lock, and an interrupted run
//! simply continues when repeated.
//!
//! Readings are not personal data by themselves, but a home's temperatures and humidity over
//! time say when people are in; a landlord that leaves takes them with it. The devices' registry
//! rows, their quarantined messages and the audit log stay (the audit log is append-only).
//! Under the TimescaleDB layout the hourly rollups are a continuous aggregate, which follows
//! the deleted readings at its next refresh of each window rather than here.

use tokio_postgres::Client;

use crate::error::PrivacyError;

/// How many rows went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceDataErased {
    pub devices: usize,
    pub readings: u64,
    pub uplinks: u64,
    pub hourly_rollups: u64,
}

/// Deletes the readings, uplinks and hourly rollups of every device of the landlord.
pub async fn erase_device_data(
    db: &Client,
    landlord: &str,
    chunk: i64,
) -> Result<DeviceDataErased, PrivacyError> {
    let chunk = chunk.max(1);
    let devices: Vec<String> = db
        .query("SELECT id FROM devices WHERE landlord_id = $1", &[&landlord])
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let mut erased = DeviceDataErased { devices: devices.len(), ..Default::default() };
    if devices.is_empty() {
        return Ok(erased);
    }
    // Each reading's uplink goes with it (an uplink's readings all belong to its device).
    loop {
        let row = db
            .query_one(
                "WITH doomed AS (
                     SELECT device_id, boot, seq FROM readings WHERE device_id = ANY($1) LIMIT $2),
                 gone AS (
                     DELETE FROM readings r USING doomed d
                     WHERE r.device_id = d.device_id AND r.boot = d.boot AND r.seq = d.seq
                     RETURNING r.uplink_digest),
                 uplinks_gone AS (
                     DELETE FROM uplinks u WHERE u.digest IN (SELECT uplink_digest FROM gone)
                     AND u.device_id = ANY($1) RETURNING 1)
                 SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM uplinks_gone)",
                &[&devices, &chunk],
            )
            .await?;
        let (readings, uplinks): (i64, i64) = (row.get(0), row.get(1));
        erased.readings += readings as u64;
        erased.uplinks += uplinks as u64;
        if readings < chunk {
            break;
        }
    }
    // Uplinks left without readings (all of theirs deleted in an earlier run).
    erased.uplinks += delete_in_chunks(
        db,
        "DELETE FROM uplinks WHERE digest IN (SELECT digest FROM uplinks WHERE device_id = ANY($1) LIMIT $2)",
        &devices,
        chunk,
    )
    .await?;
    if table_exists(db, "reading_keys").await? {
        delete_in_chunks(
            db,
            "DELETE FROM reading_keys k USING (SELECT device_id, boot, seq FROM reading_keys
                 WHERE device_id = ANY($1) LIMIT $2) d
             WHERE k.device_id = d.device_id AND k.boot = d.boot AND k.seq = d.seq",
            &devices,
            chunk,
        )
        .await?;
    }
    if table_exists(db, "readings_hourly_totals").await? {
        erased.hourly_rollups = delete_in_chunks(
            db,
            "DELETE FROM readings_hourly_totals h USING (SELECT device_id, hour FROM readings_hourly_totals
                 WHERE device_id = ANY($1) LIMIT $2) d
             WHERE h.device_id = d.device_id AND h.hour = d.hour",
            &devices,
            chunk,
        )
        .await?;
    }
    Ok(erased)
}

async fn table_exists(db: &Client, name: &str) -> Result<bool, PrivacyError> {
    let row = db.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name]).await?;
    Ok(row.get(0))
}

/// Runs `sql` (which deletes at most `$2` rows of the devices `$1`) until it deletes fewer.
async fn delete_in_chunks(
    db: &Client,
    sql: &str,
    devices: &[String],
    chunk: i64,
) -> Result<u64, PrivacyError> {
    let mut total = 0;
    loop {
        let n = db.execute(sql, &[&devices, &chunk]).await?;
        total += n;
        if (n as i64) < chunk {
            return Ok(total);
        }
    }
}
