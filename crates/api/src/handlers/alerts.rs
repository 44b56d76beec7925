//! `GET /v1/alerts` and `GET /v1/alerts/{id}`: the landlord's hazard alerts.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_alerts::deadlines::status_name;
use dampwatch_clock::case::TriageView;
use dampwatch_clock::Clock;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::Row;

use super::{check_slug, room_view, RoomView, ROOM_COLUMNS, ROOM_JOIN};
use crate::extract::{parse_id, QueryParams};
use crate::paging::{id_cursor, page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// An alert (the list form; the single form adds its explanation).
#[derive(Debug, Serialize)]
pub struct AlertView {
    pub id: i64,
    pub room: RoomView,
    /// Indicator hazard: damp_and_mould_growth, excess_cold, excess_heat, poor_ventilation,
    /// device_offline, ...
    pub hazard: String,
    /// The HHSRS hazard it indicates, if any.
    pub hhsrs_hazard: Option<String>,
    /// open or cleared.
    pub state: String,
    pub severity: String,
    pub since: DateTime<Utc>,
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub revision: i32,
    pub rule_ids: Vec<String>,
    pub ruleset_version: String,
    pub summary: String,
    /// not_applicable, awaiting_triage or case_opened.
    pub triage: String,
    /// For an alert awaiting triage: when a person should decide, and where that stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage_review: Option<TriageReview>,
    pub case_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Value>,
}

/// The select list of [`alert_view`] over `alerts t` joined with [`ROOM_JOIN`].
pub(crate) fn alert_select(with_explanation: bool) -> String {
    format!(
        "SELECT t.id, {ROOM_COLUMNS}, t.hazard, t.hhsrs_hazard, t.status, t.severity, t.since, t.raised_at,
                t.updated_at, t.cleared_at, t.revision, t.rule_ids, t.ruleset_version, t.summary, t.triage,
                t.case_id{}
         FROM alerts t {ROOM_JOIN}",
        if with_explanation { ", t.explanation" } else { "" }
    )
}

pub(crate) fn alert_view(row: &Row, with_explanation: bool) -> AlertView {
    AlertView {
        id: row.get(0),
        room: room_view(row, 1),
        hazard: row.get(7),
        hhsrs_hazard: row.get(8),
        state: row.get(9),
        severity: row.get(10),
        since: row.get(11),
        raised_at: row.get(12),
        updated_at: row.get(13),
        cleared_at: row.get(14),
        revision: row.get(15),
        rule_ids: row.get(16),
        ruleset_version: row.get(17),
        summary: row.get(18),
        triage: row.get(19),
        triage_review: None,
        case_id: row.get(20),
        explanation: if with_explanation { row.get(21) } else { None },
    }
}

/// The review deadline of a potential issue waiting for a person's triage (product policy:
/// `triage_review_hours` after it was raised).
#[derive(Debug, Clone, Serialize)]
pub struct TriageReview {
    pub due: DateTime<Utc>,
    /// on_track, due_soon or overdue.
    pub status: &'static str,
}

impl AlertView {
    /// Adds the triage review to an alert that waits for triage, as of `now`.
    pub(crate) fn with_triage_review(mut self, clock: &Clock, now: DateTime<Utc>) -> Self {
        if self.triage == "awaiting_triage" {
            let view = TriageView::of(self.raised_at, None, now, &clock.calendar, &clock.status);
            self.triage_review = Some(TriageReview { due: view.due, status: status_name(&view.status) });
        }
        self
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Cleared,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageFilter {
    NotApplicable,
    AwaitingTriage,
    CaseOpened,
}

/// Filters of `GET /v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    state: Option<AlertState>,
    hazard: Option<String>,
    triage: Option<TriageFilter>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<AlertQuery>,
) -> Result<Json<Page<AlertView>>, ApiError> {
    check_slug("hazard", q.hazard.as_deref())?;
    let limit = page_limit(q.limit, &state.config)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let status = q.state.map(|s| match s {
        AlertState::Open => "open",
        AlertState::Cleared => "cleared",
    });
    let triage = q.triage.map(|t| match t {
        TriageFilter::NotApplicable => "not_applicable",
        TriageFilter::AwaitingTriage => "awaiting_triage",
        TriageFilter::CaseOpened => "case_opened",
    });
    let sql = format!(
        "{} WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.hazard = $2)
              AND ($3::text IS NULL OR t.triage = $3) AND ($4::bigint IS NULL OR t.id < $4)
         ORDER BY t.id DESC LIMIT $5",
        alert_select(false)
    );
    let tx = tenant.transaction().await?;
    let rows = tx.query(&sql, &[&status, &q.hazard, &triage, &before, &(limit + 1)]).await?;
    tx.commit().await?;
    let now = Utc::now();
    let items = rows.iter().map(|r| alert_view(r, false).with_triage_review(&state.clock, now)).collect();
    Ok(Json(Page::from_rows(items, limit, |a: &AlertView| a.id.to_string())))
}

pub async fn get(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    let id = parse_id("alert", &id)?;
    let tx = tenant.transaction().await?;
    let alert = find(&tx, id).await?;
    tx.commit().await?;
    Ok(Json(alert.with_triage_review(&state.clock, Utc::now())))
}

/// One alert with its explanation, or "not found".
pub(crate) async fn find(tx: &tokio_postgres::Transaction<'_>, id: i64) -> Result<AlertView, ApiError> {
    let sql = format!("{} WHERE t.id = $1", alert_select(true));
    let row = tx.query_opt(&sql, &[&id]).await?.ok_or_else(|| ApiError::not_found("alert", id))?;
    Ok(alert_view(&row, true))
}
