//! The collector's database connection: connect (with back-off while PostgreSQL is down),
//! migrate, prepare the session, and reconnect after the connection breaks.

use std::time::Duration;
use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;

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

/// Connects, retrying with exponential back-off until it works or `stop` fires.
pub async fn connect_with_retry(
    url: &str,
    initial: Duration,
    max: Duration,
    stop: &CancellationToken,
) -> Option<Client> {
    let mut wait = initial;
    loop {
        match connect(url).await {
            Ok(c) => match crate::store::prepare_session(&c).await {
                Ok(()) => return Some(c),
                Err(e) => tracing::warn!(error = %e, "cannot prepare the database session"),
            },
            Err(e) => tracing::warn!(error = %e, retry_in = ?wait, "database unreachable"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return None,
        }
        wait = (wait * 2).min(max);
    }
}
