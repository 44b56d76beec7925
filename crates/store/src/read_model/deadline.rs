//! A step's deadline on a case: when it is due, how that was computed (basis, amount, the event
//! counted from, calendar and rules versions, legal source) and its status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::{GenericClient, Row};
use utoipa::ToSchema;

use super::load;

/// One step's deadline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Deadline {
    /// emergency, significant, or triage (the triage review).
    #[schema(pattern = "^(emergency|significant|triage)$")]
    pub track: String,
    /// emergency_investigate, emergency_make_safe, investigate, written_summary, safety_work,
    /// preventative_start, preventative_backstop, triage_review, ...
    pub step: String,
    /// Before triage: what is due if the issue is triaged onto this track.
    pub provisional: bool,
    /// Last permitted Europe/London date (YYYY-MM-DD) or an RFC 3339 instant.
    pub due: String,
    pub ends_at: DateTime<Utc>,
    /// elapsed_hours, working_days, weeks or product_policy.
    pub basis: String,
    /// How many of `basis`.
    #[schema(minimum = 0)]
    pub amount: i32,
    pub counted_from_event: String,
    pub counted_from: DateTime<Utc>,
    pub calendar_version: String,
    pub rules_version: String,
    /// The legal source of the step (or the product policy).
    pub source: String,
    /// on_track, due_soon, overdue, met, not_required, stopped or awaiting_trigger.
    #[schema(pattern = "^(on_track|due_soon|overdue|met|not_required|stopped|awaiting_trigger)$")]
    pub status: String,
    /// The full computation: other clocks, bank holidays skipped, status detail.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// Present on a met step whose event was recorded long after the instant it gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded_late: Option<RecordedLate>,
    /// While the step's clock runs: the instant from which it counts as due soon (it is
    /// overdue from `ends_at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_soon_from: Option<DateTime<Utc>>,
}

/// A step met by an event recorded more than the tolerance (24 hours by default) after the
/// instant it gives: the step is met as of that instant, on the landlord's word given later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordedLate {
    /// The event's type.
    pub event: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// Why it was recorded late.
    pub reason: String,
}

fn read(row: &Row) -> Result<Deadline, tokio_postgres::Error> {
    let detail: Value = row.try_get(13)?;
    // The row keeps the mark inside its status detail; it is shown beside the status.
    let recorded_late = detail
        .get("status")
        .and_then(|s| s.get("recorded_late"))
        .and_then(|late| serde_json::from_value(late.clone()).ok());
    Ok(Deadline {
        track: row.try_get(0)?,
        step: row.try_get(1)?,
        provisional: row.try_get(2)?,
        due: row.try_get(3)?,
        ends_at: row.try_get(4)?,
        basis: row.try_get(5)?,
        amount: row.try_get(6)?,
        counted_from_event: row.try_get(7)?,
        counted_from: row.try_get(8)?,
        calendar_version: row.try_get(9)?,
        rules_version: row.try_get(10)?,
        source: row.try_get(11)?,
        status: row.try_get(12)?,
        detail,
        recorded_late,
        due_soon_from: row.try_get(14)?,
    })
}

/// The deadlines stored with a case when it last changed, earliest first.
pub async fn of_case<C>(client: &C, case_id: i64) -> Result<Vec<Deadline>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    load(
        client,
        "SELECT track, step, provisional, due, ends_at, basis, amount, counted_from_event, counted_from,
                calendar_version, rules_version, source, status, detail, due_soon_from
         FROM case_deadlines WHERE case_id = $1 ORDER BY ends_at, track, step",
        &[&case_id],
        read,
    )
    .await
}

/// The stored deadlines of every case not closed, as (case id, deadline), in no order. Without
/// `with_detail` each row's `detail` is left empty (its late-record mark is still read, from
/// its own column), which spares reading every computation's whole detail.
pub async fn of_cases_not_closed<C>(
    client: &C,
    with_detail: bool,
) -> Result<Vec<(i64, Deadline)>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!(
        "SELECT d.track, d.step, d.provisional, d.due, d.ends_at, d.basis, d.amount, d.counted_from_event,
                d.counted_from, d.calendar_version, d.rules_version, d.source, d.status, {}, d.due_soon_from,
                d.recorded_late, d.case_id
         FROM case_deadlines d JOIN cases c ON c.id = d.case_id
         WHERE c.state <> 'closed'",
        if with_detail { "d.detail" } else { "'{}'::jsonb" }
    );
    load(client, &sql, &[], |row| {
        let mut deadline = read(row)?;
        let late: Option<Value> = row.try_get(15)?;
        deadline.recorded_late = late.and_then(|l| serde_json::from_value(l).ok());
        Ok((row.try_get(16)?, deadline))
    })
    .await
}

/// The basis the stored deadlines of every case not closed were computed under (see the
/// hazard worker's projection refresh), if they have been recomputed as a whole yet.
pub async fn projection_basis<C>(client: &C) -> Result<Option<String>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    Ok(client.query_opt("SELECT basis FROM deadline_projection", &[]).await?.map(|r| r.get(0)))
}
