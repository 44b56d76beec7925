//! Closed cases' retention (class `closed_cases`): a closed case goes whole, its hash-chained
//! events and deadlines with it, after an audit entry anchors the chain's head (migration 0465,
//! `case_cut`); nothing of a held home goes. The database counts from its own record of the
//! closure and never cuts closer than its floor, whatever cutoff is asked.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

/// The table the class is counted in.
pub const TABLE: &str = "cases";
/// Cases per statement: each takes its events, deadlines and an audit entry with it.
const CASES_PER_STATEMENT: i32 = 100;

/// Deletes the closed cases closed before `cutoff`, sparing held homes. Returns how many.
pub async fn cut(
    client: &impl GenericClient,
    cutoff: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<u64, tokio_postgres::Error> {
    super::in_chunks(stop, || async move {
        let n: i64 =
            client.query_one("SELECT case_cut($1, $2)", &[&cutoff, &CASES_PER_STATEMENT]).await?.get(0);
        Ok((n as u64, n >= i64::from(CASES_PER_STATEMENT)))
    })
    .await
}

/// What a cut at `cutoff` would delete now, and the closed cases past the period a hold keeps.
pub async fn plan(
    client: &impl GenericClient,
    cutoff: DateTime<Utc>,
) -> Result<(i64, i64), tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM case_cut_candidates($1, false)),
                    (SELECT count(*) FROM case_cut_candidates($1, true))",
            &[&cutoff],
        )
        .await?;
    let (delete, past): (i64, i64) = (row.get(0), row.get(1));
    Ok((delete, past - delete))
}
