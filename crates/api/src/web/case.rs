//! `GET /cases/{id}`: a case's page: its deadlines with how each was computed, its timeline of
//! events (who, when, recorded when, evidence, chain hash), and a form for each event the case
//! accepts now. `POST /cases/{id}/events` records one through the API's own recording
//! (`handlers::events::record`: same permission checks, state machine, late-record rule, audit
//! entry), guarded by the session's CSRF token and by the event count the page showed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use dampwatch_accounts::{users, Permission, Role};
use dampwatch_store::read_model::{alert, case, Alert, CaseDetail, Deadline};
use maud::{html, Markup};
use serde_json::{Map, Value};
use std::collections::HashMap;

use super::layout::{due_words, page, status_words, when};
use super::viewer::Viewer;
use crate::extract::{parse_id, JsonBody};
use crate::handlers::assign::{post as assign_case, Assignment};
use crate::handlers::cases::detail;
use crate::handlers::events::{record as record_event, EventRequest};
use crate::handlers::evidence;
use crate::handlers::me::user_error;
use crate::problem::ApiError;
use crate::state::ApiState;

/// The choices of the events' fields a form offers (the clock's enums, by their names).
const CHOICES: &[(&str, &str, &[&str])] = &[
    ("triage_decided", "category", &["emergency", "significant", "no_hazard"]),
    ("investigation_concluded", "outcome", &["hazard_found", "no_hazard"]),
    ("access_attempt", "outcome", &["no_access", "refused", "granted"]),
    ("stop", "reason", &["household_moved_out", "third_party_consent_withheld", "no_hazard_found"]),
];

/// Events whose only detail is free text.
const TEXT_REASON: &[&str] = &["preventative_not_reasonably_practicable"];

/// Events with no detail.
const PLAIN: &[&str] =
    &["written_summary_sent", "safety_work_done", "preventative_work_started", "preventative_work_completed"];

/// What the page shows besides the case's detail.
struct CasePage {
    detail: CaseDetail,
    /// The alert that raised the potential issue, with its explanation.
    alert: Option<Alert>,
    /// Events whose chain hash does not recompute (empty: intact).
    breaks: Vec<i32>,
    /// People the case can be given to, when the viewer may assign it: (id, name, role).
    assignable: Vec<(i64, String, Role)>,
}

async fn load(state: &ApiState, viewer: &Viewer, id: i64) -> Result<CasePage, ApiError> {
    let mut tenant = viewer.tenant(state);
    let tx = tenant.transaction().await?;
    let detail = detail(&tx, state, id, state.now()).await?;
    let alert = match detail.case.alert_id {
        Some(a) if viewer.may(Permission::ReadAlerts) => alert::find(&*tx, a).await?,
        _ => None,
    };
    let breaks = case::chain_breaks(&*tx, id).await?;
    let assignable = if viewer.may(Permission::AssignCases) {
        users::list(&*tx, None)
            .await
            .map_err(user_error)?
            .into_iter()
            .filter(|u| u.disabled_at.is_none() && matches!(u.role, Role::HousingOfficer | Role::Contractor))
            .map(|u| (u.id, u.display_name, u.role))
            .collect()
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(CasePage { detail, alert, breaks, assignable })
}

/// How a deadline was computed, in words: the period, what it counts from, the bank holidays
/// it skipped, the calendar and rules versions, the source.
fn computation(s: &Deadline) -> String {
    let period = match s.basis.as_str() {
        "elapsed_hours" => format!("{} hours", s.amount),
        "working_days" => format!("{} working days", s.amount),
        "weeks" => format!("{} weeks", s.amount),
        "product_policy" => format!("{} hours (product policy)", s.amount),
        other => format!("{} {}", s.amount, other.replace('_', " ")),
    };
    let skipped: Vec<String> = s.detail["deadline"]["bank_holidays_skipped"]
        .as_array()
        .map(|days| {
            days.iter()
                .filter_map(|d| d.as_str().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()))
                .map(|d| d.format("%-d %b %Y").to_string())
                .collect()
        })
        .unwrap_or_default();
    let skipped = if skipped.is_empty() { "none".to_owned() } else { skipped.join(", ") };
    format!(
        "{period} from {} ({}); bank holidays skipped: {skipped}; calendar {}; rules {}; {}",
        s.counted_from_event.replace('_', " "),
        when(s.counted_from),
        s.calendar_version,
        s.rules_version,
        s.source
    )
}

/// A step's status for the page: a step met after its deadline is "met late".
fn step_status(s: &Deadline) -> &str {
    if s.status == "met" && s.detail["status"]["on_time"] == Value::Bool(false) {
        "met_late"
    } else {
        &s.status
    }
}

