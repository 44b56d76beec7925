//! `GET /v1/devices`: the landlord's sensors as registered (read-only: devices are admitted
//! and revoked by operators through the gateway's provisioning, not through this API).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::extract::QueryParams;
use crate::paging::{page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// A registered device.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub room_id: Option<i64>,
    pub room_name: Option<String>,
    pub dwelling_id: Option<i64>,
    pub dwelling_reference: Option<String>,
    pub dwelling_address: Option<String>,
    /// active or revoked.
    pub status: String,
    /// Which of the device's signing keys is current.
    pub key_id: i32,
    /// The Ed25519 public key its readings are verified with (hex).
    pub signing_public_key: String,
    pub cert_serial: Option<String>,
    pub provisioned_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    Revoked,
}

/// Filters of `GET /v1/devices`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    status: Option<DeviceStatus>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<DeviceQuery>,
) -> Result<Json<Page<DeviceView>>, ApiError> {
    let limit = page_limit(q.limit, &state.config)?;
    let status = q.status.map(|s| match s {
        DeviceStatus::Active => "active",
        DeviceStatus::Revoked => "revoked",
    });
    let tx = tenant.transaction().await?;
    let rows = tx
        .query(
            "SELECT t.id, t.room_id, r.name, d.id, d.reference, d.address, t.status, t.key_id,
                    encode(t.signing_public_key, 'hex'), t.cert_serial, t.provisioned_at, t.revoked_at
             FROM devices t LEFT JOIN rooms r ON r.id = t.room_id LEFT JOIN dwellings d ON d.id = r.dwelling_id
             WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.id > $2)
             ORDER BY t.id LIMIT $3",
            &[&status, &q.cursor, &(limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows
        .iter()
        .map(|r| DeviceView {
            id: r.get(0),
            room_id: r.get(1),
            room_name: r.get(2),
            dwelling_id: r.get(3),
            dwelling_reference: r.get(4),
            dwelling_address: r.get(5),
            status: r.get(6),
            key_id: r.get(7),
            signing_public_key: r.get(8),
            cert_serial: r.get(9),
            provisioned_at: r.get(10),
            revoked_at: r.get(11),
        })
        .collect();
    Ok(Json(Page::from_rows(items, limit, |d: &DeviceView| d.id.clone())))
}
