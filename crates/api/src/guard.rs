//! The checks a request passes before anything is spent on it, cheapest first:
//!
//! 1. [`limit_source`] (every request): the source address's bucket.
//! 2. [`authenticate`] (authenticated endpoints): a person's session cookie is looked up on the
//!    key-lookup pool (a cookie naming no live session fails like a wrong key), and a
//!    state-changing request of a session must carry its CSRF token. Otherwise the API key: a
//!    key remembered as valid passes at once.
//!    Otherwise a source blocked for failing authentication too often is refused before its
//!    key is looked up; the key is looked up (the key cache, else the key-lookup pool); a
//!    failure takes a request from the source's failed-authentication bucket (the one that
//!    empties it is answered 429 rather than 401). Then the key's own bucket. The caller goes
//!    into the request's extensions for [`crate::tenant::Tenant`]. Last, the endpoint's
//!    [`Access`]: the caller's role or key scope must allow it (403 otherwise).
//!
//! Only then is the body read ([`crate::body`]) and, in the handler, a tenant connection
//! taken: an unauthenticated or rate-limited request never holds one.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use axum::extract::MatchedPath;
use axum::http::{header, HeaderMap, Method};
use dampwatch_accounts::session;

use crate::caller::{bearer, Caller, Principal};
use crate::problem::ApiError;
use crate::routes::{Access, Verb, ENDPOINTS};
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

/// Middleware: authentication, the caller's own limit, and the endpoint's access rule.
pub async fn authenticate(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let access = endpoint_access(&request);
    let presented = bearer(request.headers());
    let cookie = session_cookie(request.headers()).map(str::to_owned);
    let remembered = match (&presented, &cookie) {
        (Ok(Some(key)), _) => state.keys.cached(key),
        _ => None,
    };
    let caller = match remembered {
        Some(caller) => caller,
        None => {
            let source = source_of(&request, &state.config.rate_limits.trusted_proxies);
            if let Some(source) = source {
                state.limits.check_not_blocked(source)?;
            }
            let resolved = match (presented, cookie) {
                (Ok(Some(key)), _) => state.keys.resolve(key).await,
                (Ok(None), Some(cookie)) => resolve_session(&state, &cookie).await,
                (Ok(None), None) => Err(ApiError::MissingCredentials),
                (Err(e), _) => Err(e),
            };
            match resolved {
                Ok(caller) => caller,
                Err(e @ (ApiError::MissingCredentials | ApiError::InvalidKey | ApiError::InvalidSession)) => {
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
    state.limits.check_key(caller.bucket())?;
    if let Some(session) = caller.session() {
        if !is_safe(request.method()) {
            let token = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !session.csrf_matches(token) {
                return Err(ApiError::Csrf);
            }
        }
    }
    match access {
        // No endpoint for this method on this path: the router answers 405, nothing is served.
        // (Every served route comes from ENDPOINTS, so a served route always has a rule.)
        None | Some(Access::Public) => {}
        Some(Access::Person) => {
            if caller.session().is_none() {
                return Err(ApiError::Forbidden("this is a person's own account: sign in to use it".into()));
            }
        }
        Some(Access::ThirdParty) => {
            if caller.share_recipient().is_none() {
                return Err(ApiError::Forbidden(
                    "only a third party's OAuth client (registered with a recipient) fetches shares; \
                     the landlord's own staff use `dampwatch tenancies share`"
                        .into(),
                ));
            }
        }
        Some(Access::Permission(permission)) => {
            if !caller.allows(permission) {
                let detail = match caller.session() {
                    Some(s) if !s.fully_authenticated() => {
                        "your role requires a second factor: enrol one (POST /v1/me/mfa/totp) first"
                            .to_owned()
                    }
                    Some(s) => format!("the role {} may not {}", s.role, permission),
                    None => format!("this API key may not {permission}"),
                };
                return Err(ApiError::Forbidden(detail));
            }
        }
    }
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The header a session's state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session cookie. `__Host-`: the browser keeps it only if it was set Secure, for this
/// host alone, with path `/`, so no other host or path can plant or read it.
pub const SESSION_COOKIE: &str = "__Host-dampwatch_session";

/// GET, HEAD and OPTIONS change nothing, so need no CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_value(headers, SESSION_COOKIE)
}

/// The value of the cookie `name`, if the request carries it.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

async fn resolve_session(state: &ApiState, cookie: &str) -> Result<Caller, ApiError> {
    let client = state.keys.pool().get().await?;
    let session = session::find(&**client, cookie, state.now(), &state.config.sessions)
        .await?
        .ok_or(ApiError::InvalidSession)?;
    Ok(Caller { landlord_id: session.landlord_id.clone(), principal: Principal::Person(Box::new(session)) })
}

/// The access rule of the endpoint the request was routed to.
fn endpoint_access(request: &Request) -> Option<Access> {
    let path = request.extensions().get::<MatchedPath>()?.as_str();
    let verb = match *request.method() {
        Method::GET | Method::HEAD => Verb::Get,
        Method::POST => Verb::Post,
        Method::PUT => Verb::Put,
        Method::DELETE => Verb::Delete,
        _ => return None,
    };
    ENDPOINTS.iter().find(|e| e.path == path && e.verb == verb).map(|e| e.access)
}