fn event_form(id: i64, kind: &str, detail: &CaseDetail, csrf: &str) -> Markup {
    let choice = CHOICES.iter().find(|(k, _, _)| *k == kind);
    let known = choice.is_some() || TEXT_REASON.contains(&kind) || PLAIN.contains(&kind);
    let label = kind.replace('_', " ");
    html! {
        @if known {
            form.event method="post" action={"/cases/" (id) "/events"} {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="type" value=(kind);
                input type="hidden" name="expected_event_count" value=(detail.case.event_count);
                @if let Some((_, field, options)) = choice {
                    label for={(kind) "-" (field)} { (label) ": " (field) }
                    select id={(kind) "-" (field)} name=(field) {
                        @for o in options.iter() { option value=(o) { (o.replace('_', " ")) } }
                    }
                }
                @if TEXT_REASON.contains(&kind) {
                    label for={(kind) "-reason"} { (label) ": reason" }
                    input id={(kind) "-reason"} name="reason" required;
                }
                label for={(kind) "-note"} { "Note for the record (optional)" }
                input id={(kind) "-note"} name="note";
                p { button type="submit" { "Record: " (label) } }
            }
        } @else {
            p { (label) ": record it through the API (" code { "POST /v1/cases/" (id) "/events" } ")." }
        }
    }
}

fn render(viewer: &Viewer, page_data: &CasePage, error: Option<&str>) -> Response {
    let d = &page_data.detail;
    let c = &d.case;
    let id = c.id;
    let content = html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        dl {
            dt { "Hazard" } dd { (c.hazard.replace('_', " ")) }
            dt { "Home" } dd {
                (c.room.dwelling_reference.as_deref().unwrap_or("")) " " (c.room.room_name.as_deref().unwrap_or(&c.room.key))
                @if !c.area.is_empty() { " (" (c.area) ")" }
                @if let (Some(room), true) = (c.room.room_id, viewer.may(Permission::ReadDevices)) {
                    " — " a href={"/rooms/" (room)} { "the room's charts and devices" }
                }
            }
            dt { "Status" } dd { (c.status.replace('_', " ")) }
            dt { "Law" } dd { (c.jurisdiction) ", " (c.tenure.replace('_', " ")) }
            @if let Some(a) = c.awareness { dt { "Landlord aware" } dd { (when(a)) } }
            dt { "Assigned to" } dd { (c.assigned_to.as_deref().unwrap_or("no one")) }
            dt { "Event log" } dd {
                @if page_data.breaks.is_empty() {
                    "intact: " (d.events.len()) " events, each hash recomputed from its content and the one before"
                    @if let Some(head) = &c.log_head { " (head " code { (head.hash.chars().take(16).collect::<String>()) } ")" }
                } @else {
                    strong.error { "BROKEN: the stored hash of event " (page_data.breaks.iter().map(i32::to_string).collect::<Vec<_>>().join(", "))
                        " does not match its content; the log was changed after it was written" }
                }
            }
            @if viewer.may(Permission::ExportEvidence) {
                dt { "Evidence" } dd {
                    a href={"/cases/" (id) "/evidence"} download { "Download the sealed evidence pack" }
                    " (the readings as the devices signed them, every event, every deadline with the law it was \
                     computed under; " code { "dampwatch evidence verify" } " checks it offline)"
                }
            }
        }
        @if let Some(alert) = &page_data.alert {
            h2 { "The alert that opened it" }
            p { "Alert " (alert.id) ", " (alert.hazard.replace('_', " ")) ", raised " (when(alert.raised_at))
                " (condition since " (when(alert.since)) "): " (alert.summary) }
            p { small { "Rules " (alert.rule_ids.join(", ")) ", rule set " (alert.ruleset_version) } }
            @if let Some(explanation) = &alert.explanation {
                details { summary { "The findings behind it" } pre { (serde_json::to_string_pretty(explanation).unwrap_or_default()) } }
            }
        }
        @if !page_data.assignable.is_empty() {
            form method="post" action={"/cases/" (id) "/assign"} {
                input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                label for="assignee" { "Give the case to" }
                select id="assignee" name="user_id" {
                    option value="" { "no one" }
                    @for (uid, name, role) in &page_data.assignable {
                        option value=(uid) selected[c.assigned_user_id == Some(*uid)] { (name) " (" (role.as_str().replace('_', " ")) ")" }
                    }
                }
                " " button type="submit" { "Assign" }
            }
        }
        h2 { "Deadlines" }
        table {
            thead { tr { th scope="col" { "Step" } th scope="col" { "Status" } th scope="col" { "Due" }
                         th scope="col" { "How it was computed" } } }
            tbody {
                @for s in &d.deadlines {
                    @let (words, class) = status_words(step_status(s));
                    tr {
                        td { (s.step.replace('_', " ")) @if s.provisional { " (provisional)" } }
                        td { span class={"status " (class)} { (words) }
                             @if let Some(late) = &s.recorded_late { " — recorded late: " (late.event.replace('_', " ")) } }
                        td { (due_words(s)) }
                        td { (computation(s)) }
                    }
                }
            }
        }
        h2 { "Timeline" }
        ol.timeline {
            @for e in &d.events {
                li {
                    strong { (e.kind.replace('_', " ")) } " — " (when(e.occurred_at)) " by " (e.actor)
                    @if e.recorded_at != e.occurred_at { " (recorded " (when(e.recorded_at)) ")" }
                    @if e.evidence.as_object().is_some_and(|o| !o.is_empty()) { br; "Evidence: " code { (e.evidence) } }
                    br; small { "Chain hash " code { (e.hash.chars().take(16).collect::<String>()) } }
                }
            }
        }
        @if viewer.may(Permission::RecordWorks) && !d.allowed_events.is_empty() {
            h2 { "Record what happened" }
            @for kind in &d.allowed_events { (event_form(id, kind, d, &viewer.csrf_token)) }
        }
    };
    page(&format!("Case {id}"), Some(viewer), content)
}

