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
use dampwatch_accounts::Permission;
use dampwatch_alerts::cases::append_event;
use dampwatch_alerts::deadlines::LATE_RECORD_KEY;
use dampwatch_alerts::error::AlertsError;
use dampwatch_clock::case::EventKind;
use dampwatch_clock::{CaseEvent, TransitionError};
use dampwatch_privacy::case_texts::REFERENCE_KEY;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_postgres::Transaction;

use dampwatch_store::read_model::CaseDetail;

use super::cases::{detail, load_case};
use crate::audit::{self, Entry};
use crate::caller::{Caller, Principal};
use crate::extract::{parse_id, JsonBody};
use crate::keys::Credential;
use crate::openapi::{InvalidTransition, ProblemDocument};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Longest `actor`.
const MAX_ACTOR_LEN: usize = 200;

/// Who did it, when, and the evidence, around a case event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// The members of an events body that say who, when and why late (the rest is the event).
const RECORDED_FIELDS: &[&str] = &["actor", "evidence", "at", "late_reason"];

/// The body of `POST /v1/cases/{id}/events`: a case event (tagged by `type`) with who, when
/// and evidence. A member that neither the event nor the record knows is refused (422), so a
/// misspelt `expected_event_count` cannot pass as an unguarded write.
#[derive(Debug)]
pub struct EventRequest {
    pub event: CaseEvent,
    pub recorded: Recorded,
    /// Refuse (409) unless the case has exactly this many events: protects against two
    /// people recording at once from screens showing the same state.
    pub expected_event_count: Option<i32>,
}

impl<'de> Deserialize<'de> for EventRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = Map::<String, Value>::deserialize(deserializer)?;
        EventRequest::from_members(body).map_err(serde::de::Error::custom)
    }
}

impl EventRequest {
    fn from_members(mut event: Map<String, Value>) -> Result<Self, String> {
        let mut recorded = Map::new();
        for name in RECORDED_FIELDS {
            if let Some(value) = event.remove(*name) {
                recorded.insert((*name).to_owned(), value);
            }
        }
        let expected_event_count = match event.remove("expected_event_count") {
            None | Some(Value::Null) => None,
            Some(v) => match serde_json::from_value::<i32>(v) {
                Ok(n) if n >= 0 => Some(n),
                _ => return Err("expected_event_count must be an integer from 0 to 2147483647".to_owned()),
            },
        };
        let kind: EventKind = match event.get("type") {
            Some(t) => serde_json::from_value(t.clone()).map_err(|e| e.to_string())?,
            None => return Err("missing field `type`".to_owned()),
        };
        let fields = event_fields(kind);
        if let Some(unknown) = event.keys().find(|k| *k != "type" && !fields.iter().any(|f| f.name == *k)) {
            let mut known: Vec<&str> = vec!["type"];
            known.extend(fields.iter().map(|f| f.name));
            known.extend(RECORDED_FIELDS);
            known.push("expected_event_count");
            return Err(format!(
                "unknown field `{unknown}` for a {} event, expected one of {}",
                kind.as_str(),
                known.join(", ")
            ));
        }
        let event: CaseEvent = serde_json::from_value(Value::Object(event)).map_err(|e| e.to_string())?;
        let recorded: Recorded =
            serde_json::from_value(Value::Object(recorded)).map_err(|e| e.to_string())?;
        Ok(EventRequest { event, recorded, expected_event_count })
    }
}

