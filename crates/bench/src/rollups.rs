//! Hourly rollups for readings seeded straight into the table (the collector writes them in the
//! same transaction as the readings it stores; a seed that copies readings in must add them).

use tokio_postgres::GenericClient;

/// Adds the hourly rollups of every reading of `devices`; returns the rows added (0 under
/// TimescaleDB, whose continuous aggregate is filled by its own refresh).
pub async fn roll_up(db: &impl GenericClient, devices: &[&str]) -> anyhow::Result<u64> {
    if !db.query_one("SELECT to_regclass('readings_hourly_totals') IS NOT NULL", &[]).await?.get::<_, bool>(0)
    {
        return Ok(0);
    }
    let added = db
        .execute(
            "INSERT INTO readings_hourly_totals (device_id, hour, readings, temperature_n, temperature_centi_sum,
                 temperature_centi_min, temperature_centi_max, rh_n, rh_centi_sum, rh_centi_min, rh_centi_max,
                 surface_temperature_n, surface_temperature_centi_sum)
             SELECT device_id, date_trunc('hour', sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
                    count(temperature_centi_c), sum(temperature_centi_c), min(temperature_centi_c),
                    max(temperature_centi_c), count(rh_centi_pct), sum(rh_centi_pct), min(rh_centi_pct),
                    max(rh_centi_pct), count(surface_temperature_centi_c), sum(surface_temperature_centi_c)
             FROM readings WHERE device_id = ANY($1) GROUP BY 1, 2",
            &[&devices],
        )
        .await?;
    Ok(added)
}
