//! `GET /alerts`: sensor alerts waiting for a person's triage, earliest review deadline first,
//! each with a form to decide it; `POST /alerts/{id}/triage` decides one through the API's own
//! triage (`handlers::triage::triage`: the case is opened and the decision recorded, audited).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use dampwatch_accounts::Permission;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::layout::{page, status_words, when};
use super::viewer::Viewer;
use crate::extract::parse_id;
use crate::handlers::sla::{report, StepDetail};
use crate::handlers::triage::{triage, TriageRequest};
use crate::problem::ApiError;
use crate::state::ApiState;

async fn render(state: &ApiState, viewer: &Viewer, error: Option<&str>) -> Result<Response, ApiError> {
    viewer.require(Permission::ReadAlerts)?;
    let sla = report(state, viewer.tenant(state), state.now(), StepDetail::Summary).await?;
    let may_triage = viewer.may(Permission::TriageAlerts);
    let content = html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if sla.alerts_awaiting_triage.is_empty() {
            p { "No alert is waiting for triage." }
        }
        @for alert in &sla.alerts_awaiting_triage {
            section.alert aria-labelledby={"alert-" (alert.id)} {
                h2 id={"alert-" (alert.id)} { "Alert " (alert.id) ": " (alert.hazard.replace('_', " ")) }
                p {
                    (alert.room.dwelling_reference.as_deref().unwrap_or("")) " "
                    (alert.room.room_name.as_deref().unwrap_or(&alert.room.key))
                    ", raised " (when(alert.raised_at))
                }
                @if let Some(review) = &alert.triage_review {
                    @let (words, class) = status_words(&review.status);
                    p { "Review due " (when(review.due)) " " span class={"status " (class)} { (words) } }
                }
                @if may_triage {
                    form method="post" action={"/alerts/" (alert.id) "/triage"} {
                        input type="hidden" name="csrf_token" value=(viewer.csrf_token);
                        label for={"category-" (alert.id)} { "Decision" }
                        select id={"category-" (alert.id)} name="category" {
                            option value="significant" { "Significant hazard" }
                            option value="emergency" { "Emergency hazard" }
                            option value="no_hazard" { "No hazard" }
                        }
                        p { button type="submit" { "Record the triage of alert " (alert.id) } }
                    }
                }
            }
        }
    };
    Ok(page("Alerts awaiting triage", Some(viewer), content))
}

/// `GET /alerts`.
pub async fn get(State(state): State<ApiState>, viewer: Viewer) -> Result<Response, ApiError> {
    render(&state, &viewer, None).await
}

#[derive(Deserialize)]
pub struct TriageForm {
    csrf_token: String,
    category: String,
}

/// `POST /alerts/{id}/triage`: on success, the new case's page.
pub async fn post(
    State(state): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<TriageForm>,
) -> Result<Response, ApiError> {
    viewer.require(Permission::TriageAlerts)?;
    let id = parse_id("alert", &id)?;
    viewer.check_csrf(&f.csrf_token)?;
    let refused = |detail: String, status: StatusCode| (detail, status);
    let request: TriageRequest =
        serde_json::from_value(json!({"category": f.category, "actor": "dashboard"}))
            .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let outcome = match triage(&state, viewer.tenant(&state), id, request).await {
        Ok(result) => return Ok(Redirect::to(&format!("/cases/{}", result.case_id)).into_response()),
        Err(e @ (ApiError::Problem(_) | ApiError::Unprocessable(_) | ApiError::NotFound { .. })) => {
            let p = e.to_problem();
            refused(p.detail, p.status)
        }
        Err(e) => return Err(e),
    };
    let mut response = render(&state, &viewer, Some(&format!("Not recorded: {}", outcome.0))).await?;
    *response.status_mut() = outcome.1;
    Ok(response)
}
