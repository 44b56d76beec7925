//! The collector's database connection: connect, prepare the session, and tell a failure that will pass (the connection, the server, a lock)
//! from one caused by the data in a batch.

use tokio_postgres::{Client, NoTls};

/// How readings are laid out, detected once per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Plain tables: `readings` keyed by `(device_id, boot, seq)`, BRIN indexes, retention and
    /// hourly rollups maintained by the collector.
    Plain,
    /// `readings` is a TimescaleDB hypertable (its unique indexes would have to include the
    /// time column), so the idempotency key lives in `reading_keys`; compression, retention and
    /// the hourly continuous aggregate are TimescaleDB policies.
    Timescale,
}

/// A prepared connection.
pub struct Session {
    pub client: Client,
    pub layout: Layout,
}

/// Connects once and spawns the connection driver.
pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

/// Connects and prepares the session (staging tables, time zone, layout).
pub async fn open(url: &str) -> Result<Session, tokio_postgres::Error> {
    let client = connect(url).await?;
    let layout = crate::store::prepare_session(&client).await?;
    Ok(Session { client, layout })
}

/// Whether a failed batch is worth splitting: the server refused something in the data (a
/// value, a constraint, a trigger's verdict). Everything else (no connection, server shutting
/// down, out of resources, deadlock, serialisation, lock timeout, a schema problem) says
/// nothing about any one message, so the whole batch is retried unchanged.
pub fn is_data_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return false;
    }
    let Some(code) = e.code() else { return false };
    let class = &code.code()[..2];
    // 22 data exception, 23 integrity constraint, 54 program limit (row too big),
    // P0 PL/pgSQL raise (triggers), 38/39 external routine errors, 2F SQL routine errors.
    matches!(class, "22" | "23" | "54" | "P0" | "38" | "39" | "2F")
}

/// The server's own words when there are some (`tokio_postgres::Error` alone says "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// Whether an error means the server could not be reached or is not taking connections yet
/// (worth waiting for), as opposed to one it gave about a statement.
pub fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        None => true,
        Some(code) => code.code().starts_with("08") || code.code().starts_with("57P"),
    }
}
