//! `POST /v1/alerts/{id}/triage`: a person's triage of a sensor alert that waits for it (the
//! landlord's policy `open_on_triage`). The decision opens the case, records the decision as
//! its first clock event, and links the alert to it, all in one transaction. Under this
//! policy the statutory clock starts at the triage decision, not at detection.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dampwatch_alerts::cases::{
    append_event, open_case, CasePolicy, NewCase, POTENTIAL_ISSUE_DETECTED, SYSTEM_ACTOR,
};
use dampwatch_alerts::room::RoomRef;
use dampwatch_clock::case::TriageCategory;
use dampwatch_clock::{AwarenessPolicy, CaseEvent, Hazard};
use serde::{Deserialize, Serialize};
use serde_json::json;

use dampwatch_store::read_model::CaseDetail;
use utoipa::ToSchema;

use super::cases::detail;
use super::events::{
    case_error, check_recorded, created, hazard_schema, recorded_properties, Recorded, TRIAGE_CATEGORIES,
};
use crate::audit::{self, Entry};
use crate::extract::{parse_id, JsonBody};
use crate::openapi::{InvalidTransition, ProblemDocument};
use crate::problem::{ApiError, Problem};
use crate::state::ApiState;
use crate::tenant::Tenant;

/// The body of `POST /v1/alerts/{id}/triage`: the decision with who, when and evidence. A
/// member it does not know is refused (422).
#[derive(Debug, Deserialize)]
#[serde(from = "TriageBody")]
pub struct TriageRequest {
    /// emergency, significant or no_hazard.
    pub category: TriageCategory,
    /// The HHSRS hazard, when the person names a different one from the alert's.
    pub hazard: Option<Hazard>,
    pub recorded: Recorded,
}

/// The members of a triage body as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriageBody {
    category: TriageCategory,
    #[serde(default)]
    hazard: Option<Hazard>,
    actor: String,
    #[serde(default)]
    evidence: Option<serde_json::Value>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

impl From<TriageBody> for TriageRequest {
    fn from(body: TriageBody) -> Self {
        let recorded =
            Recorded { actor: body.actor, evidence: body.evidence, at: body.at, late_reason: None };
        TriageRequest { category: body.category, hazard: body.hazard, recorded }
    }
}

impl utoipa::PartialSchema for TriageRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut properties = recorded_properties(false);
        properties.insert("category".into(), json!({"type": "string", "enum": TRIAGE_CATEGORIES}));
        properties.insert("hazard".into(), hazard_schema());
        let schema = json!({
            "type": "object",
            "description": "The decision, who made it, when, and evidence.",
            "required": ["category", "actor"],
            "properties": properties,
            "additionalProperties": false,
        });
        serde_json::from_value(schema).expect("the triage body's schema is an OpenAPI schema")
    }
}

impl utoipa::ToSchema for TriageRequest {}

/// The answer: the alert's new triage state and the case opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriageResult {
    pub alert_id: i64,
    pub case_id: i64,
    pub case: CaseDetail,
}

struct WaitingAlert {
    room_id: Option<i64>,
    device_id: Option<String>,
    indicator: String,
    hhsrs_hazard: Option<String>,
    severity: String,
    raised_at: DateTime<Utc>,
    rule_ids: Vec<String>,
    triage: String,
    case_id: Option<i64>,
    landlord_id: String,
}

fn conflict(slug: &str, title: &str, detail: String, alert_id: i64) -> Problem {
    Problem::new(StatusCode::CONFLICT, slug, title, detail).with("alert_id", alert_id)
}

