//! The stored deadlines of cases not closed, kept readable at any instant: each running step
//! stores its due time and the instant it becomes due soon, so the SLA board takes statuses
//! from `case_deadlines` instead of replaying every open case on every page.
//!
//! The rows are only current if they were computed under the clock now configured: a new law
//! file, a bank holiday added or a changed threshold moves deadlines. So the store records the
//! basis ([`Clock::basis`]) every open case's rows were computed under; when the hazard worker
//! starts under another, it recomputes them all from their events and only then records the
//! new basis. Readers compare the basis with their own clock's and replay while it differs.

use std::time::Instant;

use chrono::{DateTime, Utc};
use dampwatch_clock::Clock;
use dampwatch_store::read_model::deadline::projection_basis;
use tokio_postgres::Client;

use crate::cases::recompute_deadlines;
use crate::error::AlertsError;

/// Cases recomputed per transaction: each is locked while it is, as an event would lock it.
const CASES_PER_TRANSACTION: usize = 200;

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The stored rows were already computed under this basis.
    Current { basis: String },
    /// Every case not closed was recomputed.
    Recomputed { basis: String, previous: Option<String>, cases: usize },
}

/// Brings the stored deadlines of every case not closed to `clock`'s basis; see the module.
/// Safe to run in several processes at once: each case is recomputed under its row lock, and
/// recomputing twice writes the same rows.
pub async fn refresh(client: &mut Client, clock: &Clock, now: DateTime<Utc>) -> Result<Refresh, AlertsError> {
    let basis = clock.basis();
    let previous = projection_basis(&*client).await?;
    if previous.as_deref() == Some(basis.as_str()) {
        return Ok(Refresh::Current { basis });
    }
    let started = Instant::now();
    let ids: Vec<i64> = client
        .query("SELECT id FROM cases WHERE state <> 'closed' ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tracing::info!(cases = ids.len(), ?previous, %basis, "recomputing the stored deadlines of open cases");
    for (done, chunk) in ids.chunks(CASES_PER_TRANSACTION).enumerate() {
        let tx = client.transaction().await?;
        for &id in chunk {
            recompute_deadlines(&tx, clock, id, now).await?;
        }
        tx.commit().await?;
        let recomputed = (done * CASES_PER_TRANSACTION + chunk.len()).min(ids.len());
        tracing::info!(recomputed, of = ids.len(), "recomputing stored deadlines");
    }
    // A case opened meanwhile was computed by the same clock, so the basis holds for it too.
    client
        .execute(
            "INSERT INTO deadline_projection (basis, cases, refreshed_at) VALUES ($1, $2, $3)
             ON CONFLICT (singleton) DO UPDATE SET basis = $1, cases = $2, refreshed_at = $3",
            &[&basis, &(ids.len() as i64), &now],
        )
        .await?;
    tracing::info!(cases = ids.len(), elapsed = ?started.elapsed(), %basis, "stored deadlines are current");
    Ok(Refresh::Recomputed { basis, previous, cases: ids.len() })
}
