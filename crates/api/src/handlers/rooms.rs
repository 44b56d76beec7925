//! `GET /v1/rooms`: the landlord's watched rooms with their current risk level, to sort a
//! portfolio by what needs attention.

use axum::extract::State;
use axum::Json;
use dampwatch_store::read_model::{room_risk, RiskLevel, RoomRisk, RoomRiskFilter};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::extract::QueryParams;
use crate::openapi::{ProblemDocument, RoomRiskPage};
use crate::paging::{page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Filters of `GET /v1/rooms` (any other parameter is refused).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RoomQuery {
    /// Only rooms at this risk level.
    #[param(inline)]
    risk_level: Option<RiskLevel>,
    /// Items per page (default and maximum set by the operator).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (rooms are listed by key).
    cursor: Option<String>,
}

/// List rooms with their risk level
///
/// Every watched room (a device placed in no room is its own room) with its current risk
/// level: `severe` or `high` with an open alert that runs a legal clock (red or amber),
/// `elevated` with advice only (poor ventilation, early mould risk), `unknown` without data
/// (never read as low), `low` otherwise; with the reasons and the model's version.
#[utoipa::path(
    get,
    path = "/v1/rooms",
    operation_id = "listRooms",
    tag = "rooms",
    params(RoomQuery),
    responses(
        (status = 200, description = "A page of rooms.", body = RoomRiskPage),
        (status = 400, description = "A query parameter is not valid.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<RoomQuery>,
) -> Result<Json<Page<RoomRisk>>, ApiError> {
    let limit = page_limit(q.limit, &state.config)?;
    let filter = RoomRiskFilter { risk_level: q.risk_level, after: q.cursor.as_deref(), limit: limit + 1 };
    let tx = tenant.transaction().await?;
    let items = room_risk::list(&*tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(items, limit, |r: &RoomRisk| r.room.key.clone())))
}
