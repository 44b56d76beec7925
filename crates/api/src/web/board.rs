//! `GET /`: the SLA board. Every open case with its most urgent status in words and colour
//! (overdue, due today, due soon, on track; "recorded late" beside it when a step was met on
//! an event recorded long after the fact), its hazard, home, area, assigned officer and next
//! deadline, overdue first, then by due time (the `GET /v1/sla` report); counts at the top;
//! filters by status, hazard, officer and area; `GET /board.csv` downloads what the same
//! filters show; a link to the alerts waiting for triage.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::London;
use dampwatch_accounts::Permission;
use maud::html;
use serde::Deserialize;

use std::time::Instant;

use super::csv::csv_line;
use super::layout::{due_words, page, status_words};
use super::viewer::Viewer;
use super::ServerTiming;
use crate::handlers::sla::{report, SlaCase, SlaReport, StepDetail};
use crate::problem::ApiError;
use crate::state::ApiState;
use dampwatch_store::read_model::{case, CaseFilter, Deadline};

/// The board's filters (empty: all).
#[derive(Debug, Default, Deserialize)]
pub struct BoardFilter {
    /// A [`BoardStatus`] slug, or `recorded_late`.
    #[serde(default)]
    status: String,
    #[serde(default)]
    hazard: String,
    /// `me`, `unassigned` or a person's id.
    #[serde(default)]
    officer: String,
    #[serde(default)]
    area: String,
}

impl BoardFilter {
    fn keeps(&self, row: &BoardRow, me: i64) -> bool {
        let entry = row.entry;
        let status = match self.status.as_str() {
            "" => true,
            "recorded_late" => row.recorded_late,
            s => row.status.slug() == s,
        };
        let officer = match self.officer.as_str() {
            "" => true,
            "me" => entry.case.assigned_user_id == Some(me),
            "unassigned" => entry.case.assigned_user_id.is_none(),
            id => entry.case.assigned_user_id.map(|a| a.to_string()).as_deref() == Some(id),
        };
        status
            && officer
            && (self.hazard.is_empty() || entry.case.hazard == self.hazard)
            && (self.area.is_empty() || entry.case.area == self.area)
    }

    fn query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("hazard", &self.hazard)
            .append_pair("officer", &self.officer)
            .append_pair("area", &self.area)
            .finish()
    }
}

/// A case's status on the board: the SLA report's most urgent step status, with "due today"
/// picked out of the steps due soon or on track whose deadline falls on today's date in the
/// UK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardStatus {
    Overdue,
    DueToday,
    DueSoon,
    OnTrack,
    NoClock,
}

impl BoardStatus {
    pub const ALL: [BoardStatus; 5] = [
        BoardStatus::Overdue,
        BoardStatus::DueToday,
        BoardStatus::DueSoon,
        BoardStatus::OnTrack,
        BoardStatus::NoClock,
    ];

    fn of(entry: &SlaCase, now: DateTime<Utc>) -> BoardStatus {
        let today = |t: DateTime<Utc>| {
            t.with_timezone(&London).date_naive() == now.with_timezone(&London).date_naive()
        };
        match entry.worst_status {
            "overdue" => BoardStatus::Overdue,
            _ if entry.next_due.is_some_and(today) => BoardStatus::DueToday,
            "due_soon" => BoardStatus::DueSoon,
            "on_track" => BoardStatus::OnTrack,
            _ => BoardStatus::NoClock,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            BoardStatus::Overdue => "overdue",
            BoardStatus::DueToday => "due_today",
            BoardStatus::DueSoon => "due_soon",
            BoardStatus::OnTrack => "on_track",
            BoardStatus::NoClock => "none",
        }
    }
}

/// One case as the board shows it.
struct BoardRow<'a> {
    entry: &'a SlaCase,
    status: BoardStatus,
    /// A step was met by an event recorded long after the instant it gives.
    recorded_late: bool,
}

impl<'a> BoardRow<'a> {
    fn new(entry: &'a SlaCase, now: DateTime<Utc>) -> Self {
        BoardRow {
            entry,
            status: BoardStatus::of(entry, now),
            recorded_late: entry.steps.iter().any(|s| s.recorded_late.is_some()),
        }
    }
}

