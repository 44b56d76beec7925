//! An Awaab's Law case: the record of a potential hazard in a home, its events (appended,
//! never edited) and where it stands. The list form is [`Case`]; [`CaseDetail`] adds what the
//! case accepts next, its view and deadlines, and every event.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::{GenericClient, Row};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use super::deadline::Deadline;
use super::{load, room, Room, ROOM_COLUMNS, ROOM_JOIN};

/// A case as listed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Case {
    pub id: i64,
    pub room: Room,
    /// HHSRS hazard as first recorded (triage may correct it: see `view.hazard`).
    pub hazard: String,
    /// awaiting_triage, investigating, work_required, no_hazard_found, stopped or closed.
    #[schema(pattern = "^(awaiting_triage|investigating|work_required|no_hazard_found|stopped|closed)$")]
    pub status: String,
    /// emergency or significant, once triaged as a hazard.
    #[schema(required = true, pattern = "^(emergency|significant)$")]
    pub track: Option<String>,
    /// When the potential issue was recorded.
    pub opened_at: DateTime<Utc>,
    /// When the statutory clock started (none until triage under the awareness policy
    /// `at_triage`).
    #[schema(required = true)]
    pub awareness: Option<DateTime<Utc>>,
    /// at_detection or at_triage.
    #[schema(pattern = "^(at_detection|at_triage)$")]
    pub awareness_policy: String,
    /// The landlord's policy that applied: open_on_detection or open_on_triage.
    pub case_policy: String,
    /// The sensor alert that raised the potential issue, if any.
    #[schema(required = true)]
    pub alert_id: Option<i64>,
    /// How many events are recorded (`expected_event_count` of a new event).
    #[schema(minimum = 0)]
    pub event_count: i32,
    pub updated_at: DateTime<Utc>,
    /// The home's jurisdiction when the case was opened (`england`, `scotland`, `wales`): it
    /// decides which law's steps the case runs under.
    pub jurisdiction: String,
    /// The home's tenure when the case was opened (`social`, `private_rented`).
    pub tenure: String,
    /// The newest event's sequence number and chained hash: a client that keeps these can show
    /// later that the case's log was not rewritten.
    #[schema(required = true)]
    pub log_head: Option<LogHead>,
    /// The person the case is assigned to (`PUT /v1/cases/{id}/assignee`), if anyone.
    #[schema(required = true)]
    pub assigned_user_id: Option<i64>,
    /// Their display name, as far as the caller may see the person.
    #[schema(required = true)]
    pub assigned_to: Option<String>,
    /// The landlord's area for the home (`dampwatch homes set --area`); empty when none.
    pub area: String,
}

/// The head of a case's event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LogHead {
    #[schema(minimum = 1)]
    pub seq: i32,
    /// SHA-256 (hex) of the newest event chained to the ones before.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

/// A case with everything recorded on it and every step.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: Case,
    /// Event types the case accepts now (`POST /v1/cases/{id}/events`).
    pub allowed_events: Vec<String>,
    /// The case replayed as of `view.evaluated_at`: track, scope, every step with its deadline
    /// and status (the clock's case view).
    #[schema(schema_with = case_view_schema)]
    pub view: Value,
    /// Each step's deadline and status with how it was computed (before triage, both tracks'
    /// running clocks as `provisional`, and the triage review).
    pub deadlines: Vec<Deadline>,
    pub events: Vec<CaseEventRecord>,
}

/// One recorded event of a case.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CaseEventRecord {
    #[schema(minimum = 1)]
    pub seq: i32,
    pub kind: String,
    /// Whether it is a clock event (replayed to compute the case) or a record.
    pub affects_clock: bool,
    #[schema(value_type = Object)]
    pub event: Value,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// Who: `user:<actor> via api-key:<id>` for events recorded through the API,
    /// `system:hazard-engine` for detection.
    pub actor: String,
    #[schema(value_type = Object)]
    pub evidence: Value,
    /// SHA-256 (hex) of this event chained to the previous event's hash, computed by the
    /// database: keep it to show later that the log was not rewritten.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

/// The schema of the clock's case view: the members a client relies on, the rest open.
fn case_view_schema() -> impl Into<RefOr<utoipa::openapi::Schema>> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let step = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("step", text())
        .property(
            "status",
            ObjectBuilder::new().schema_type(Type::Object).property("status", text()).required("status"),
        )
        .required("step")
        .required("status");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("The case replayed by the clock (dampwatch-clock CaseView)."))
        .property("state", text())
        .property("hazard", text())
        .property("steps", ArrayBuilder::new().items(step))
        .property(
            "evaluated_at",
            text().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            ))),
        )
        .property("calendar_version", text())
        .property("rules_version", text())
        .required("state")
        .required("hazard")
        .required("steps")
        .required("evaluated_at")
        .required("calendar_version")
        .required("rules_version")
}

/// The select list of [`read`] over `cases t` joined with [`ROOM_JOIN`].
fn select() -> String {
    select_with(LOG_HEAD)
}

/// The head of a case's event log: its last event's number and hash.
const LOG_HEAD: &str =
    "(SELECT seq, hash FROM case_events e WHERE e.case_id = t.id ORDER BY seq DESC LIMIT 1)";
/// No log head, for lists that do not show it: one index probe per case saved.
const NO_LOG_HEAD: &str = "(SELECT NULL::int AS seq, NULL::bytea AS hash)";

