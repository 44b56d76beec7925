//! One consistent, read-only view of the database: every query of an export, a backup or an
//! evidence pack sees the same committed state, whatever commits meanwhile.

use tokio_postgres::{Client, IsolationLevel, Transaction};

/// Starts a read-only, repeatable-read transaction on `client`.
pub async fn read_only_snapshot(client: &mut Client) -> Result<Transaction<'_>, tokio_postgres::Error> {
    client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start().await
}
