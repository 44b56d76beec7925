//! `GET /v1/cases` and `GET /v1/cases/{id}`: Awaab's Law cases. A case's steps, deadlines
//! and statuses are computed afresh for every request by replaying its events with the clock,
//! so "due soon" and "overdue" are as of the request, not as of the last event.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_alerts::deadlines::{self, DeadlineRow};
use dampwatch_clock::case::RecordedLate;
use dampwatch_clock::{
    AwarenessPolicy, Case, CaseEvent, CaseView, Clock, Hazard, Jurisdiction, Tenancy, Tenure,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::{Row, Transaction};

use super::{check_slug, room_view, RoomView, ROOM_JOIN};
use crate::extract::{parse_id, QueryParams};
use crate::paging::{id_cursor, page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// A case as listed.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub id: i64,
    pub room: RoomView,
    /// HHSRS hazard as first recorded (triage may correct it: see `view.hazard`).
    pub hazard: String,
    pub state: String,
    pub track: Option<String>,
    pub opened_at: DateTime<Utc>,
    /// When the statutory clock started.
    pub awareness: Option<DateTime<Utc>>,
    pub awareness_policy: String,
    pub case_policy: String,
    pub alert_id: Option<i64>,
    pub event_count: i32,
    pub updated_at: DateTime<Utc>,
    /// The home's jurisdiction when the case was opened (`england`, `scotland`, `wales`): it
    /// decides which law's steps the case runs under.
    pub jurisdiction: String,
    /// The home's tenure when the case was opened (`social`, `private_rented`).
    pub tenure: String,
}

/// One recorded event of a case.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub seq: i32,
    pub kind: String,
    /// Whether it is a clock event (replayed to compute the case) or a record.
    pub affects_clock: bool,
    pub event: Value,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub evidence: Value,
    /// SHA-256 (hex) of this event chained to the previous one: the log's tamper evidence.
    pub hash: String,
}

/// A case with everything recorded on it and every step as of now.
#[derive(Debug, Serialize)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub summary: CaseSummary,
    /// Event types the case accepts now (`POST /v1/cases/{id}/events`).
    pub allowed_events: Vec<&'static str>,
    /// The case replayed as of now: track, scope, every step with its deadline and status.
    pub view: CaseView,
    /// Each step's deadline and status as of now, with how it was computed (before triage,
    /// both tracks' running clocks as `provisional`, and the triage review).
    pub deadlines: Vec<DeadlineRow>,
    pub events: Vec<EventView>,
}

pub(crate) const CASE_COLUMNS: &str = "t.id, t.room_key, t.room_id, r.name, d.id, d.reference, t.device_id, t.hazard, t.state,
     t.track, t.opened_at, t.awareness, t.awareness_policy, t.case_policy, t.alert_id, t.event_count, t.updated_at,
     t.jurisdiction, t.tenure";

pub(crate) fn case_summary(row: &Row) -> CaseSummary {
    CaseSummary {
        id: row.get(0),
        room: room_view(row, 1),
        hazard: row.get(7),
        state: row.get(8),
        track: row.get(9),
        opened_at: row.get(10),
        awareness: row.get(11),
        awareness_policy: row.get(12),
        case_policy: row.get(13),
        alert_id: row.get(14),
        event_count: row.get(15),
        updated_at: row.get(16),
        jurisdiction: row.get(17),
        tenure: row.get(18),
    }
}

/// Rebuilds a case from its row and its clock events (in `seq` order).
pub(crate) fn replay(summary: &CaseSummary, events: &[(DateTime<Utc>, Value)]) -> Result<Case, ApiError> {
    let hazard: Hazard = summary
        .hazard
        .parse()
        .map_err(|e| ApiError::Internal(format!("case {}: stored hazard: {e}", summary.id)))?;
    let policy = match summary.awareness_policy.as_str() {
        "at_detection" => AwarenessPolicy::AtDetection,
        "at_triage" => AwarenessPolicy::AtTriage,
        other => return Err(ApiError::Internal(format!("case {}: awareness policy {other:?}", summary.id))),
    };
    let parsed: Vec<(DateTime<Utc>, CaseEvent)> = events
        .iter()
        .map(|(at, json)| {
            serde_json::from_value(json.clone())
                .map(|e| (*at, e))
                .map_err(|e| ApiError::Internal(format!("case {}: stored event: {e}", summary.id)))
        })
        .collect::<Result<_, _>>()?;
    let stored =
        |what: &str, value: &str| ApiError::Internal(format!("case {}: stored {what} {value:?}", summary.id));
    let jurisdiction = Jurisdiction::ALL
        .into_iter()
        .find(|j| j.as_str() == summary.jurisdiction)
        .ok_or_else(|| stored("jurisdiction", &summary.jurisdiction))?;
    let tenure = Tenure::ALL
        .into_iter()
        .find(|t| t.as_str() == summary.tenure)
        .ok_or_else(|| stored("tenure", &summary.tenure))?;
    let tenancy = Tenancy::new(jurisdiction, tenure);
    Case::replay_in(tenancy, hazard, summary.opened_at, policy, parsed.iter().map(|(at, e)| (*at, e)))
        .map_err(|e| ApiError::Internal(format!("case {}: stored events do not replay: {e}", summary.id)))
}