/// A member an event of some kind carries besides `type`.
#[derive(Debug, Clone, Copy)]
pub struct EventField {
    pub name: &'static str,
    pub required: bool,
    /// Its JSON schema.
    pub schema: fn() -> Value,
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// The members each kind of event carries besides `type`. The body check and the OpenAPI
/// document both read this, so what is documented is what is accepted; the match is
/// exhaustive, so a new kind in the clock does not compile until it is listed here.
pub fn event_fields(kind: EventKind) -> &'static [EventField] {
    match kind {
        EventKind::TriageDecided => &[
            EventField { name: "category", required: true, schema: category_schema },
            EventField { name: "hazard", required: false, schema: hazard_schema },
        ],
        EventKind::InvestigationConcluded => {
            &[EventField { name: "outcome", required: true, schema: investigation_outcome_schema }]
        }
        EventKind::PreventativeNotReasonablyPracticable => {
            &[EventField { name: "reason", required: true, schema: text_schema }]
        }
        EventKind::Stop => &[EventField { name: "reason", required: true, schema: stop_reason_schema }],
        EventKind::AccessAttempt => {
            &[EventField { name: "outcome", required: true, schema: access_outcome_schema }]
        }
        EventKind::UnableToComply => &[
            EventField { name: "step", required: true, schema: unable_step_schema },
            EventField { name: "reason", required: true, schema: text_schema },
            EventField { name: "expected", required: true, schema: expected_compliance_schema },
        ],
        EventKind::WrittenSummarySent
        | EventKind::SafetyWorkDone
        | EventKind::PreventativeWorkStarted
        | EventKind::PreventativeWorkCompleted
        | EventKind::AlternativeAccommodationOffered
        | EventKind::AlternativeAccommodationProvided
        | EventKind::Closed
        | EventKind::SafetyWorkCommenced => &[],
    }
}

fn category_schema() -> Value {
    one_of(TRIAGE_CATEGORIES)
}

fn investigation_outcome_schema() -> Value {
    one_of(&["hazard_found", "no_hazard"])
}

fn stop_reason_schema() -> Value {
    one_of(&["household_moved_out", "third_party_consent_withheld", "no_hazard_found"])
}

fn access_outcome_schema() -> Value {
    one_of(&["no_access", "refused", "granted"])
}

fn unable_step_schema() -> Value {
    one_of(&["investigate", "safety_work_commenced"])
}

fn text_schema() -> Value {
    json!({"type": "string"})
}

