//! The collector's database connection: connect, prepare the session, and tell a failure that will pass (the connection, the server, a lock)
//! from one caused by the data in a batch.

use dampwatch_store::Prepared;
use tokio_postgres::Client;

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
    /// The intake's statements, prepared on `client` as they are first run.
    pub prepared: Prepared,
}

pub use dampwatch_store::connect;

/// Connects and prepares the session (staging tables, time zone, layout).
pub async fn open(url: &str) -> Result<Session, tokio_postgres::Error> {
    let client = connect(url).await?;
    let layout = crate::store::prepare_session(&client).await?;
    Ok(Session { client, layout, prepared: Prepared::default() })
}

pub use dampwatch_store::{describe, is_data_error};