/// The next running deadline of a case: (step, due).
fn next_step(entry: &SlaCase) -> Option<&Deadline> {
    entry.steps.iter().find(|s| Some(s.ends_at) == entry.next_due)
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
    report(state, viewer.tenant(state), state.now(), StepDetail::Summary).await
}

/// The people cases are assigned to, by name, for the officer filter.
fn officers(sla: &SlaReport) -> Vec<(i64, &str)> {
    let mut people: Vec<(i64, &str)> = sla
        .cases
        .iter()
        .filter_map(|e| Some((e.case.assigned_user_id?, e.case.assigned_to.as_deref().unwrap_or("(hidden)"))))
        .collect();
    people.sort_unstable_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(&b.0)));
    people.dedup();
    people
}

/// The distinct non-empty values of `field` among the cases, sorted.
fn choices<'a>(sla: &'a SlaReport, field: impl Fn(&'a SlaCase) -> &'a str) -> Vec<&'a str> {
    let mut values: Vec<&str> = sla.cases.iter().map(field).filter(|v| !v.is_empty()).collect();
    values.sort_unstable();
    values.dedup();
    values
}

pub async fn get(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(filter): Query<BoardFilter>,
) -> Result<Response, ApiError> {
    if !viewer.session().fully_authenticated() {
        // A role that must use a second factor can do nothing else until it has one.
        return Ok(Redirect::to("/account").into_response());
    }
    if !viewer.may(Permission::ReadSla) && viewer.may(Permission::ReadCases) {
        return assigned_cases(&state, &viewer).await;
    }
    let reading = Instant::now();
    let sla = load(&state, &viewer).await?;
    let read = reading.elapsed();
    let rendering = Instant::now();
    let me = viewer.session().user_id;
    let c = &sla.counts;
    let hazards = choices(&sla, |e| e.case.hazard.as_str());
    let areas = choices(&sla, |e| e.case.area.as_str());
    let officers = officers(&sla);
    let rows: Vec<BoardRow> = sla.cases.iter().map(|e| BoardRow::new(e, sla.as_of)).collect();
    let due_today = rows.iter().filter(|r| r.status == BoardStatus::DueToday).count();
    let shown: Vec<&BoardRow> = rows.iter().filter(|r| filter.keeps(r, me)).collect();
    let may_see_rooms = viewer.may(Permission::ReadDevices);
    let content = html! {
        ul.counts aria-label="Counts" {
            li { strong { (c.open_cases) } " open cases" }
            li { strong { (c.cases_overdue) } " with a step overdue" }
            li { strong { (due_today) } " due today" }
            li { strong { (c.cases_due_soon) } " due soon" }
            li { strong { (c.alerts_awaiting_triage) } " alerts awaiting triage" }
            li { strong { (c.recorded_late) } " steps recorded late" }
        }
        form.filters method="get" action="/" {
            div {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "Any status" }
                    @for status in BoardStatus::ALL {
                        @let (words, _) = status_words(status.slug());
                        option value=(status.slug()) selected[filter.status == status.slug()] { (words) }
                    }
                    option value="recorded_late" selected[filter.status == "recorded_late"] { "A step recorded late" }
                }
            }
            div {
                label for="hazard" { "Hazard" }
                select id="hazard" name="hazard" {
                    option value="" { "Any hazard" }
                    @for h in &hazards { option value=(h) selected[filter.hazard == *h] { (h.replace('_', " ")) } }
                }
            }
            div {
                label for="officer" { "Officer" }
                select id="officer" name="officer" {
                    option value="" { "Anyone or no one" }
                    option value="me" selected[filter.officer == "me"] { "Assigned to me" }
                    option value="unassigned" selected[filter.officer == "unassigned"] { "Not assigned" }
                    @for (id, name) in &officers {
                        option value=(id) selected[filter.officer == id.to_string()] { (name) }
                    }
                }
            }
            div {
                label for="area" { "Area" }
                select id="area" name="area" {
                    option value="" { "Every area" }
                    @for a in &areas { option value=(a) selected[filter.area == *a] { (a) } }
                }
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
                             th scope="col" { "Home" } th scope="col" { "Area" } th scope="col" { "Officer" }
                             th scope="col" { "Next deadline" } } }
                tbody {
                    @for row in &shown {
                        @let entry = row.entry;
                        @let (words, class) = status_words(row.status.slug());
                        tr {
                            td {
                                span class={"status " (class)} { (words) }
                                @if row.recorded_late { " " span.status.late { "Recorded late" } }
                            }
                            td { a href={"/cases/" (entry.case.id)} { "Case " (entry.case.id) } }
                            td { (entry.case.hazard.replace('_', " ")) }
                            td {
                                @match (entry.case.room.room_id, may_see_rooms) {
                                    (Some(room), true) => a href={"/rooms/" (room)} { (home(entry)) },
                                    _ => (home(entry)),
                                }
                            }
                            td { @if entry.case.area.is_empty() { "—" } @else { (entry.case.area) } }
                            td { (entry.case.assigned_to.as_deref().unwrap_or("Not assigned")) }
                            td {
                                @if let Some(step) = next_step(entry) {
                                    (step.step.replace('_', " ")) ", due " (due_words(step))
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
    let mut response = page("Cases against their deadlines", Some(&viewer), content);
    response.extensions_mut().insert(ServerTiming(vec![("read", read), ("html", rendering.elapsed())]));
    Ok(response)
}

/// `GET /board.csv`: the cases the board shows with the same filters.
pub async fn csv(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(filter): Query<BoardFilter>,
) -> Result<Response, ApiError> {
    let sla = load(&state, &viewer).await?;
    let me = viewer.session().user_id;
    let mut out = csv_line(&[
        "case",
        "status",
        "recorded_late",
        "hazard",
        "home",
        "area",
        "officer",
        "next_step",
        "next_due",
    ]);
    let rows = sla.cases.iter().map(|e| BoardRow::new(e, sla.as_of));
    for row in rows.filter(|r| filter.keeps(r, me)) {
        let entry = row.entry;
        let (step, due) = next_step(entry)
            .map_or((String::new(), String::new()), |s| (s.step.clone(), s.ends_at.to_rfc3339()));
        let fields = [
            entry.case.id.to_string(),
            row.status.slug().to_owned(),
            row.recorded_late.to_string(),
            entry.case.hazard.clone(),
            home(entry),
            entry.case.area.clone(),
            entry.case.assigned_to.clone().unwrap_or_default(),
            step,
            due,
        ];
        out.push_str(&csv_line(&fields.each_ref().map(String::as_str)));
    }
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"cases.csv\""));
    Ok(response)
}

/// The landing page of a role that works cases without the SLA board (a contractor): the
/// cases given to them, which is all the database lets them read.
async fn assigned_cases(state: &ApiState, viewer: &Viewer) -> Result<Response, ApiError> {
    let mut tenant = viewer.tenant(state);
    let tx = tenant.transaction().await?;
    let filter = CaseFilter { open_only: true, limit: 500, ..CaseFilter::default() };
    let cases = case::list(&*tx, &filter).await?;
    tx.commit().await?;
    let content = html! {
        @if cases.is_empty() {
            p { "No open case is assigned to you." }
        } @else {
            table {
                caption.visually-hidden { "Open cases assigned to you" }
                thead { tr { th scope="col" { "Case" } th scope="col" { "Hazard" } th scope="col" { "Home" } th scope="col" { "Status" } } }
                tbody {
                    @for c in &cases {
                        tr {
                            td { a href={"/cases/" (c.id)} { "Case " (c.id) } }
                            td { (c.hazard.replace('_', " ")) }
                            td { (c.room.dwelling_reference.as_deref().unwrap_or("")) " " (c.room.room_name.as_deref().unwrap_or(&c.room.key)) }
                            td { (c.status.replace('_', " ")) }
                        }
                    }
                }
            }
        }
    };
    Ok(page("Your cases", Some(viewer), content))
}
