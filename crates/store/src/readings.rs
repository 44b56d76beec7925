//! The `readings` row: one reading as stored, and how it is written by binary COPY (the
//! collector's staging table and the benchmark's COPY floor write the same columns).

use std::pin::Pin;

use chrono::{DateTime, Utc};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// One reading ready to store, after the collector's checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadingRow {
    pub seq: i64,
    /// The time used for analysis: the device's own time unless it was implausible.
    pub sampled_at: DateTime<Utc>,
    /// What the device said, kept even when corrected.
    pub device_time: DateTime<Utc>,
    pub time_corrected: bool,
    /// The device's fixed-point values, unchanged: hundredths of a °C and of a % RH.
    pub temperature_centi_c: Option<i32>,
    pub rh_centi_pct: Option<i32>,
    pub surface_temperature_centi_c: Option<i32>,
    pub co2_ppm: Option<i32>,
    pub battery_mv: Option<i32>,
    /// The device's bits and the server's (`dampwatch_wire::reading::status`).
    pub status: i32,
}

/// Column types of a `readings` row in binary COPY, in table order.
pub const READING_COLUMNS: &[Type] = &[
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::BOOL,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::BYTEA,
];

/// Where a reading came from: its device and boot, when its uplink arrived and that uplink's
/// digest (the evidence it can be re-verified against).
pub struct Provenance<'a> {
    pub device: &'a str,
    pub boot: i64,
    pub received_at: DateTime<Utc>,
    pub uplink_digest: &'a [u8],
}

/// Writes one row to a COPY opened with [`READING_COLUMNS`].
pub async fn write_reading(
    writer: Pin<&mut BinaryCopyInWriter>,
    from: &Provenance<'_>,
    r: &ReadingRow,
) -> Result<(), tokio_postgres::Error> {
    let row: [&(dyn ToSql + Sync); 14] = [
        &from.device,
        &from.boot,
        &r.seq,
        &r.sampled_at,
        &r.device_time,
        &r.time_corrected,
        &from.received_at,
        &r.temperature_centi_c,
        &r.rh_centi_pct,
        &r.surface_temperature_centi_c,
        &r.co2_ppm,
        &r.battery_mv,
        &r.status,
        &from.uplink_digest,
    ];
    writer.write(&row).await
}
