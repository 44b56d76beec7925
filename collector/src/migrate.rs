//! Schema migrations, embedded in the binary, forward-only, applied at start.
//!
//! Several collectors may start at once: a transaction-level advisory lock serialises them, so
//! each migration runs exactly once. A database with a migration this binary does not know
//! (a newer collector ran) is refused rather than written to with the wrong assumptions.

use tokio_postgres::Client;

/// (version, name, SQL). Append only; never edit a released migration.
pub const MIGRATIONS: &[(i32, &str, &str)] =
    &[(1, "registry_and_readings", include_str!("../migrations/0001_registry_and_readings.sql"))];

/// Arbitrary constant naming the migration lock.
const LOCK_KEY: i64 = 0x64_61_6d_70_77_61_74_63;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("database error while migrating: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the database has schema version {found}, newer than this collector knows ({known}); upgrade the collector")]
    TooNew { found: i32, known: i32 },
}

/// Applies every migration not yet applied; returns how many ran.
pub async fn migrate(client: &mut Client) -> Result<usize, MigrateError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let current: i32 =
        tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(MigrateError::TooNew { found: current, known });
    }
    let mut ran = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).await?;
        tracing::info!(version, name, "applied migration");
        ran += 1;
    }
    tx.commit().await?;
    Ok(ran)
}
