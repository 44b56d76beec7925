//! The audit log's retention (class `audit_logs`): cut only at an entry a signed checkpoint
//! names, so that an export of what is left still verifies offline from that checkpoint
//! (migration 0464, `audit_cut`). Entries past the period but after the newest checkpoint
//! older than it wait for the next checkpoint; the head is never removed.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

/// The table the class lives in.
pub const TABLE: &str = "audit_log";

/// Removes the entries older than `cutoff` up to the newest signed checkpoint among them, at
/// most `chunk_rows` at a time (each chunk ends at a checkpoint too). Returns how many.
pub async fn cut(
    client: &impl GenericClient,
    cutoff: DateTime<Utc>,
    chunk_rows: i64,
    stop: &CancellationToken,
) -> Result<u64, tokio_postgres::Error> {
    // A chunk ends at a checkpoint, so one shorter than `chunk_rows` may not be the last.
    super::in_chunks(stop, || async move {
        let n: i64 = client.query_one("SELECT audit_cut($1, $2)", &[&cutoff, &chunk_rows]).await?.get(0);
        Ok((n as u64, n > 0))
    })
    .await
}

/// What a cut at `cutoff` would remove now, and the entries past the period it would keep
/// (after the newest checkpoint older than the cutoff).
pub async fn plan(
    client: &impl GenericClient,
    cutoff: DateTime<Utc>,
) -> Result<(i64, i64), tokio_postgres::Error> {
    let row = client
        .query_one(
            "WITH point AS (SELECT coalesce(audit_cut_point($1, NULL), 0) AS seq)
             SELECT count(*) FILTER (WHERE l.seq <= p.seq), count(*) FILTER (WHERE l.seq > p.seq AND l.at < $1)
             FROM audit_log l, point p",
            &[&cutoff],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}
