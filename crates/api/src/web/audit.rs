//! `GET /audit`: the landlord's audit log for auditors and administrators, newest first, a page
//! at a time, filtered by who, what, outcome and dates; `GET /audit.csv` downloads what the
//! same filters select. Each entry shows the start of its chained hash, so it can be matched to
//! the operator's verified export (`dampwatch audit export` / `audit verify`), which is what
//! stands as evidence: this page reads the live database.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use dampwatch_accounts::Permission;
use dampwatch_audit::{search, AuditFilter, Entry, Outcome};
use maud::html;
use serde::Deserialize;

use super::csv::csv_line;
use super::layout::{page, when};
use super::viewer::Viewer;
use crate::problem::ApiError;
use crate::state::ApiState;

/// Entries on one page.
const PAGE: i64 = 100;

/// The most entries one CSV download holds (newest first); narrow the dates for more.
const CSV_LIMIT: i64 = 100_000;

/// The page's filters, as the form sends them (empty: any).
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    /// A UK date, YYYY-MM-DD: entries from its start.
    #[serde(default)]
    from: String,
    /// A UK date: entries up to its end.
    #[serde(default)]
    to: String,
    /// The next page: entries numbered below this.
    before: Option<i64>,
}

/// The start of a UK calendar day.
fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(London).earliest())
        .map_or_else(|| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), |t| t.with_timezone(&Utc))
}

impl AuditQuery {
    fn filter(&self, limit: i64) -> Result<AuditFilter, ApiError> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let date = |s: &str, what: &str| -> Result<Option<NaiveDate>, ApiError> {
            match s.trim() {
                "" => Ok(None),
                d => NaiveDate::parse_from_str(d, "%Y-%m-%d").map(Some).map_err(|_| {
                    ApiError::BadRequest(format!("the {what} date {d:?} is not a date (YYYY-MM-DD)"))
                }),
            }
        };
        let outcome = match self.outcome.as_str() {
            "" => None,
            o => Some(o.parse::<Outcome>().map_err(|e| ApiError::BadRequest(e.to_string()))?),
        };
        Ok(AuditFilter {
            actor: text(&self.actor),
            action: text(&self.action),
            outcome,
            from: date(&self.from, "from")?.map(day_start),
            to: date(&self.to, "to")?.and_then(|d| d.succ_opt()).map(day_start),
            before_seq: self.before,
            limit,
        })
    }

    fn query(&self, before: Option<i64>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("actor", &self.actor)
            .append_pair("action", &self.action)
            .append_pair("outcome", &self.outcome)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to);
        if let Some(b) = before {
            q.append_pair("before", &b.to_string());
        }
        q.finish()
    }
}

async fn entries(state: &ApiState, viewer: &Viewer, filter: &AuditFilter) -> Result<Vec<Entry>, ApiError> {
    viewer.require(Permission::ReadAuditLog)?;
    let mut tenant = viewer.tenant(state);
    let tx = tenant.transaction().await?;
    let found = search(&*tx, filter).await.map_err(|e| ApiError::Internal(format!("audit log: {e}")))?;
    tx.commit().await?;
    Ok(found)
}

/// `GET /audit`.
pub async fn get(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let found = entries(&state, &viewer, &q.filter(PAGE + 1)?).await?;
    let more = found.len() as i64 > PAGE;
    let shown = &found[..found.len().min(PAGE as usize)];
    let content = html! {
        p { "What people and systems did with this landlord's data, newest first. The operator's signed export ("
            code { "dampwatch audit export" } ") is what proves the log was not rewritten; each entry's hash here matches it." }
        form.filters method="get" action="/audit" {
            div { label for="actor" { "Who (contains)" } input id="actor" name="actor" value=(q.actor); }
            div { label for="action" { "What (starts with)" } input id="action" name="action" value=(q.action); }
            div {
                label for="outcome" { "Outcome" }
                select id="outcome" name="outcome" {
                    option value="" { "Any" }
                    @for o in ["success", "failure", "refused"] { option value=(o) selected[q.outcome == o] { (o) } }
                }
            }
            div { label for="from" { "From (date)" } input id="from" name="from" type="date" value=(q.from); }
            div { label for="to" { "To (date)" } input id="to" name="to" type="date" value=(q.to); }
            p { button type="submit" { "Show" } " " a href={"/audit.csv?" (q.query(None))} { "Download these as CSV" } }
        }
        @if shown.is_empty() {
            p { "No entries." }
        } @else {
            table {
                caption.visually-hidden { "Audit log entries, newest first" }
                thead { tr { th scope="col" { "No." } th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" }
                             th scope="col" { "On" } th scope="col" { "Outcome" } th scope="col" { "Details" } th scope="col" { "Hash" } } }
                tbody {
                    @for e in shown {
                        tr {
                            td { (e.seq) }
                            td { (when(e.at)) }
                            td { (e.actor) @if let Some(s) = &e.source { br; small { (s) } } }
                            td { (e.action) }
                            td { (e.target.as_deref().unwrap_or("—")) }
                            td { (e.outcome) }
                            td { code { (e.details) } }
                            td { code title=(hex::encode(e.hash)) { (hex::encode(&e.hash[..6])) } }
                        }
                    }
                }
            }
            @if more {
                @if let Some(last) = shown.last() {
                    p { a href={"/audit?" (q.query(Some(last.seq)))} { "Older entries" } }
                }
            }
        }
    };
    Ok(page("Audit log", Some(&viewer), content))
}

/// `GET /audit.csv`: the entries the same filters select, newest first, up to [`CSV_LIMIT`].
pub async fn csv(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let found = entries(&state, &viewer, &q.filter(CSV_LIMIT)?).await?;
    let mut out =
        csv_line(&["seq", "at", "actor", "source", "action", "target", "outcome", "details", "hash"]);
    for e in &found {
        out.push_str(&csv_line(&[
            &e.seq.to_string(),
            &e.at.to_rfc3339(),
            &e.actor,
            e.source.as_deref().unwrap_or(""),
            &e.action,
            e.target.as_deref().unwrap_or(""),
            e.outcome.as_str(),
            &e.details,
            &hex::encode(e.hash),
        ]));
    }
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit.csv\""));
    Ok(response)
}