/// The case's view and deadline rows as of `now`, with the steps met by one of `late`
/// (its clock events recorded late) marked so.
pub(crate) fn evaluate(
    case: &Case,
    late: &[RecordedLate],
    clock: &Clock,
    now: DateTime<Utc>,
) -> Result<(CaseView, Vec<DeadlineRow>), ApiError> {
    let mut view = clock.view(case, now).map_err(|e| ApiError::Internal(format!("case view: {e}")))?;
    view.mark_recorded_late(late);
    let rows = deadlines::rows(case, &view, clock, now)
        .map_err(|e| ApiError::Internal(format!("deadlines: {e}")))?;
    Ok((view, rows))
}

/// A case row, or "not found".
pub(crate) async fn find_summary(tx: &Transaction<'_>, id: i64) -> Result<CaseSummary, ApiError> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases t {ROOM_JOIN} WHERE t.id = $1");
    let row = tx.query_opt(&sql, &[&id]).await?.ok_or_else(|| ApiError::not_found("case", id))?;
    Ok(case_summary(&row))
}

/// The clock events of a case, in order.
pub(crate) async fn clock_events(
    tx: &Transaction<'_>,
    id: i64,
) -> Result<Vec<(DateTime<Utc>, Value)>, ApiError> {
    let rows = tx
        .query(
            "SELECT occurred_at, event FROM case_events WHERE case_id = $1 AND affects_clock ORDER BY seq",
            &[&id],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A case replayed from the database, or "not found".
pub(crate) async fn load_case(tx: &Transaction<'_>, id: i64) -> Result<(CaseSummary, Case), ApiError> {
    let summary = find_summary(tx, id).await?;
    let events = clock_events(tx, id).await?;
    let case = replay(&summary, &events)?;
    Ok((summary, case))
}

/// The full detail of a case as of `now`.
pub(crate) async fn detail(
    tx: &Transaction<'_>,
    clock: &Clock,
    id: i64,
    now: DateTime<Utc>,
) -> Result<CaseDetail, ApiError> {
    let (summary, case) = load_case(tx, id).await?;
    let rows = tx
        .query(
            "SELECT seq, kind, affects_clock, event, occurred_at, recorded_at, actor, evidence, hash
             FROM case_events WHERE case_id = $1 ORDER BY seq",
            &[&id],
        )
        .await?;
    let late: Vec<RecordedLate> = rows
        .iter()
        .filter(|r| r.get::<_, bool>(2))
        .filter_map(|r| deadlines::late_record(&r.get(3), r.get(4), r.get(5), &r.get(7)))
        .collect();
    let (view, deadlines) = evaluate(&case, &late, clock, now)?;
    let events = rows
        .iter()
        .map(|r| EventView {
            seq: r.get(0),
            kind: r.get(1),
            affects_clock: r.get(2),
            event: r.get(3),
            occurred_at: r.get(4),
            recorded_at: r.get(5),
            actor: r.get(6),
            evidence: r.get(7),
            hash: hex::encode(r.get::<_, Vec<u8>>(8)),
        })
        .collect();
    let allowed_events = case.allowed_events().into_iter().map(|k| k.as_str()).collect();
    Ok(CaseDetail { summary, allowed_events, view, deadlines, events })
}

/// `state` filter of `GET /v1/cases`: a case state, or `open` (anything not closed).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStateFilter {
    Open,
    AwaitingTriage,
    Investigating,
    WorkRequired,
    NoHazardFound,
    Stopped,
    Closed,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackFilter {
    Emergency,
    Significant,
}

/// Filters of `GET /v1/cases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    state: Option<CaseStateFilter>,
    hazard: Option<String>,
    track: Option<TrackFilter>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<CaseQuery>,
) -> Result<Json<Page<CaseSummary>>, ApiError> {
    check_slug("hazard", q.hazard.as_deref())?;
    let limit = page_limit(q.limit, &state.config)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let (open_only, case_state) = match q.state {
        None => (false, None),
        Some(CaseStateFilter::Open) => (true, None),
        Some(s) => (
            false,
            Some(match s {
                CaseStateFilter::AwaitingTriage => "awaiting_triage",
                CaseStateFilter::Investigating => "investigating",
                CaseStateFilter::WorkRequired => "work_required",
                CaseStateFilter::NoHazardFound => "no_hazard_found",
                CaseStateFilter::Stopped => "stopped",
                CaseStateFilter::Closed | CaseStateFilter::Open => "closed",
            }),
        ),
    };
    let track = q.track.map(|t| match t {
        TrackFilter::Emergency => "emergency",
        TrackFilter::Significant => "significant",
    });
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases t {ROOM_JOIN}
         WHERE (NOT $1 OR t.state <> 'closed') AND ($2::text IS NULL OR t.state = $2)
           AND ($3::text IS NULL OR t.hazard = $3) AND ($4::text IS NULL OR t.track = $4)
           AND ($5::bigint IS NULL OR t.id < $5)
         ORDER BY t.id DESC LIMIT $6"
    );
    let tx = tenant.transaction().await?;
    let rows = tx.query(&sql, &[&open_only, &case_state, &q.hazard, &track, &before, &(limit + 1)]).await?;
    tx.commit().await?;
    let items = rows.iter().map(case_summary).collect();
    Ok(Json(Page::from_rows(items, limit, |c: &CaseSummary| c.id.to_string())))
}

pub async fn get(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    let id = parse_id("case", &id)?;
    let tx = tenant.transaction().await?;
    let detail = detail(&tx, &state.clock, id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(detail))
}
