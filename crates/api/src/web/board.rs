//! `GET /`: the SLA board. Every open case with its most urgent status in words and colour and
//! its next deadline, overdue first, then by due time (the `GET /v1/sla` report); counts at the
//! top; alerts waiting for triage below.

use axum::extract::State;
use axum::response::Response;
use dampwatch_accounts::Permission;
use maud::html;

use super::layout::{page, status_words, when};
use super::viewer::Viewer;
use crate::handlers::sla::report;
use crate::problem::ApiError;
use crate::state::ApiState;

pub async fn get(State(state): State<ApiState>, viewer: Viewer) -> Result<Response, ApiError> {
    viewer.require(Permission::ReadSla)?;
    let sla = report(&state, viewer.tenant(&state), state.now()).await?;
    let c = &sla.counts;
    let content = html! {
        ul.counts aria-label="Counts" {
            li { strong { (c.open_cases) } " open cases" }
            li { strong { (c.cases_overdue) } " with a step overdue" }
            li { strong { (c.cases_due_soon) } " due soon" }
            li { strong { (c.alerts_awaiting_triage) } " alerts awaiting triage" }
            li { strong { (c.recorded_late) } " steps recorded late" }
        }
        h2 { "Cases by deadline" }
        @if sla.cases.is_empty() {
            p { "No open cases." }
        } @else {
            table {
                caption.visually-hidden { "Open cases, most urgent first" }
                thead { tr { th scope="col" { "Status" } th scope="col" { "Case" } th scope="col" { "Hazard" }
                             th scope="col" { "Home" } th scope="col" { "Next deadline" } } }
                tbody {
                    @for entry in &sla.cases {
                        @let (words, class) = status_words(entry.worst_status);
                        @let next = entry.steps.iter().find(|s| Some(s.ends_at) == entry.next_due);
                        tr {
                            td { span class={"status " (class)} { (words) } }
                            td { a href={"/cases/" (entry.case.id)} { "Case " (entry.case.id) } }
                            td { (entry.case.hazard.replace('_', " ")) }
                            td { (entry.case.room.dwelling_reference.as_deref().unwrap_or("")) " "
                                 (entry.case.room.room_name.as_deref().unwrap_or(&entry.case.room.key)) }
                            td {
                                @if let Some(step) = next {
                                    (step.step.replace('_', " ")) ", due " (when(step.ends_at))
                                } @else { "—" }
                            }
                        }
                    }
                }
            }
        }
        @if !sla.alerts_awaiting_triage.is_empty() {
            h2 { "Alerts awaiting triage" }
            ul {
                @for alert in &sla.alerts_awaiting_triage {
                    li { "Alert " (alert.id) ": " (alert.hazard.replace('_', " ")) ", raised " (when(alert.raised_at)) }
                }
            }
        }
    };
    Ok(page("Cases against their deadlines", Some(&viewer), content))
}
