//! A signed-in person's own account: who they are, their sessions, their password and their
//! second factor; and redeeming a password-reset token (no session needed).
//!
//! These run as the service's role on the key-lookup pool: they touch only the caller's own
//! row (by the session's user id), and secrets no tenant transaction may read.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dampwatch_accounts::mfa::{self, MfaError};
use dampwatch_accounts::reset::{self, PasswordChangeError};
use dampwatch_accounts::session::{self, SessionInfo};
use dampwatch_accounts::totp::Enrolment;
use dampwatch_accounts::{users, Password, Session, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::signin::{cleared_cookie_header, session_cookie_header, CallerOf};
use crate::audit::{record, Entry};
use crate::caller::Caller;
use crate::extract::JsonBody;
use crate::openapi::ProblemDocument;
use crate::problem::ApiError;
use crate::state::ApiState;

fn session_of(caller: &Caller) -> Result<&Session, ApiError> {
    caller
        .session()
        .ok_or_else(|| ApiError::Forbidden("this is a person's own account: sign in to use it".into()))
}

/// The signed-in person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    /// The session may only enrol a second factor until one is enrolled.
    pub must_enrol_mfa: bool,
    /// Recovery codes not used yet (0 without a second factor).
    pub recovery_codes_left: i64,
}

/// Who am I
///
/// The signed-in person's account: role, landlord, second factor, last lockout.
#[utoipa::path(get, path = "/v1/me", operation_id = "getMe", tag = "account",
    responses((status = 200, description = "The signed-in person.", body = Me)))]
pub async fn get(State(state): State<ApiState>, CallerOf(caller): CallerOf) -> Result<Json<Me>, ApiError> {
    Ok(Json(me(&state, &caller).await?))
}

/// The signed-in person's account.
pub(crate) async fn me(state: &ApiState, caller: &Caller) -> Result<Me, ApiError> {
    let session = session_of(caller)?;
    let client = state.keys.pool().get().await?;
    let user = users::get(&**client, session.user_id).await.map_err(user_error)?;
    let left = mfa::recovery_codes_left(&**client, session.user_id).await?;
    Ok(Me { user, must_enrol_mfa: !session.fully_authenticated(), recovery_codes_left: left })
}

/// List my sessions
///
/// The person's live sessions, newest first; `current` marks this one.
#[utoipa::path(get, path = "/v1/me/sessions", operation_id = "listMySessions", tag = "account",
    responses((status = 200, description = "Live sessions.", body = Vec<SessionInfo>)))]
pub async fn sessions(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    Ok(Json(own_sessions(&state, &caller).await?))
}

/// The person's live sessions, newest first.
pub(crate) async fn own_sessions(state: &ApiState, caller: &Caller) -> Result<Vec<SessionInfo>, ApiError> {
    let session = session_of(caller)?;
    let client = state.keys.pool().get().await?;
    Ok(session::list(&**client, session.user_id, &session.id_hash, state.now(), &state.config.sessions)
        .await?)
}

/// Sign out everywhere
///
/// Ends every session of the person, this one included.
#[utoipa::path(delete, path = "/v1/me/sessions", operation_id = "signOutEverywhere", tag = "account",
    responses((status = 204, description = "Every session ended; the cookie is cleared.")))]
pub async fn end_sessions(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
) -> Result<Response, ApiError> {
    end_own_sessions(&state, &caller).await?;
    Ok(signed_out())
}

/// Ends every session of the person, audited.
pub(crate) async fn end_own_sessions(state: &ApiState, caller: &Caller) -> Result<(), ApiError> {
    let session = session_of(caller)?;
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    let ended = session::end_all(&*tx, session.user_id).await?;
    record(&*tx, &Entry::of(caller, "session.sign_out_everywhere", None, json!({"sessions": ended}))).await?;
    tx.commit().await?;
    Ok(())
}