fn select_with(log_head: &str) -> String {
    format!(
        "SELECT t.id, {ROOM_COLUMNS}, t.hazard, t.state, t.track, t.opened_at, t.awareness, t.awareness_policy,
                t.case_policy, t.alert_id, t.event_count, t.updated_at, t.jurisdiction, t.tenure, h.seq, h.hash,
                t.assigned_user_id, u.display_name, coalesce(d.area, '')
         FROM cases t {ROOM_JOIN}
              LEFT JOIN users u ON u.id = t.assigned_user_id
              LEFT JOIN LATERAL {log_head} h ON true"
    )
}

fn read(row: &Row) -> Result<Case, tokio_postgres::Error> {
    Ok(Case {
        id: row.try_get(0)?,
        room: room(row, 1)?,
        hazard: row.try_get(8)?,
        status: row.try_get(9)?,
        track: row.try_get(10)?,
        opened_at: row.try_get(11)?,
        awareness: row.try_get(12)?,
        awareness_policy: row.try_get(13)?,
        case_policy: row.try_get(14)?,
        alert_id: row.try_get(15)?,
        event_count: row.try_get(16)?,
        updated_at: row.try_get(17)?,
        jurisdiction: row.try_get(18)?,
        tenure: row.try_get(19)?,
        log_head: match row.try_get::<_, Option<i32>>(20)? {
            Some(seq) => Some(LogHead { seq, hash: hex(row.try_get(21)?) }),
            None => None,
        },
        assigned_user_id: row.try_get(22)?,
        assigned_to: row.try_get(23)?,
        area: row.try_get(24)?,
    })
}

/// Which cases to list: newest first, all filters optional.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter<'a> {
    /// Every case but closed ones.
    pub open_only: bool,
    pub status: Option<&'a str>,
    pub hazard: Option<&'a str>,
    pub track: Option<&'a str>,
    /// Only ids below this (the page cursor).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Cases, newest first.
pub async fn list<C>(client: &C, filter: &CaseFilter<'_>) -> Result<Vec<Case>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!(
        "{} WHERE (NOT $1 OR t.state <> 'closed') AND ($2::text IS NULL OR t.state = $2)
           AND ($3::text IS NULL OR t.hazard = $3) AND ($4::text IS NULL OR t.track = $4)
           AND ($5::bigint IS NULL OR t.id < $5)
         ORDER BY t.id DESC LIMIT $6",
        select()
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&filter.open_only, &filter.status, &filter.hazard, &filter.track, &filter.before, &filter.limit];
    load(client, &sql, &params, read).await
}

/// Every case not closed, by id; without `with_log_head`, each with `log_head` left out.
pub async fn not_closed<C>(client: &C, with_log_head: bool) -> Result<Vec<Case>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let head = if with_log_head { LOG_HEAD } else { NO_LOG_HEAD };
    let sql = format!("{} WHERE t.state <> 'closed' ORDER BY t.id", select_with(head));
    load(client, &sql, &[], read).await
}

/// One case, if it exists (and, in a tenant transaction, is the landlord's).
pub async fn find<C>(client: &C, id: i64) -> Result<Option<Case>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!("{} WHERE t.id = $1", select());
    client.query_opt(&sql, &[&id]).await?.map(|r| read(&r)).transpose()
}

const EVENT_COLUMNS: &str =
    "e.seq, e.kind, e.affects_clock, e.event, e.occurred_at, e.recorded_at, e.actor, e.evidence, e.hash";

fn read_event(row: &Row, at: usize) -> Result<CaseEventRecord, tokio_postgres::Error> {
    Ok(CaseEventRecord {
        seq: row.try_get(at)?,
        kind: row.try_get(at + 1)?,
        affects_clock: row.try_get(at + 2)?,
        event: row.try_get(at + 3)?,
        occurred_at: row.try_get(at + 4)?,
        recorded_at: row.try_get(at + 5)?,
        actor: row.try_get(at + 6)?,
        evidence: row.try_get(at + 7)?,
        hash: hex(row.try_get(at + 8)?),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every event of a case, in order.
pub async fn events<C>(client: &C, case_id: i64) -> Result<Vec<CaseEventRecord>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!("SELECT {EVENT_COLUMNS} FROM case_events e WHERE e.case_id = $1 ORDER BY e.seq");
    load(client, &sql, &[&case_id], |r| read_event(r, 0)).await
}

/// The clock events of every case not closed, as (case id, event), in order per case.
pub async fn clock_events_of_cases_not_closed<C>(
    client: &C,
) -> Result<Vec<(i64, CaseEventRecord)>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!(
        "SELECT e.case_id, {EVENT_COLUMNS} FROM case_events e JOIN cases c ON c.id = e.case_id
         WHERE c.state <> 'closed' AND e.affects_clock ORDER BY e.case_id, e.seq"
    );
    load(client, &sql, &[], |r| Ok((r.try_get(0)?, read_event(r, 1)?))).await
}

/// The case view stored with the case when it last changed (as of its `evaluated_at`).
pub async fn stored_view<C>(client: &C, case_id: i64) -> Result<Option<Value>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    client
        .query_opt("SELECT view FROM cases WHERE id = $1", &[&case_id])
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

/// The events of a case whose stored chain hash does not match a recomputation from their
/// content and the previous event's hash (`case_event_hash`, migration 0101): empty when the
/// log is intact. Read in the same transaction as the events, so a page that shows both shows
/// the log it checked.
pub async fn chain_breaks<C>(client: &C, case_id: i64) -> Result<Vec<i32>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let rows = client
        .query(
            "SELECT e.seq FROM case_events e
             LEFT JOIN case_events p ON p.case_id = e.case_id AND p.seq = e.seq - 1
             WHERE e.case_id = $1
               AND (e.hash IS DISTINCT FROM case_event_hash(p.hash, e)
                    OR e.prev_hash IS DISTINCT FROM p.hash)
             ORDER BY e.seq",
            &[&case_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
