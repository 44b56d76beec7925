//! `POST /v1/cases/{id}/events`: a person records what happened on a case (triage decision,
//! investigation concluded, written summary sent, safety work done, preventative work started,
//! completed or not reasonably practicable, a stop, an access attempt, alternative
//! accommodation, closure). The event is checked against the case replayed from its record;
//! one the case does not accept now is refused with 409 and the list of what it accepts.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_alerts::cases::append_event;
use dampwatch_alerts::deadlines::LATE_RECORD_KEY;
use dampwatch_alerts::error::AlertsError;
use dampwatch_clock::case::EventKind;
use dampwatch_clock::{CaseEvent, TransitionError};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_postgres::Transaction;

use super::cases::{detail, load_case};
use crate::extract::{parse_id, JsonBody};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Longest `actor`.
const MAX_ACTOR_LEN: usize = 200;

/// Who did it, when, and the evidence, around a case event.
#[derive(Debug, Deserialize)]
pub struct Recorded {
    /// The person (name, staff id or e-mail) who did or decided it.
    pub actor: String,
    /// Evidence: any JSON object (documents, photos, notes, references).
    #[serde(default)]
    pub evidence: Option<Value>,
    /// When it happened; now when absent.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Why a case event is recorded more than `late_record_tolerance` after `at` (required
    /// then). Not `reason`, which some events carry as their own detail.
    #[serde(default)]
    pub late_reason: Option<String>,
}

/// The body of `POST /v1/cases/{id}/events`: a case event (tagged by `type`) with who, when
/// and evidence.
#[derive(Debug, Deserialize)]
pub struct EventRequest {
    #[serde(flatten)]
    pub event: CaseEvent,
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Refuse (409) unless the case has exactly this many events: protects against two
    /// people recording at once from screens showing the same state.
    #[serde(default)]
    pub expected_event_count: Option<i32>,
}

/// What is stored as the event's `actor`: the person, and the key the record came through.
pub(crate) fn stored_actor(actor: &str, key_id: i64) -> String {
    format!("user:{actor} via api-key:{key_id}")
}

/// Checks who, when and evidence; returns (stored actor, instant, evidence object).
pub(crate) fn check_recorded(
    recorded: &Recorded,
    tenant: &Tenant,
    state: &ApiState,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>, Value), ApiError> {
    let actor = recorded.actor.trim();
    if actor.is_empty() || actor.chars().count() > MAX_ACTOR_LEN || actor.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(format!(
            "actor must name the person: 1 to {MAX_ACTOR_LEN} characters without control characters"
        )));
    }
    let evidence = match &recorded.evidence {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(ApiError::Unprocessable("evidence must be a JSON object".into())),
    };
    let at = recorded.at.unwrap_or(now);
    let skew =
        chrono::Duration::from_std(state.config.max_event_future_skew).unwrap_or(chrono::Duration::zero());
    if at > now + skew {
        return Err(ApiError::Unprocessable(format!(
            "at ({at}) is in the future; record events once they happened"
        )));
    }
    Ok((stored_actor(actor, tenant.key_id()), at, evidence))
}

/// Longest `late_reason`.
const MAX_LATE_REASON_LEN: usize = 2000;

/// The evidence to store with a case event recorded late: the person's evidence with the
/// reason added under [`LATE_RECORD_KEY`]. Refused (422) without a reason.
fn with_late_reason(
    recorded: &Recorded,
    mut evidence: Value,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<Value, ApiError> {
    let reason = recorded.late_reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() || reason.chars().count() > MAX_LATE_REASON_LEN {
        let hours = tolerance.as_secs() / 3600;
        let problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "late-record-needs-reason",
            "An event recorded late needs a reason",
            format!(
                "at ({at}) is more than {}s before it is recorded ({now}); give late_reason                  (1 to {MAX_LATE_REASON_LEN} characters): the step it meets will show it as                  recorded late{}",
                tolerance.as_secs(),
                if hours > 0 { format!(" (tolerance {hours} h)") } else { String::new() },
            ),
        )
        .with("occurred_at", at.to_rfc3339())
        .with("recorded_at", now.to_rfc3339())
        .with("tolerance_seconds", tolerance.as_secs());
        return Err(ApiError::problem(problem));
    }
    if let Value::Object(map) = &mut evidence {
        map.insert(LATE_RECORD_KEY.to_owned(), json!({ "reason": reason }));
    }
    Ok(evidence)
}

