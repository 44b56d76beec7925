//! `GET /v1/alerts` and `GET /v1/alerts/{id}`: the landlord's hazard alerts.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_alerts::deadlines::status_name;
use dampwatch_clock::case::TriageView;
use dampwatch_clock::Clock;
use dampwatch_store::read_model::{alert, Alert, AlertFilter, AlertStatus, AlertTriage, TriageReview};
use serde::Deserialize;
use utoipa::IntoParams;

use super::check_slug;
use crate::extract::{parse_id, QueryParams};
use crate::openapi::{AlertPage, ProblemDocument};
use crate::paging::{id_cursor, page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Adds the triage review to an alert that waits for triage, as of `now`.
pub(crate) fn with_triage_review(mut alert: Alert, clock: &Clock, now: DateTime<Utc>) -> Alert {
    if alert.triage == AlertTriage::AwaitingTriage {
        let view = TriageView::of(alert.raised_at, None, now, &clock.calendar, &clock.status);
        alert.triage_review =
            Some(TriageReview { due: view.due, status: status_name(&view.status).to_owned() });
    }
    alert
}

/// Filters of `GET /v1/alerts` (any other parameter is refused).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only open or only cleared alerts.
    #[param(inline)]
    status: Option<AlertStatus>,
    /// Only this hazard (a slug such as damp_and_mould_growth).
    #[param(pattern = "^[a-z0-9_]{1,64}$")]
    hazard: Option<String>,
    /// Only alerts in this triage state (awaiting_triage: the triage queue).
    #[param(inline)]
    triage: Option<AlertTriage>,
    /// Items per page (default and maximum set by the operator).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
}

/// List hazard alerts
///
/// The landlord's alerts, newest first. One open alert per room and hazard; a change of
/// severity updates it (revision). Explanations are left out.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    operation_id = "listAlerts",
    tag = "alerts",
    params(AlertQuery),
    responses(
        (status = 200, description = "A page of alerts.", body = AlertPage),
        (status = 400, description = "A query parameter is not valid.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<AlertQuery>,
) -> Result<Json<Page<Alert>>, ApiError> {
    check_slug("hazard", q.hazard.as_deref())?;
    let limit = page_limit(q.limit, &state.config)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let filter = AlertFilter {
        status: q.status,
        hazard: q.hazard.as_deref(),
        triage: q.triage,
        before,
        limit: limit + 1,
    };
    let tx = tenant.transaction().await?;
    let alerts = alert::list(&*tx, &filter).await?;
    tx.commit().await?;
    let now = Utc::now();
    let items = alerts.into_iter().map(|a| with_triage_review(a, &state.clock, now)).collect();
    Ok(Json(Page::from_rows(items, limit, |a: &Alert| a.id.to_string())))
}

/// Get an alert with its explanation
///
/// The alert with its explanation: which rules (with version and source), which values, which
/// window.
#[utoipa::path(
    get,
    path = "/v1/alerts/{id}",
    operation_id = "getAlert",
    tag = "alerts",
    params(("id" = String, Path, pattern = "^[0-9]+$",
        description = "The alert's id. An id of another landlord's alert is answered 404, as an unknown one.")),
    responses(
        (status = 200, description = "The alert.", body = Alert),
        (status = 404, description = "No such alert.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    let id = parse_id("alert", &id)?;
    let tx = tenant.transaction().await?;
    let alert = alert::find(&*tx, id).await?.ok_or_else(|| ApiError::not_found("alert", id))?;
    tx.commit().await?;
    Ok(Json(with_triage_review(alert, &state.clock, Utc::now())))
}
