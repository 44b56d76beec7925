//! The request handlers, one module per resource. None of their queries names a landlord:
//! every one runs in a [`crate::tenant::Tenant`] transaction, where row-level security does
//! the filtering, so a query that forgets a condition still cannot reach another landlord.

pub mod alerts;
pub mod cases;
pub mod devices;
pub mod events;
pub mod sla;
pub mod triage;
pub mod webhooks;

use serde::Serialize;
use tokio_postgres::Row;

use crate::problem::ApiError;

/// Where an alert or case is: a registered room, or a device without one.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    /// `room:<id>` or `device:<id>`.
    pub key: String,
    pub room_id: Option<i64>,
    pub room_name: Option<String>,
    pub dwelling_id: Option<i64>,
    pub dwelling_reference: Option<String>,
    pub device_id: Option<String>,
}

/// The SQL joins that give a [`RoomView`] for a table aliased `t` with `room_key`, `room_id`
/// and `device_id` columns.
pub(crate) const ROOM_JOIN: &str =
    "LEFT JOIN rooms r ON r.id = t.room_id LEFT JOIN dwellings d ON d.id = r.dwelling_id";
/// The select list of a [`RoomView`], six columns in [`room_view`]'s order.
pub(crate) const ROOM_COLUMNS: &str = "t.room_key, t.room_id, r.name, d.id, d.reference, t.device_id";

/// Reads a [`RoomView`] from six columns starting at `at`.
pub(crate) fn room_view(row: &Row, at: usize) -> RoomView {
    RoomView {
        key: row.get(at),
        room_id: row.get(at + 1),
        room_name: row.get(at + 2),
        dwelling_id: row.get(at + 3),
        dwelling_reference: row.get(at + 4),
        device_id: row.get(at + 5),
    }
}

/// A filter value that names something by slug (`damp_and_mould_growth`): short, lower-case
/// letters, digits and `_`.
pub(crate) fn check_slug(name: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(v)
            if v.is_empty()
                || v.len() > 64
                || !v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Err(ApiError::BadRequest(format!("{name} {v:?} is not a valid name")))
        }
        _ => Ok(()),
    }
}