fn expected_compliance_schema() -> Value {
    json!({
        "description": "When the landlord expects to comply: by a Europe/London date, or within working days.",
        "oneOf": [
            {"type": "object", "required": ["by"], "additionalProperties": false,
             "properties": {"by": {"type": "string", "format": "date"}}},
            {"type": "object", "required": ["working_days"], "additionalProperties": false,
             "properties": {"working_days": {"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX}}}
        ]
    })
}

/// Every kind of event, in the order the document lists them.
pub const EVENT_KINDS: &[EventKind] = &[
    EventKind::TriageDecided,
    EventKind::InvestigationConcluded,
    EventKind::WrittenSummarySent,
    EventKind::SafetyWorkDone,
    EventKind::PreventativeWorkStarted,
    EventKind::PreventativeWorkCompleted,
    EventKind::PreventativeNotReasonablyPracticable,
    EventKind::Stop,
    EventKind::AccessAttempt,
    EventKind::AlternativeAccommodationOffered,
    EventKind::AlternativeAccommodationProvided,
    EventKind::Closed,
    EventKind::SafetyWorkCommenced,
    EventKind::UnableToComply,
];

/// The triage decisions.
pub(crate) const TRIAGE_CATEGORIES: &[&str] = &["emergency", "significant", "no_hazard"];

/// An HHSRS (2006) hazard slug.
pub(crate) fn hazard_schema() -> Value {
    let slugs: Vec<&str> = dampwatch_clock::Hazard::ALL.iter().map(|h| h.slug()).collect();
    json!({"type": ["string", "null"], "enum": slugs.into_iter().map(Value::from).chain([Value::Null]).collect::<Vec<_>>(),
           "description": "The HHSRS hazard, when the person names a different one from the potential issue's."})
}

/// The schemas of who, when, evidence and late reason (`with_late_reason`: the events body's).
pub(crate) fn recorded_properties(with_late_reason: bool) -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert(
        "actor".into(),
        json!({
            "type": "string", "minLength": 1, "maxLength": MAX_ACTOR_LEN,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
            "description": "The person who did or decided it (not blank, no control characters)."
        }),
    );
    properties.insert(
        "evidence".into(),
        json!({"type": ["object", "null"], "description": "Any JSON object: documents, photos, notes, references. Stored sealed under the landlord's case text key (the case log keeps `sealed_text`: its id and a salted SHA-256) and shown opened; `sealed_text` and `late_record` are reserved. Refused with 503 `no-secrets-key` when the service holds no secrets key."}),
    );
    properties.insert(
        "at".into(),
        json!({"type": ["string", "null"], "format": "date-time", "description": "When it happened (default: now). Not in the future."}),
    );
    if with_late_reason {
        properties.insert(
            "late_reason".into(),
            json!({
                "type": ["string", "null"], "minLength": 1, "maxLength": MAX_LATE_REASON_LEN,
                "description": "Required (422 otherwise) when `at` is more than the tolerance (24 hours by default) before now; stored with the evidence as `late_record`, and the step the event meets shows it as recorded late."
            }),
        );
    }
    properties
}

impl utoipa::PartialSchema for EventRequest {
    /// One alternative per kind of event: its own members, who, when, evidence, late reason and
    /// the expected event count, and nothing else.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let variants: Vec<Value> = EVENT_KINDS
            .iter()
            .map(|kind| {
                let mut properties = Map::new();
                properties.insert("type".into(), json!({"type": "string", "enum": [kind.as_str()]}));
                let mut required = vec![json!("type"), json!("actor")];
                for field in event_fields(*kind) {
                    properties.insert(field.name.into(), (field.schema)());
                    if field.required {
                        required.push(json!(field.name));
                    }
                }
                properties.extend(recorded_properties(true));
                properties.insert(
                    "expected_event_count".into(),
                    json!({
                        "type": ["integer", "null"], "format": "int32", "minimum": 0, "maximum": i32::MAX,
                        "description": "Refuse (409) unless the case has exactly this many events."
                    }),
                );
                json!({"type": "object", "title": kind.as_str(), "required": required, "properties": properties,
                       "additionalProperties": false})
            })
            .collect();
        let schema = json!({
            "description": "What happened (tagged by `type`), who did it, when, and evidence.",
            "oneOf": variants,
        });
        serde_json::from_value(schema).expect("the events body's schema is an OpenAPI schema")
    }
}

impl utoipa::ToSchema for EventRequest {}

/// What is stored as the event's `actor`. Through a key: the person the landlord's system
/// names, and the key the record came through. A signed-in person: their own account, whatever
/// the body says.
pub(crate) fn stored_actor(actor: &str, caller: &Caller) -> String {
    match &caller.principal {
        Principal::Key { id, credential: Credential::ApiKey, .. } => format!("user:{actor} via api-key:{id}"),
        Principal::Key { id, credential: Credential::OAuthToken, .. } => {
            format!("user:{actor} via oauth-client:{id}")
        }
        Principal::Person(_) => caller.actor(),
    }
}

/// The events that record works on the home: what a contractor may record on the cases
/// assigned to them (with the `record_works` permission alone).
pub(crate) fn is_works(event: &CaseEvent) -> bool {
    matches!(
        event,
        CaseEvent::SafetyWorkDone
            | CaseEvent::PreventativeWorkStarted
            | CaseEvent::PreventativeWorkCompleted
            | CaseEvent::AccessAttempt { .. }
    )
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
    if evidence.get(LATE_RECORD_KEY).is_some() {
        return Err(ApiError::Unprocessable(format!(
            "evidence.{LATE_RECORD_KEY} is kept for the reason of a late record; give it as late_reason"
        )));
    }
    if evidence.get(REFERENCE_KEY).is_some() {
        return Err(ApiError::Unprocessable(format!(
            "evidence.{REFERENCE_KEY} is kept for the reference to the evidence's sealed text; name it otherwise"
        )));
    }
    let at = recorded.at.unwrap_or(now);
    let skew =
        chrono::Duration::from_std(state.config.max_event_future_skew).unwrap_or(chrono::Duration::zero());
    if at > now + skew {
        return Err(ApiError::Unprocessable(format!(
            "at ({at}) is in the future; record events once they happened"
        )));
    }
    Ok((stored_actor(actor, tenant.caller()), at, evidence))
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
    let (status, allowed) = match load_case(tx, case_id).await {
        Ok((_, _, case)) => (json!(case.state().as_str()), json!(names(&case.allowed_events()))),
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
        .with("case_status", status)
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

/// Record what happened on a case
///
/// Appends an event (never edits one). An event the case does not accept now is refused with
/// 409 and the list of events it accepts (`allowed`).
#[utoipa::path(
    post,
    path = "/v1/cases/{id}/events",
    operation_id = "recordCaseEvent",
    tag = "cases",
    params(("id" = String, Path, pattern = "^[0-9]+$",
        description = "The case's id. An id of another landlord's case is answered 404, as an unknown one.")),
    request_body(content = EventRequest, description = "The event, who did it, when, and evidence."),
    responses(
        (status = 201, description = "The case after the event.", body = CaseDetail,
            headers(("Location" = String, description = "The case: `/v1/cases/{id}`."))),
        (status = 404, description = "No such case.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 409, description = "The case does not accept this event now (`allowed` lists what it accepts; `reason` says why: not_allowed in this status, already_recorded, outstanding_work before closure, too_early: dated before what it must follow), or it changed meanwhile (expected_event_count).",
            body = InvalidTransition, content_type = "application/problem+json"),
        (status = 422, description = "The body's content is not acceptable (unknown event type or member, blank actor, a time in the future, or `late-record-needs-reason`: `at` is more than the tolerance in the past and no `late_reason` was given, or the landlord's data keys were erased, so no evidence with text can be sealed).",
            body = ProblemDocument, content_type = "application/problem+json"),
        (status = 503, description = "`no-secrets-key`: the evidence holds text, which is stored only sealed, and this service holds no secrets key to seal it with.",
            body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
pub async fn post(
    State(state): State<ApiState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<EventRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id("case", &id)?;
    let body = record(&state, tenant, id, request).await?;
    Ok(created(id, body))
}

/// Records `request` on case `id` for the tenant's caller (the API's and the dashboard's one
/// way of recording an event) and returns the case as it then stands.
pub(crate) async fn record(
    state: &ApiState,
    mut tenant: Tenant,
    id: i64,
    request: EventRequest,
) -> Result<CaseDetail, ApiError> {
    if !tenant.caller().allows(Permission::RecordCaseEvents) && !is_works(&request.event) {
        return Err(ApiError::Forbidden(
            "only works (and access attempts) may be recorded by this caller".into(),
        ));
    }
    let now = state.now();
    let (actor, at, mut evidence) = check_recorded(&request.recorded, &tenant, state, now)?;
    let caller = tenant.caller().clone();
    let landlord = tenant.landlord_id().to_owned();
    let tolerance = state.config.late_record_tolerance;
    let late = now.signed_duration_since(at).to_std().is_ok_and(|behind| behind > tolerance);
    let tx = tenant.transaction().await?;
    if late {
        // An event the case refuses anyway gets the case's answer first: the reason would not
        // make it acceptable.
        let (_, _, mut case) = load_case(&tx, id).await?;
        if let Err(e) = case.apply(at, &request.event) {
            return Err(refused(&tx, id, &request.event, &e).await);
        }
        evidence = with_late_reason(&request.recorded, evidence, at, now, tolerance)?;
    }
    let evidence = crate::sealed_text::seal(&tx, state, &landlord, id, evidence).await?;
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
    let body = detail(&tx, state, id, now).await?;
    let details = json!({"event": request.event.kind().as_str(), "at": at, "recorded_as": actor});
    audit::record(&*tx, &Entry::of(&caller, "case.event", Some(format!("case:{id}")), details)).await?;
    tx.commit().await?;
    Ok(body)
}
