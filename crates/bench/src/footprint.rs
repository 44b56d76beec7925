//! What a stored reading costs on disk: the figure a capacity plan multiplies by readings a day
//! (`docs/scaling.md`).

/// Bytes on disk, tables with their indexes and TOAST, per stored row.
#[derive(Debug, Clone, Copy, Default)]
pub struct Footprint {
    /// `readings`: one row per reading.
    pub bytes_per_reading: f64,
    /// `uplinks`: one row per signed uplink, kept as evidence (the exact payload and signature);
    /// at one reading per uplink, a second cost per reading.
    pub bytes_per_uplink: f64,
}

/// Measures the database as it stands (after the run's inserts). With TimescaleDB the readings
/// are a hypertable, whose size is its chunks', not the parent table's.
pub async fn measure(db: &tokio_postgres::Client) -> anyhow::Result<Footprint> {
    let timescale: bool = db
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')", &[])
        .await?
        .get(0);
    let readings_size = if timescale {
        "SELECT coalesce(hypertable_size('readings'), pg_total_relation_size('readings'))::float8"
    } else {
        "SELECT pg_total_relation_size('readings')::float8"
    };
    let readings_bytes: f64 = db.query_one(readings_size, &[]).await?.get(0);
    let uplinks_bytes: f64 =
        db.query_one("SELECT pg_total_relation_size('uplinks')::float8", &[]).await?.get(0);
    let readings: i64 = db.query_one("SELECT count(*) FROM readings", &[]).await?.get(0);
    let uplinks: i64 = db.query_one("SELECT count(*) FROM uplinks", &[]).await?.get(0);
    let per = |bytes: f64, rows: i64| if rows > 0 { bytes / rows as f64 } else { f64::NAN };
    Ok(Footprint {
        bytes_per_reading: per(readings_bytes, readings),
        bytes_per_uplink: per(uplinks_bytes, uplinks),
    })
}
