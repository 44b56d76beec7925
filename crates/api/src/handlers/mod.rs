//! The request handlers, one module per resource. None of their queries names a landlord:
//! every one runs in a [`crate::tenant::Tenant`] transaction, where row-level security does
//! the filtering, so a query that forgets a condition still cannot reach another landlord.
//! What they answer with is the store's read model (`dampwatch_store::read_model`), the same
//! types the webhooks carry; each handler's `#[utoipa::path]` documents it in
//! [`crate::openapi`].

pub mod alerts;
pub mod assign;
pub mod cases;
pub mod credentials;
pub mod devices;
pub mod events;
pub mod evidence;
pub mod me;
pub mod notifications;
pub mod rooms;
pub mod share;
pub mod signin;
pub mod sla;
pub mod token;
pub mod triage;
pub mod users;
pub mod webhooks;

use crate::problem::ApiError;

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
