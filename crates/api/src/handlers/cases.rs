//! `GET /v1/cases` and `GET /v1/cases/{id}`: Awaab's Law cases. A case's steps, deadlines
//! and statuses are computed afresh for every request by replaying its events with the clock,
//! so "due soon" and "overdue" are as of the request, not as of the last event.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_alerts::deadlines;
use dampwatch_clock::case::RecordedLate;
use dampwatch_clock::{
    AwarenessPolicy, Case as ClockCase, CaseEvent, CaseView, Clock, Hazard, Jurisdiction, Tenancy, Tenure,
};
use dampwatch_store::read_model::{case, Case, CaseDetail, CaseEventRecord, CaseFilter, Deadline};
use serde::Deserialize;
use tokio_postgres::Transaction;
use utoipa::{IntoParams, ToSchema};

use super::check_slug;
use crate::extract::{parse_id, QueryParams};
use crate::openapi::{CasePage, ProblemDocument};
use crate::paging::{id_cursor, page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Rebuilds a case from its row and its events (in `seq` order; records are skipped).
pub(crate) fn replay(case: &Case, events: &[CaseEventRecord]) -> Result<ClockCase, ApiError> {
    let hazard: Hazard = case
        .hazard
        .parse()
        .map_err(|e| ApiError::Internal(format!("case {}: stored hazard: {e}", case.id)))?;
    let policy = match case.awareness_policy.as_str() {
        "at_detection" => AwarenessPolicy::AtDetection,
        "at_triage" => AwarenessPolicy::AtTriage,
        other => return Err(ApiError::Internal(format!("case {}: awareness policy {other:?}", case.id))),
    };
    let parsed: Vec<(DateTime<Utc>, CaseEvent)> = events
        .iter()
        .filter(|e| e.affects_clock)
        .map(|e| {
            serde_json::from_value(e.event.clone())
                .map(|event| (e.occurred_at, event))
                .map_err(|err| ApiError::Internal(format!("case {}: stored event: {err}", case.id)))
        })
        .collect::<Result<_, _>>()?;
    let stored =
        |what: &str, value: &str| ApiError::Internal(format!("case {}: stored {what} {value:?}", case.id));
    let jurisdiction = Jurisdiction::ALL
        .into_iter()
        .find(|j| j.as_str() == case.jurisdiction)
        .ok_or_else(|| stored("jurisdiction", &case.jurisdiction))?;
    let tenure = Tenure::ALL
        .into_iter()
        .find(|t| t.as_str() == case.tenure)
        .ok_or_else(|| stored("tenure", &case.tenure))?;
    let tenancy = Tenancy::new(jurisdiction, tenure);
    ClockCase::replay_in(tenancy, hazard, case.opened_at, policy, parsed.iter().map(|(at, e)| (*at, e)))
        .map_err(|e| ApiError::Internal(format!("case {}: stored events do not replay: {e}", case.id)))
}

/// The clock events of `events` that were recorded late.
pub(crate) fn late_records(events: &[CaseEventRecord]) -> Vec<RecordedLate> {
    events
        .iter()
        .filter(|e| e.affects_clock)
        .filter_map(|e| deadlines::late_record(&e.event, e.occurred_at, e.recorded_at, &e.evidence))
        .collect()
}

/// The case's view and deadline rows as of `now`, with the steps met by one of `late`
/// (its clock events recorded late) marked so.
pub(crate) fn evaluate(
    case: &ClockCase,
    late: &[RecordedLate],
    clock: &Clock,
    now: DateTime<Utc>,
) -> Result<(CaseView, Vec<Deadline>), ApiError> {
    let mut view = clock.view(case, now).map_err(|e| ApiError::Internal(format!("case view: {e}")))?;
    view.mark_recorded_late(late);
    let rows = deadlines::rows(case, &view, clock, now)
        .map_err(|e| ApiError::Internal(format!("deadlines: {e}")))?;
    Ok((view, rows))
}

/// A case replayed from the database with its events, or "not found".
pub(crate) async fn load_case(
    tx: &Transaction<'_>,
    id: i64,
) -> Result<(Case, Vec<CaseEventRecord>, ClockCase), ApiError> {
    let found = case::find(tx, id).await?.ok_or_else(|| ApiError::not_found("case", id))?;
    let events = case::events(tx, id).await?;
    let replayed = replay(&found, &events)?;
    Ok((found, events, replayed))
}

/// The full detail of a case as of `now`.
/// What officers wrote is shown opened (`sealed_text`).
pub(crate) async fn detail(
    tx: &Transaction<'_>,
    state: &ApiState,
    id: i64,
    now: DateTime<Utc>,
) -> Result<CaseDetail, ApiError> {
    let (found, mut events, replayed) = load_case(tx, id).await?;
    let (view, rows) = evaluate(&replayed, &late_records(&events), &state.clock, now)?;
    crate::sealed_text::reveal(tx, state, id, &mut events).await?;
    let view = serde_json::to_value(&view).map_err(|e| ApiError::Internal(format!("case view: {e}")))?;
    let allowed_events = replayed.allowed_events().into_iter().map(|k| k.as_str().to_owned()).collect();
    let deadlines = rows;
    Ok(CaseDetail { case: found, allowed_events, view, deadlines, events })
}

/// `status` filter of `GET /v1/cases`: a case's status, or `open` (anything not closed).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatusFilter {
    Open,
    AwaitingTriage,
    Investigating,
    WorkRequired,
    NoHazardFound,
    Stopped,
    Closed,
}

