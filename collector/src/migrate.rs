//! Schema migrations, embedded in the binary, forward-only, applied at start.
//!
//! Several collectors may start at once: a transaction-level advisory lock serialises them, so
//! each migration runs exactly once. A database with a migration this binary does not know
//! (a newer collector ran) is refused rather than written to with the wrong assumptions.

use tokio_postgres::Client;

/// A migration: (version, name, SQL). Append only; never edit a released migration.
pub type Migration = (i32, &'static str, &'static str);

/// The collector's own migrations (versions 1 to 99). Other parts of the system that share the
/// database (the hazard engine, the API) bring their own lists in their own version ranges and
/// pass them to [`migrate_all`].
pub const MIGRATIONS: &[Migration] = &[
    (1, "registry_and_readings", include_str!("../migrations/0001_registry_and_readings.sql")),
    (2, "time_series", include_str!("../migrations/0002_time_series.sql")),
    (3, "device_hourly_intake", include_str!("../migrations/0003_device_hourly_intake.sql")),
    (4, "device_config_counters", include_str!("../migrations/0004_device_config_counters.sql")),
];

/// Arbitrary constant naming the migration lock.
const LOCK_KEY: i64 = 0x64_61_6d_70_77_61_74_63;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("database error while migrating: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the database has schema version {found}, newer than this collector knows ({known}); upgrade the collector")]
    TooNew { found: i32, known: i32 },
}

/// Applies the whole schema: the collector's migrations and those of the hazard worker and the
/// HTTP API it runs.
pub async fn migrate(client: &mut Client) -> Result<usize, MigrateError> {
    migrate_all(client, &[MIGRATIONS, dampwatch_alerts::MIGRATIONS, dampwatch_api::MIGRATIONS]).await
}

/// Applies every migration of every list not yet applied, in version order; returns how many
/// ran. Versions must be unique across the lists.
pub async fn migrate_all(client: &mut Client, lists: &[&[Migration]]) -> Result<usize, MigrateError> {
    let mut all: Vec<&Migration> = lists.iter().flat_map(|l| l.iter()).collect();
    all.sort_by_key(|m| m.0);
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i32 =
        tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    let known = all.last().map_or(0, |m| m.0);
    if current > known {
        return Err(MigrateError::TooNew { found: current, known });
    }
    let applied: Vec<i32> =
        tx.query("SELECT version FROM schema_migrations", &[]).await?.into_iter().map(|r| r.get(0)).collect();
    let mut ran = 0;
    for (version, name, sql) in all.into_iter().filter(|m| !applied.contains(&m.0)) {
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).await?;
        tracing::info!(version, name, "applied migration");
        ran += 1;
    }
    tx.commit().await?;
    Ok(ran)
}