/// Sign out one session
///
/// Ends one of the person's sessions, by the handle `GET /v1/me/sessions` lists.
#[utoipa::path(delete, path = "/v1/me/sessions/{handle}", operation_id = "endMySession", tag = "account",
    params(("handle" = String, Path, description = "The session's handle, as listed.")),
    responses(
        (status = 204, description = "Ended."),
        (status = 404, description = "No such session of this person.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn end_session(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
    Path(handle): Path<String>,
) -> Result<StatusCode, ApiError> {
    end_own_session(&state, &caller, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends one of the person's sessions by its handle, audited.
pub(crate) async fn end_own_session(state: &ApiState, caller: &Caller, handle: &str) -> Result<(), ApiError> {
    let session = session_of(caller)?;
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    if !session::end_by_handle(&*tx, session.user_id, handle).await? {
        return Err(ApiError::not_found("session", handle));
    }
    record(&*tx, &Entry::of(caller, "session.sign_out", Some(format!("session:{handle}")), json!({})))
        .await?;
    tx.commit().await?;
    Ok(())
}

fn signed_out() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cleared_cookie_header());
    response
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    pub current_password: Password,
    /// At least 12 characters, not easy to guess.
    #[schema(value_type = String, format = Password)]
    pub new_password: Password,
}

/// Change my password
///
/// Needs the current password. Every session of the person ends, this one included: sign in
/// again with the new password.
#[utoipa::path(post, path = "/v1/me/password", operation_id = "changeMyPassword", tag = "account",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every session ended."),
        (status = 422, description = "The current password is wrong, or the new one is too weak (the reason says why).",
            body = ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    change_own_password(&state, &caller, &body.current_password, &body.new_password).await?;
    Ok(signed_out())
}

/// Changes the person's password after checking the current one, audited either way; every
/// session of theirs ends (the API's and the dashboard's one way of doing it).
pub(crate) async fn change_own_password(
    state: &ApiState,
    caller: &Caller,
    current: &Password,
    new: &Password,
) -> Result<(), ApiError> {
    let session = session_of(caller)?;
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    let changed =
        reset::change(&*tx, session.user_id, current, new, state.now(), &state.config.lockout).await;
    match changed {
        Ok(()) => {
            record(&*tx, &Entry::of(caller, "password.change", None, json!({}))).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            let entry = Entry::of(caller, "password.change", None, json!({"reason": e.to_string()}))
                .with_outcome(dampwatch_audit::Outcome::Failure);
            record(&*tx, &entry).await?;
            if let PasswordChangeError::WrongCurrentPassword { locked_until } = &e {
                if let Some(locked) = Entry::own_lockout(caller, session.user_id, *locked_until) {
                    record(&*tx, &locked).await?;
                }
            }
            tx.commit().await?;
            Err(password_error(e))
        }
    }
}

/// Redeeming a reset token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The token from `dampwatch users reset-password` or an admin.
    pub token: String,
    #[schema(value_type = String, format = Password)]
    pub new_password: Password,
}