fn names(kinds: &[EventKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.as_str()).collect()
}

/// The answer to an event the case refused.
pub(crate) async fn refused(
    tx: &Transaction<'_>,
    case_id: i64,
    event: &CaseEvent,
    error: &TransitionError,
) -> ApiError {
    let (state, allowed) = match load_case(tx, case_id).await {
        Ok((_, case)) => (json!(case.state().as_str()), json!(names(&case.allowed_events()))),
        Err(e) => return e,
    };
    // All conflicts with the case's record: what state it is in, what is already recorded,
    // or when earlier events happened (an event dated before the one it must follow).
    let reason = match error {
        TransitionError::NotAllowed { .. } => "not_allowed",
        TransitionError::AlreadyRecorded { .. } => "already_recorded",
        TransitionError::OutstandingWork { .. } => "outstanding_work",
        TransitionError::TooEarly { .. } => "too_early",
    };
    let title = "The case does not accept this event now";
    let mut problem = Problem::new(StatusCode::CONFLICT, "invalid-transition", title, error.to_string())
        .with("case_id", case_id)
        .with("state", state)
        .with("event", event.kind().as_str())
        .with("reason", reason)
        .with("allowed", allowed);
    if let TransitionError::OutstandingWork { missing } = error {
        problem = problem.with("missing", names(&missing.0));
    }
    ApiError::problem(problem)
}

/// Maps an error of the alerts crate's case functions.
pub(crate) async fn case_error(tx: &Transaction<'_>, event: &CaseEvent, error: AlertsError) -> ApiError {
    match error {
        AlertsError::CaseNotFound(id) => ApiError::not_found("case", id),
        AlertsError::Transition { case_id, source } => refused(tx, case_id, event, &source).await,
        AlertsError::CaseChanged { case_id, expected, found } => ApiError::problem(
            Problem::new(
                StatusCode::CONFLICT,
                "case-changed",
                "The case changed meanwhile",
                format!("case {case_id} has {found} events, not {expected}; reload it and decide again"),
            )
            .with("case_id", case_id)
            .with("expected_event_count", expected)
            .with("event_count", found),
        ),
        AlertsError::Db(e) => ApiError::from(e),
        other => ApiError::Internal(other.to_string()),
    }
}

/// A 201 answer with the case and its location.
pub(crate) fn created(case_id: i64, body: impl serde::Serialize) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/cases/{case_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub async fn post(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<EventRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id("case", &id)?;
    let now = Utc::now();
    let (actor, at, mut evidence) = check_recorded(&request.recorded, &tenant, &state, now)?;
    if evidence.get(LATE_RECORD_KEY).is_some() {
        return Err(ApiError::Unprocessable(format!(
            "evidence.{LATE_RECORD_KEY} is kept for the reason of a late record; give it as late_reason"
        )));
    }
    let tolerance = state.config.late_record_tolerance;
    let late = now.signed_duration_since(at).to_std().is_ok_and(|behind| behind > tolerance);
    let tx = tenant.transaction().await?;
    if late {
        // An event the case refuses anyway gets the case's answer first: the reason would not
        // make it acceptable.
        let (_, mut case) = load_case(&tx, id).await?;
        if let Err(e) = case.apply(at, &request.event) {
            return Err(refused(&tx, id, &request.event, &e).await);
        }
        evidence = with_late_reason(&request.recorded, evidence, at, now, tolerance)?;
    }
    let appended = append_event(
        &tx,
        &state.clock,
        id,
        request.expected_event_count,
        &actor,
        at,
        &request.event,
        &evidence,
        now,
    )
    .await;
    if let Err(e) = appended {
        return Err(case_error(&tx, &request.event, e).await);
    }
    let body = detail(&tx, &state.clock, id, now).await?;
    tx.commit().await?;
    Ok(created(id, body))
}