/// Triage an alert waiting for triage
///
/// For landlords whose alerts wait for a person's triage (policy open_on_triage): records the
/// decision, opens the case (the statutory clock starts at the decision) and links the alert
/// to it.
#[utoipa::path(
    post,
    path = "/v1/alerts/{id}/triage",
    operation_id = "triageAlert",
    tag = "alerts",
    params(("id" = String, Path, pattern = "^[0-9]+$",
        description = "The alert's id. An id of another landlord's alert is answered 404, as an unknown one.")),
    request_body(content = TriageRequest, description = "The decision, who made it, when, and evidence."),
    responses(
        (status = 201, description = "The case opened.", body = TriageResult,
            headers(("Location" = String, description = "The case: `/v1/cases/{id}`."))),
        (status = 404, description = "No such alert.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 409, description = "The alert already has a case, indicates no HHSRS hazard, or the decision is dated before the alert.",
            body = InvalidTransition, content_type = "application/problem+json"),
        (status = 422, description = "The body's content is not acceptable (or the landlord's data keys were erased, so no evidence with text can be sealed).", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 503, description = "`no-secrets-key`: the evidence holds text, which is stored only sealed, and this service holds no secrets key to seal it with.",
            body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
pub async fn post(
    State(state): State<ApiState>,
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<TriageRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id("alert", &id)?;
    let result = triage(&state, tenant, id, request).await?;
    Ok(created(result.case_id, result))
}

/// Triages alert `id` for the tenant's caller: opens its case and records the decision (the
/// API's and the dashboard's one way of doing it).
pub(crate) async fn triage(
    state: &ApiState,
    mut tenant: Tenant,
    id: i64,
    request: TriageRequest,
) -> Result<TriageResult, ApiError> {
    let now = state.now();
    let (actor, at, evidence) = check_recorded(&request.recorded, &tenant, state, now)?;
    let caller = tenant.caller().clone();
    let tx = tenant.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT room_id, device_id, hazard, hhsrs_hazard, severity, raised_at, rule_ids, triage, case_id, landlord_id
             FROM alerts WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("alert", id))?;
    let alert = WaitingAlert {
        room_id: row.get(0),
        device_id: row.get(1),
        indicator: row.get(2),
        hhsrs_hazard: row.get(3),
        severity: row.get(4),
        raised_at: row.get(5),
        rule_ids: row.get(6),
        triage: row.get(7),
        case_id: row.get(8),
        landlord_id: row.get(9),
    };
    match alert.triage.as_str() {
        "awaiting_triage" => {}
        "case_opened" => {
            let case = alert.case_id.map_or_else(|| "a case".to_owned(), |c| format!("case {c}"));
            let problem = conflict(
                "already-triaged",
                "The alert already has a case",
                format!("alert {id} is held by {case}; record decisions with POST /v1/cases/{{id}}/events"),
                id,
            )
            .with("case_id", alert.case_id);
            return Err(ApiError::problem(problem));
        }
        _ => {
            return Err(ApiError::problem(conflict(
                "not-triageable",
                "The alert indicates no HHSRS hazard",
                format!("alert {id} ({}) indicates no HHSRS hazard, so it opens no case", alert.indicator),
                id,
            )))
        }
    }
    let stored_hazard = alert.hhsrs_hazard.as_deref().unwrap_or_default();
    let hazard: Hazard = stored_hazard
        .parse()
        .map_err(|e| ApiError::Internal(format!("alert {id}: stored HHSRS hazard: {e}")))?;
    let room = match (alert.room_id, alert.device_id.as_deref()) {
        (Some(room), _) => RoomRef::Room(room),
        (None, Some(device)) => RoomRef::Device(device.to_owned()),
        (None, None) => return Err(ApiError::Internal(format!("alert {id} has neither room nor device"))),
    };
    let record = json!({
        "type": POTENTIAL_ISSUE_DETECTED,
        "source": "sensor_alert",
        "alert_id": id,
        "indicator": alert.indicator,
        "severity": alert.severity,
        "rule_ids": alert.rule_ids,
    });
    let new = NewCase {
        landlord_id: &alert.landlord_id,
        room: &room,
        hazard,
        noticed_at: alert.raised_at,
        awareness_policy: AwarenessPolicy::AtTriage,
        case_policy: CasePolicy::OpenOnTriage,
        alert_id: Some(id),
        actor: SYSTEM_ACTOR,
        kind: POTENTIAL_ISSUE_DETECTED,
        record,
        evidence: json!({}),
    };
    let event = CaseEvent::TriageDecided { category: request.category, hazard: request.hazard };
    let case_id = match open_case(&tx, &state.clock, &new, now).await {
        Ok(case_id) => case_id,
        Err(e) => return Err(case_error(&tx, &event, e).await),
    };
    let evidence = crate::sealed_text::seal(&tx, state, &alert.landlord_id, case_id, evidence).await?;
    if let Err(e) = append_event(&tx, &state.clock, case_id, None, &actor, at, &event, &evidence, now).await {
        return Err(case_error(&tx, &event, e).await);
    }
    tx.execute("UPDATE alerts SET triage = 'case_opened', case_id = $2 WHERE id = $1", &[&id, &case_id])
        .await?;
    let case = detail(&tx, state, case_id, now).await?;
    let details = json!({"case_id": case_id, "category": request.category, "recorded_as": actor});
    audit::record(&*tx, &Entry::of(&caller, "alert.triage", Some(format!("alert:{id}")), details)).await?;
    tx.commit().await?;
    Ok(TriageResult { alert_id: id, case_id, case })
}