/// Set a password with a reset token
///
/// For a person who cannot sign in, or a new user setting their first password. The token
/// works once and expires.
#[utoipa::path(post, path = "/v1/password-reset", operation_id = "resetPassword", tag = "account",
    request_body = PasswordReset,
    responses(
        (status = 204, description = "The password is set; sign in with it."),
        (status = 422, description = "The token is unknown, used or expired, or the password is too weak.",
            body = ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn reset_password(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    redeem_reset_token(&state, &body.token, &body.new_password, "api").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a password with a reset token and audits it, in one transaction (the API's and the
/// dashboard's one way of doing it); the user's id. A token or password refused is
/// [`ApiError::Unprocessable`] with the reason.
pub(crate) async fn redeem_reset_token(
    state: &ApiState,
    token: &str,
    password: &Password,
    via: &str,
) -> Result<i64, ApiError> {
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    let user_id = reset::redeem(&*tx, token, password, state.now()).await.map_err(password_error)?;
    let landlord = users::get(&*tx, user_id).await.ok().and_then(|u| u.landlord_id);
    let entry = dampwatch_audit::Event {
        actor: format!("user:{user_id}"),
        landlord_id: landlord,
        source: None,
        action: "password.reset".into(),
        target: Some(format!("user:{user_id}")),
        outcome: dampwatch_audit::Outcome::Success,
        details: json!({"via": via}),
    };
    dampwatch_audit::append(&*tx, &entry).await.map_err(|e| ApiError::Internal(format!("audit log: {e}")))?;
    tx.commit().await?;
    Ok(user_id)
}

/// Re-authentication before a change to how the person signs in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reauthentication {
    #[schema(value_type = String, format = Password)]
    pub current_password: Password,
    /// A code from the authenticator app (or a recovery code), when a second factor is in use.
    pub code: Option<String>,
}

/// Start TOTP enrolment
///
/// A new secret for the person's authenticator app, as a URI and its QR code. It takes effect
/// once confirmed with a code from the app. Needs the current password (and current code, when
/// replacing a second factor): holding a session alone is not enough to change how one signs in.
#[utoipa::path(post, path = "/v1/me/mfa/totp", operation_id = "startTotpEnrolment", tag = "account",
    request_body = Reauthentication,
    responses(
        (status = 200, description = "The secret to add to the app.", body = Enrolment),
        (status = 422, description = "Re-authentication failed (it counts towards lockout).", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn start_totp(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
    JsonBody(body): JsonBody<Reauthentication>,
) -> Result<Json<Enrolment>, ApiError> {
    Ok(Json(begin_totp_enrolment(&state, &caller, &body.current_password, body.code.as_deref()).await?))
}

/// Re-authenticates the person and starts a TOTP enrolment, audited either way (the API's and
/// the dashboard's one way of doing it).
pub(crate) async fn begin_totp_enrolment(
    state: &ApiState,
    caller: &Caller,
    current_password: &Password,
    code: Option<&str>,
) -> Result<Enrolment, ApiError> {
    let session = session_of(caller)?;
    let now = state.now();
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    let proven = mfa::reauthenticate(
        &*tx,
        state.secrets_key(),
        session.user_id,
        current_password,
        code,
        now,
        &state.config.lockout,
    )
    .await;
    if let Err(e) = proven {
        let entry =
            Entry::of(caller, "mfa.enrolment_started", None, json!({"reason": "reauthentication_failed"}))
                .with_outcome(dampwatch_audit::Outcome::Failure);
        record(&*tx, &entry).await?;
        if let MfaError::Reauthentication { locked_until } = &e {
            if let Some(locked) = Entry::own_lockout(caller, session.user_id, *locked_until) {
                record(&*tx, &locked).await?;
            }
        }
        tx.commit().await?;
        return Err(mfa_error(e));
    }
    let enrolment =
        mfa::start_enrolment(&*tx, state.secrets_key(), session.user_id).await.map_err(mfa_error)?;
    record(&*tx, &Entry::of(caller, "mfa.enrolment_started", None, json!({}))).await?;
    tx.commit().await?;
    Ok(enrolment)
}

/// A code from the new secret.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmation {
    pub code: String,
}

/// The second factor is in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolled {
    /// Single-use codes for when the app is lost: shown this once, keep them safe.
    pub recovery_codes: Vec<String>,
    /// The new session's CSRF token (the session id changed: a step-up makes a new session).
    pub csrf_token: String,
}

/// Confirm TOTP enrolment
///
/// The code proves the app has the secret; the second factor is then in use, recovery codes
/// are made, and the session is replaced by a new one (new id) that has passed the second factor.
#[utoipa::path(post, path = "/v1/me/mfa/totp/confirm", operation_id = "confirmTotpEnrolment", tag = "account",
    request_body = TotpConfirmation,
    responses(
        (status = 200, description = "Enrolled; a new session cookie is set.", body = TotpEnrolled),
        (status = 422, description = "No enrolment in progress, or the code does not match.", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
pub async fn confirm_totp(
    State(state): State<ApiState>,
    CallerOf(caller): CallerOf,
    JsonBody(body): JsonBody<TotpConfirmation>,
) -> Result<Response, ApiError> {
    let (codes, fresh) = finish_totp_enrolment(&state, &caller, &body.code).await?;
    let max_age = (fresh.expires_at - state.now()).num_seconds();
    let mut response =
        Json(TotpEnrolled { recovery_codes: codes, csrf_token: fresh.csrf_token }).into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie_header(&fresh.id, max_age));
    Ok(response)
}

/// Confirms a TOTP enrolment with a code from the app: the recovery codes (shown once) and the
/// new session that replaces the caller's (the API's and the dashboard's one way of doing it).
pub(crate) async fn finish_totp_enrolment(
    state: &ApiState,
    caller: &Caller,
    code: &str,
) -> Result<(Vec<String>, session::NewSession), ApiError> {
    let session = session_of(caller)?;
    let now = state.now();
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    let codes = match mfa::confirm_enrolment(&*tx, state.secrets_key(), session.user_id, code, now).await {
        Ok(codes) => codes,
        // A refusal changed nothing, and is audited; a database error leaves nothing to commit.
        Err(MfaError::Db(e)) => return Err(e.into()),
        Err(e) => {
            let entry = Entry::of(caller, "mfa.enrolled", None, json!({"reason": e.to_string()}))
                .with_outcome(dampwatch_audit::Outcome::Failure);
            record(&*tx, &entry).await?;
            tx.commit().await?;
            return Err(mfa_error(e));
        }
    };
    // Privilege step-up: the old session id stops working and a new one is issued; the
    // person's other sessions end too, since how they sign in has changed.
    session::end_all(&*tx, session.user_id).await?;
    let fresh = session::create(&*tx, session.user_id, true, None, None, now, &state.config.sessions).await?;
    record(&*tx, &Entry::of(caller, "mfa.enrolled", None, json!({"recovery_codes": codes.len()}))).await?;
    tx.commit().await?;
    Ok((codes, fresh))
}

pub(crate) fn user_error(e: users::UserError) -> ApiError {
    match e {
        users::UserError::NotFound => ApiError::not_found("user", ""),
        users::UserError::Db(e) => e.into(),
        other => ApiError::Unprocessable(other.to_string()),
    }
}

fn mfa_error(e: MfaError) -> ApiError {
    match e {
        MfaError::Db(e) => e.into(),
        MfaError::Secret(e) => ApiError::Unavailable(e.to_string()),
        other => ApiError::Unprocessable(other.to_string()),
    }
}

fn password_error(e: PasswordChangeError) -> ApiError {
    match e {
        PasswordChangeError::Db(e) => e.into(),
        PasswordChangeError::Hashing(e) => ApiError::Unavailable(e.to_string()),
        other => ApiError::Unprocessable(other.to_string()),
    }
}
