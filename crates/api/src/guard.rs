//! The checks a request passes before anything is spent on it, cheapest first:
//!
//! 1. [`limit_source`] (every request): the source address's bucket.
//! 2. [`authenticate`] (authenticated endpoints): a key remembered as valid passes at once.
//!    Otherwise a source blocked for failing authentication too often is refused before its
//!    key is looked up; the key is looked up (the key cache, else the key-lookup pool); a
//!    failure takes a request from the source's failed-authentication bucket (the one that
//!    empties it is answered 429 rather than 401). Then the key's own bucket. The caller goes
//!    into the request's extensions for [`crate::tenant::Tenant`].
//!
//! Only then is the body read ([`crate::body`]) and, in the handler, a tenant connection
//! taken: an unauthenticated or rate-limited request never holds one.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::caller::bearer;
use crate::problem::ApiError;
use crate::source::source_of;
use crate::state::ApiState;

/// Middleware: the per-source limit on every request.
pub async fn limit_source(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match source_of(&request, &state.config.rate_limits.trusted_proxies) {
        Some(source) => state.limits.check_source(source)?,
        None => state.limits.no_source(),
    }
    Ok(next.run(request).await)
}

/// Middleware: authentication and the per-key limit.
pub async fn authenticate(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = bearer(request.headers());
    let remembered = match &presented {
        Ok(Some(key)) => state.keys.cached(key),
        _ => None,
    };
    let caller = match remembered {
        Some(caller) => caller,
        None => {
            let source = source_of(&request, &state.config.rate_limits.trusted_proxies);
            if let Some(source) = source {
                state.limits.check_not_blocked(source)?;
            }
            let resolved = match presented {
                Ok(Some(key)) => state.keys.resolve(key).await,
                Ok(None) => Err(ApiError::MissingCredentials),
                Err(e) => Err(e),
            };
            match resolved {
                Ok(caller) => caller,
                Err(e @ (ApiError::MissingCredentials | ApiError::InvalidKey)) => {
                    if matches!(e, ApiError::MissingCredentials) {
                        state.stats.missing_credentials();
                    } else {
                        state.stats.invalid_key();
                    }
                    if let Some(source) = source {
                        state.limits.charge_failed_auth(source)?;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    };
    state.limits.check_key(caller.key_id)?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}
