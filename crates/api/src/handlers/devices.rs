//! `GET /v1/devices`: the landlord's sensors as registered (read-only: devices are admitted
//! and revoked by operators through the gateway's provisioning, not through this API).

use axum::extract::State;
use axum::Json;
use dampwatch_store::read_model::{device, Device, DeviceFilter, DeviceStatus};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::extract::QueryParams;
use crate::openapi::{DevicePage, ProblemDocument};
use crate::paging::{page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// Filters of `GET /v1/devices` (any other parameter is refused).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Only active or only revoked devices.
    #[param(inline)]
    status: Option<DeviceStatus>,
    /// Items per page (default and maximum set by the operator).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (devices are listed by id).
    cursor: Option<String>,
}

/// List registered devices
///
/// The landlord's sensors as registered, by id (read-only).
#[utoipa::path(
    get,
    path = "/v1/devices",
    operation_id = "listDevices",
    tag = "devices",
    params(DeviceQuery),
    responses(
        (status = 200, description = "A page of devices.", body = DevicePage),
        (status = 400, description = "A query parameter is not valid.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<DeviceQuery>,
) -> Result<Json<Page<Device>>, ApiError> {
    let limit = page_limit(q.limit, &state.config)?;
    let filter =
        DeviceFilter { status: q.status, room_id: None, after: q.cursor.as_deref(), limit: limit + 1 };
    let tx = tenant.transaction().await?;
    let items = device::list(&*tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(items, limit, |d: &Device| d.id.clone())))
}
