//! `POST /v1/session` (sign in) and `DELETE /v1/session` (sign out here).
//!
//! Signing in answers the session id in a `__Host-` cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`, path `/`) and the session's CSRF token in the body, for the page to echo
//! in `X-CSRF-Token` on every change. A session cookie the browser already held is ended, so a
//! session id planted before sign-in is never the one signed in (session fixation). Every
//! refusal is the same 401 whatever its cause, and takes from the source's failed-
//! authentication bucket like a wrong API key; the cause goes to the audit log.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use dampwatch_accounts::signin::{sign_in, Credentials, Origin, SecondFactor, SignIn, SignInError};
use dampwatch_accounts::{session, Password};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{record, Entry};
use crate::caller::Caller;
use crate::extract::JsonBody;
use crate::guard::{session_cookie, SESSION_COOKIE};
use crate::openapi::ProblemDocument;
use crate::problem::ApiError;
use crate::source::source_in;
use crate::state::ApiState;

/// E-mail address, password and, when the account has one, the second factor.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: Password,
    /// The 6-digit code from the authenticator app.
    pub totp_code: Option<String>,
    /// One of the recovery codes, instead of a TOTP code.
    pub recovery_code: Option<String>,
}

/// A new session. The id is in the cookie, never in the body.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    pub user_id: i64,
    /// operator, landlord_admin, housing_officer, contractor or auditor.
    pub role: String,
    /// None for a platform operator.
    pub landlord_id: Option<String>,
    /// Echo in `X-CSRF-Token` on every state-changing request of this session.
    pub csrf_token: String,
    /// The session's absolute end.
    pub expires_at: DateTime<Utc>,
    /// The role requires a second factor the account has not enrolled: until it does, the
    /// session may only enrol one (`POST /v1/me/mfa/totp`).
    pub must_enrol_mfa: bool,
}

/// Where the request came from and the session cookie it carried.
pub struct RequestOrigin {
    pub origin: Origin,
    pub source: Option<std::net::IpAddr>,
    pub old_cookie: Option<String>,
}

impl FromRequestParts<ApiState> for RequestOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let source = source_in(&parts.extensions, &parts.headers, &state.config.rate_limits.trusted_proxies);
        let user_agent =
            parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(RequestOrigin {
            origin: Origin { source: source.map(|s| s.to_string()), user_agent },
            source,
            old_cookie: session_cookie(&parts.headers).map(str::to_owned),
        })
    }
}

/// The `Set-Cookie` value for a session id lasting `max_age_s`.
pub fn session_cookie_header(id: &str, max_age_s: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age_s.max(0)
    ))
    .expect("a session id is URL-safe base64")
}

/// The `Set-Cookie` value that makes the browser forget the session cookie.
pub fn cleared_cookie_header() -> HeaderValue {
    HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"))
        .expect("a constant header")
}

/// Sign in
///
/// Starts a session for a person. The session id comes back in the `__Host-dampwatch_session`
/// cookie; keep the body's `csrf_token` for changes.
#[utoipa::path(
    post,
    path = "/v1/session",
    operation_id = "signIn",
    tag = "sessions",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set.", body = SignedIn),
        (status = 401, description = "Not accepted (the cause is not told), or the second factor is needed \
            (`type` ...:second-factor-needed).", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 422, description = "The body is not a sign-in request.", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 503, description = "The service cannot check this person's second factor now (it has no \
            secrets key, or not the one that sealed it), or is busy; nothing is counted against the account.",
            body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
pub async fn post(
    State(state): State<ApiState>,
    from: RequestOrigin,
    JsonBody(request): JsonBody<SignInRequest>,
) -> Result<Response, ApiError> {
    let second_factor = match (request.totp_code, request.recovery_code) {
        (Some(code), None) => Some(SecondFactor::Totp(code)),
        (None, Some(code)) => Some(SecondFactor::RecoveryCode(code)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable("send totp_code or recovery_code, not both".into()))
        }
    };
    let credentials = Credentials { email: request.email, password: request.password, second_factor };
    let now = state.now();
    let result = attempt(&state, &from, &credentials, now).await?;
    match result {
        SignIn::SignedIn { user_id, landlord_id, role, session, must_enrol_mfa, .. } => {
            let max_age = (session.expires_at - now).num_seconds();
            let body = SignedIn {
                user_id,
                role: role.as_str().to_owned(),
                landlord_id,
                csrf_token: session.csrf_token,
                expires_at: session.expires_at,
                must_enrol_mfa,
            };
            let mut response = (StatusCode::OK, Json(body)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, session_cookie_header(&session.id, max_age));
            Ok(response)
        }
        SignIn::SecondFactorNeeded { .. } => Err(ApiError::SecondFactorNeeded),
        SignIn::Refused { .. } => Err(ApiError::SignInRefused),
    }
}

/// One sign-in attempt, as both the API and the dashboard's sign-in page make it: a source
/// blocked for failing too often is refused first; a session cookie the browser held is ended
/// (the new session always has a fresh id); the attempt and any lockout it starts are audited;
/// a refusal takes from the source's failed-authentication bucket.
pub(crate) async fn attempt(
    state: &ApiState,
    from: &RequestOrigin,
    credentials: &Credentials,
    now: chrono::DateTime<Utc>,
) -> Result<SignIn, ApiError> {
    if let Some(source) = from.source {
        state.limits.check_not_blocked(source)?;
    }
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    if let Some(old) = &from.old_cookie {
        session::end(&*tx, &dampwatch_accounts::token::token_hash(old)).await?;
    }
    let result = sign_in(
        &*tx,
        state.secrets_key(),
        credentials,
        &from.origin,
        now,
        &state.config.sessions,
        &state.config.lockout,
    )
    .await
    .map_err(|e| match e {
        SignInError::Secret(e) => ApiError::Unavailable(e.to_string()),
        other => ApiError::Internal(other.to_string()),
    })?;
    record(&*tx, &Entry::sign_in(&result, &from.origin)).await?;
    if let Some(lockout) = Entry::lockout(&result, &from.origin) {
        record(&*tx, &lockout).await?;
    }
    tx.commit().await?;
    if matches!(result, SignIn::Refused { .. }) {
        state.stats.invalid_key();
        if let Some(source) = from.source {
            state.limits.charge_failed_auth(source)?;
        }
    }
    Ok(result)
}

/// Sign out
///
/// Ends this session and clears its cookie.
#[utoipa::path(
    delete,
    path = "/v1/session",
    operation_id = "signOut",
    tag = "sessions",
    responses((status = 204, description = "Signed out; the cookie is cleared."))
)]
pub async fn delete(State(state): State<ApiState>, caller: CallerOf) -> Result<Response, ApiError> {
    let session = caller.0.session().ok_or_else(|| ApiError::Forbidden("not a session".into()))?;
    let client = state.keys.pool().get().await?;
    session::end(&**client, &session.id_hash).await?;
    record(&**client, &Entry::of(&caller.0, "sign_out", None, serde_json::json!({}))).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cleared_cookie_header());
    Ok(response)
}

/// The authenticated caller, for handlers that need no tenant transaction.
pub struct CallerOf(pub Caller);

impl FromRequestParts<ApiState> for CallerOf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &ApiState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(CallerOf)
            .ok_or_else(|| ApiError::Internal("a caller handler on a route without authentication".into()))
    }
}