/// `GET /cases/{id}`.
pub async fn get(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    viewer.require(Permission::ReadCases)?;
    let id = parse_id("case", &id)?;
    let d = load(&state, &viewer, id).await?;
    Ok(render(&viewer, &d, None))
}

/// `GET /cases/{id}/evidence`: the case's sealed evidence pack, as the API exports it
/// (permission, audit entry and all).
pub async fn evidence(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    viewer.require(Permission::ExportEvidence)?;
    let id = parse_id("case", &id)?;
    let pack = evidence::pack(&state, viewer.tenant(&state), id).await?;
    Ok(evidence::download(id, pack))
}

/// The assignment form.
#[derive(serde::Deserialize)]
pub struct AssignForm {
    csrf_token: String,
    #[serde(default)]
    user_id: String,
}

/// `POST /cases/{id}/assign`: through the API's own assignment (checks, audit).
pub async fn assign(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<AssignForm>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    viewer.require(Permission::AssignCases)?;
    let user_id = match f.user_id.trim() {
        "" => None,
        u => Some(parse_id("user", u)?),
    };
    let body = JsonBody(Assignment { user_id });
    match assign_case(State(state.clone()), viewer.tenant(&state), Path(id.clone()), body).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}")).into_response()),
        Err(ApiError::Unprocessable(reason)) => {
            let id = parse_id("case", &id)?;
            let d = load(&state, &viewer, id).await?;
            let mut response = render(&viewer, &d, Some(&reason));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

/// `POST /cases/{id}/events`.
pub async fn record(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    viewer.require(Permission::RecordWorks)?;
    let id = parse_id("case", &id)?;
    viewer.check_csrf(fields.get("csrf_token").map_or("", String::as_str))?;
    let mut body = Map::new();
    for (name, value) in &fields {
        match name.as_str() {
            "csrf_token" | "note" => {}
            "expected_event_count" => {
                let count =
                    value.parse::<i64>().map_err(|_| ApiError::BadRequest("bad event count".into()))?;
                body.insert(name.clone(), Value::from(count));
            }
            _ if !value.trim().is_empty() => {
                body.insert(name.clone(), Value::from(value.trim()));
            }
            _ => {}
        }
    }
    // The stored actor of a person's event is their account; the body's name is required by
    // the API's format only.
    body.insert("actor".into(), Value::from("dashboard"));
    if let Some(note) = fields.get("note").filter(|n| !n.trim().is_empty()) {
        body.insert("evidence".into(), serde_json::json!({"note": note.trim()}));
    }
    let request: EventRequest = match serde_json::from_value(Value::Object(body)) {
        Ok(r) => r,
        Err(e) => {
            let d = load(&state, &viewer, id).await?;
            let mut response = render(&viewer, &d, Some(&format!("Not recorded: {e}")));
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    match record_event(&state, viewer.tenant(&state), id, request).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{id}")).into_response()),
        Err(e @ (ApiError::Problem(_) | ApiError::Unprocessable(_) | ApiError::Forbidden(_))) => {
            let problem = e.to_problem();
            let d = load(&state, &viewer, id).await?;
            let mut response = render(&viewer, &d, Some(&format!("Not recorded: {}", problem.detail)));
            *response.status_mut() = problem.status;
            Ok(response)
        }
        Err(e) => Err(e),
    }
}
