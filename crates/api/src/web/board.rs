//! `GET /`: the SLA board. Every open case with its most urgent status in words and colour and
//! its next deadline, overdue first, then by due time (the `GET /v1/sla` report); counts at the
//! top; filters by status and hazard; `GET /board.csv` downloads what the same filters show;
//! a link to the alerts waiting for triage.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use dampwatch_accounts::Permission;
use maud::html;
use serde::Deserialize;

use super::layout::{page, status_words, when};
use super::viewer::Viewer;
use crate::handlers::sla::{report, SlaCase, SlaReport};
use crate::problem::ApiError;
use crate::state::ApiState;

/// The board's filters (empty: all).
#[derive(Debug, Default, Deserialize)]
pub struct BoardFilter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    hazard: String,
}

impl BoardFilter {
    fn keeps(&self, entry: &SlaCase) -> bool {
        (self.status.is_empty() || entry.worst_status == self.status)
            && (self.hazard.is_empty() || entry.case.hazard == self.hazard)
    }

    fn query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("hazard", &self.hazard)
            .finish()
    }
}

const STATUSES: &[(&str, &str)] = &[
    ("", "Any status"),
    ("overdue", "Overdue"),
    ("due_soon", "Due soon"),
    ("on_track", "On track"),
    ("none", "No clock running"),
];

/// The next running deadline of a case: (step, due).
fn next_step(entry: &SlaCase) -> Option<(&str, chrono::DateTime<chrono::Utc>)> {
    entry.steps.iter().find(|s| Some(s.ends_at) == entry.next_due).map(|s| (s.step.as_str(), s.ends_at))
}

fn home(entry: &SlaCase) -> String {
    let room = &entry.case.room;
    format!(
        "{} {}",
        room.dwelling_reference.as_deref().unwrap_or(""),
        room.room_name.as_deref().unwrap_or(&room.key)
    )
    .trim()
    .to_owned()
}

async fn load(state: &ApiState, viewer: &Viewer) -> Result<SlaReport, ApiError> {
    viewer.require(Permission::ReadSla)?;
    report(state, viewer.tenant(state), state.now()).await
}

pub async fn get(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(filter): Query<BoardFilter>,
) -> Result<Response, ApiError> {
    let sla = load(&state, &viewer).await?;
    let c = &sla.counts;
    let mut hazards: Vec<&str> = sla.cases.iter().map(|e| e.case.hazard.as_str()).collect();
    hazards.sort_unstable();
    hazards.dedup();
    let shown: Vec<&SlaCase> = sla.cases.iter().filter(|e| filter.keeps(e)).collect();
    let may_see_rooms = viewer.may(Permission::ReadDevices);
    let content = html! {
        ul.counts aria-label="Counts" {
            li { strong { (c.open_cases) } " open cases" }
            li { strong { (c.cases_overdue) } " with a step overdue" }
            li { strong { (c.cases_due_soon) } " due soon" }
            li { strong { (c.alerts_awaiting_triage) } " alerts awaiting triage" }
            li { strong { (c.recorded_late) } " steps recorded late" }
        }
        form.filters method="get" action="/" {
            label for="status" { "Status" }
            select id="status" name="status" {
                @for (value, words) in STATUSES {
                    option value=(value) selected[filter.status == *value] { (words) }
                }
            }
            label for="hazard" { "Hazard" }
            select id="hazard" name="hazard" {
                option value="" { "Any hazard" }
                @for h in &hazards { option value=(h) selected[filter.hazard == *h] { (h.replace('_', " ")) } }
            }
            p { button type="submit" { "Show" } " " a href={"/board.csv?" (filter.query())} { "Download these as CSV" } }
        }
        h2 { "Cases by deadline" }
        @if shown.is_empty() {
            p { "No open cases." }
        } @else {
            table {
                caption.visually-hidden { "Open cases, most urgent first" }
                thead { tr { th scope="col" { "Status" } th scope="col" { "Case" } th scope="col" { "Hazard" }
                             th scope="col" { "Home" } th scope="col" { "Next deadline" } } }
                tbody {
                    @for entry in &shown {
                        @let (words, class) = status_words(entry.worst_status);
                        tr {
                            td { span class={"status " (class)} { (words) } }
                            td { a href={"/cases/" (entry.case.id)} { "Case " (entry.case.id) } }
                            td { (entry.case.hazard.replace('_', " ")) }
                            td {
                                @match (entry.case.room.room_id, may_see_rooms) {
                                    (Some(room), true) => a href={"/rooms/" (room)} { (home(entry)) },
                                    _ => (home(entry)),
                                }
                            }
                            td {
                                @if let Some((step, due)) = next_step(entry) {
                                    (step.replace('_', " ")) ", due " (when(due))
                                } @else { "—" }
                            }
                        }
                    }
                }
            }
        }
        @if !sla.alerts_awaiting_triage.is_empty() {
            p { a href="/alerts" { (sla.alerts_awaiting_triage.len()) " alerts are waiting for triage" } }
        }
    };
    Ok(page("Cases against their deadlines", Some(&viewer), content))
}

/// A CSV field, quoted when it must be (RFC 4180), and never read as a formula by a
/// spreadsheet (a leading `=`, `+`, `-`, `@` is prefixed with `'`).
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `GET /board.csv`: the cases the board shows with the same filters.
pub async fn csv(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(filter): Query<BoardFilter>,
) -> Result<Response, ApiError> {
    let sla = load(&state, &viewer).await?;
    let mut out = String::from("case,status,hazard,home,next_step,next_due\r\n");
    for entry in sla.cases.iter().filter(|e| filter.keeps(e)) {
        let (step, due) =
            next_step(entry).map_or((String::new(), String::new()), |(s, d)| (s.to_owned(), d.to_rfc3339()));
        let row = [
            entry.case.id.to_string(),
            entry.worst_status.to_owned(),
            entry.case.hazard.clone(),
            home(entry),
            step,
            due,
        ];
        out.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"cases.csv\""));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