/// `track` filter of `GET /v1/cases`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackFilter {
    Emergency,
    Significant,
}

/// Filters of `GET /v1/cases` (any other parameter is refused).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Only cases with this status; `open` is every status but closed.
    #[param(inline)]
    status: Option<CaseStatusFilter>,
    /// Only this hazard (a slug such as damp_and_mould_growth).
    #[param(pattern = "^[a-z0-9_]{1,64}$")]
    hazard: Option<String>,
    /// Only cases triaged onto this track.
    #[param(inline)]
    track: Option<TrackFilter>,
    /// Items per page (default and maximum set by the operator).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
}

/// List Awaab's Law cases
///
/// The landlord's cases, newest first.
#[utoipa::path(
    get,
    path = "/v1/cases",
    operation_id = "listCases",
    tag = "cases",
    params(CaseQuery),
    responses(
        (status = 200, description = "A page of cases.", body = CasePage),
        (status = 400, description = "A query parameter is not valid.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<CaseQuery>,
) -> Result<Json<Page<Case>>, ApiError> {
    check_slug("hazard", q.hazard.as_deref())?;
    let limit = page_limit(q.limit, &state.config)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let (open_only, status) = match q.status {
        None => (false, None),
        Some(CaseStatusFilter::Open) => (true, None),
        Some(s) => (
            false,
            Some(match s {
                CaseStatusFilter::AwaitingTriage => "awaiting_triage",
                CaseStatusFilter::Investigating => "investigating",
                CaseStatusFilter::WorkRequired => "work_required",
                CaseStatusFilter::NoHazardFound => "no_hazard_found",
                CaseStatusFilter::Stopped => "stopped",
                CaseStatusFilter::Closed | CaseStatusFilter::Open => "closed",
            }),
        ),
    };
    let track = q.track.map(|t| match t {
        TrackFilter::Emergency => "emergency",
        TrackFilter::Significant => "significant",
    });
    let filter =
        CaseFilter { open_only, status, hazard: q.hazard.as_deref(), track, before, limit: limit + 1 };
    let tx = tenant.transaction().await?;
    let items = case::list(&*tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(items, limit, |c: &Case| c.id.to_string())))
}

/// Get a case with its events and deadlines
///
/// The case, every recorded event, the events it accepts now, and every step's deadline and
/// status as of now.
#[utoipa::path(
    get,
    path = "/v1/cases/{id}",
    operation_id = "getCase",
    tag = "cases",
    params(("id" = String, Path, pattern = "^[0-9]+$",
        description = "The case's id. An id of another landlord's case is answered 404, as an unknown one.")),
    responses(
        (status = 200, description = "The case.", body = CaseDetail),
        (status = 404, description = "No such case.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    let id = parse_id("case", &id)?;
    let tx = tenant.transaction().await?;
    let detail = detail(&tx, &state, id, Utc::now()).await?;
    tx.commit().await?;
    Ok(Json(detail))
}
