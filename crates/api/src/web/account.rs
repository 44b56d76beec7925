//! `GET /account`: the signed-in person's own account. Who they are; their second factor (set
//! up or replaced here: the current password, then the QR code or the secret to type into an
//! authenticator app, then a code from it, then the recovery codes, shown this once); their
//! live sessions, each of which they can end; and a password change. A role that must use a
//! second factor lands here until one is set up.
//!
//! Each form goes through the same function as its `/v1/me/...` endpoint, so the page checks,
//! audits and ends sessions exactly as the API does.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use dampwatch_accounts::totp::Enrolment;
use dampwatch_accounts::Password;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{page, when};
use super::sign_in::{clear_session_cookies, set_session_cookies, TokenForm};
use super::viewer::Viewer;
use crate::handlers::me::{
    begin_totp_enrolment, change_own_password, end_own_session, end_own_sessions, finish_totp_enrolment, me,
    own_sessions,
};
use crate::problem::ApiError;
use crate::state::ApiState;

/// `GET /account`.
pub async fn get(State(state): State<ApiState>, viewer: Viewer) -> Result<Response, ApiError> {
    account_page(&state, &viewer, None).await
}

async fn account_page(
    state: &ApiState,
    viewer: &Viewer,
    message: Option<&str>,
) -> Result<Response, ApiError> {
    let account = me(state, &viewer.caller).await?;
    let sessions = own_sessions(state, &viewer.caller).await?;
    let user = &account.user;
    let token = &viewer.csrf_token;
    let content = html! {
        @if let Some(m) = message { p.error role="alert" { (m) } }
        @if account.must_enrol_mfa {
            p.error role="alert" {
                "Your role (" (user.role) ") must sign in with a second factor. Set up an authenticator app below to use the rest of the dashboard."
            }
        }
        dl {
            dt { "Name" } dd { (user.display_name) }
            dt { "E-mail address" } dd { (user.email) }
            dt { "Role" } dd { (user.role.as_str().replace('_', " ")) }
            @if let Some(l) = &user.landlord_id { dt { "Landlord" } dd { (l) } }
        }
        h2 { "Second factor" }
        @if user.mfa_enabled {
            p { "An authenticator app is in use. " (account.recovery_codes_left) " recovery codes are left." }
        } @else {
            p { "No second factor is in use." }
        }
        form method="post" action="/account/totp" {
            input type="hidden" name="csrf_token" value=(token);
            label for="totp-password" { "Current password" }
            input id="totp-password" name="current_password" type="password" autocomplete="current-password" required;
            @if user.mfa_enabled {
                label for="totp-code" { "Code from your current authenticator app (or a recovery code)" }
                input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" required;
            }
            p { button type="submit" { @if user.mfa_enabled { "Replace the authenticator app" } @else { "Set up an authenticator app" } } }
        }
        h2 { "Where you are signed in" }
        table {
            caption.visually-hidden { "Your live sessions" }
            thead { tr { th scope="col" { "Signed in" } th scope="col" { "Last seen" } th scope="col" { "From" } th scope="col" { "Ends" } th scope="col" { span.visually-hidden { "Action" } } } }
            tbody {
                @for s in &sessions {
                    tr {
                        td { (when(s.created_at)) @if s.current { " (this one)" } }
                        td { (when(s.last_seen_at)) }
                        td { (s.source.as_deref().unwrap_or("—")) " " small { (s.user_agent.as_deref().unwrap_or("")) } }
                        td { (when(s.expires_at)) }
                        td {
                            form method="post" action={"/account/sessions/" (s.handle) "/end"} {
                                input type="hidden" name="csrf_token" value=(token);
                                button type="submit" aria-label={"End the session signed in " (when(s.created_at))} { "End" }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action="/account/sessions/end-all" {
            input type="hidden" name="csrf_token" value=(token);
            p { button type="submit" { "Sign out everywhere" } }
        }
        h2 { "Change your password" }
        form method="post" action="/account/password" {
            input type="hidden" name="csrf_token" value=(token);
            label for="current" { "Current password" }
            input id="current" name="current_password" type="password" autocomplete="current-password" required;
            label for="new" { "New password (at least 12 characters, not easy to guess)" }
            input id="new" name="new_password" type="password" autocomplete="new-password" minlength="12" required;
            label for="confirm" { "New password again" }
            input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="12" required;
            p { button type="submit" { "Change the password" } }
        }
    };
    Ok(page("Your account", Some(viewer), content))
}

/// The first step of setting up an authenticator app.
#[derive(Deserialize)]
pub struct StartTotp {
    csrf_token: String,
    current_password: Password,
    #[serde(default)]
    code: String,
}

/// `POST /account/totp`: re-authenticates, then shows the new secret and asks for a code.
pub async fn start_totp(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<StartTotp>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    let code = Some(f.code.trim()).filter(|c| !c.is_empty());
    match begin_totp_enrolment(&state, &viewer.caller, &f.current_password, code).await {
        Ok(enrolment) => {
            Ok(page("Set up an authenticator app", Some(&viewer), confirm_form(&viewer, &enrolment, None)))
        }
        Err(ApiError::Unprocessable(reason)) => account_page(&state, &viewer, Some(&reason)).await,
        Err(e) => Err(e),
    }
}

fn confirm_form(viewer: &Viewer, enrolment: &Enrolment, message: Option<&str>) -> Markup {
    let qr = base64::engine::general_purpose::STANDARD.encode(&enrolment.qr_svg);
    html! {
        @if let Some(m) = message { p.error role="alert" { (m) } }
        ol {
            li {
                "Scan this code with your authenticator app:"
                br;
                img.qr src={"data:image/svg+xml;base64," (qr)} width="200" height="200"
                    alt="QR code of the authenticator app's set-up link (the secret is also written below)";
            }
            li { "or type this secret into it: " code.secret { (enrolment.secret_base32) } }
            li { "then enter the six-digit code the app shows." }
        }
        form method="post" action="/account/totp/confirm" {
            input type="hidden" name="csrf_token" value=(viewer.csrf_token);
            label for="confirm-code" { "Code from the app" }
            input id="confirm-code" name="code" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9]{6}";
            p { button type="submit" { "Confirm" } }
        }
    }
}

/// The code that confirms a new authenticator app.
#[derive(Deserialize)]
pub struct ConfirmTotp {
    csrf_token: String,
    code: String,
}

/// `POST /account/totp/confirm`: the second factor is in use; the recovery codes, shown once;
/// the session is replaced by one that has passed the second factor.
pub async fn confirm_totp(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<ConfirmTotp>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    match finish_totp_enrolment(&state, &viewer.caller, f.code.trim()).await {
        Ok((codes, fresh)) => {
            let content = html! {
                p role="status" { "Your authenticator app is set up. Every other session of yours has ended." }
                h2 { "Recovery codes" }
                p { "Each works once instead of a code from the app, if you lose it. Keep them somewhere safe: they are not shown again." }
                ul.recovery-codes { @for c in &codes { li { code { (c) } } } }
                p { a href="/" { "Go to the cases" } }
            };
            // The page is drawn before the new session exists in the browser: its header's
            // sign-out form would carry the old token, so it is drawn without one.
            let mut response = page("Authenticator app set up", None, content);
            set_session_cookies(&mut response, &fresh, state.now());
            Ok(response)
        }
        Err(ApiError::Unprocessable(reason)) => account_page(&state, &viewer, Some(&reason)).await,
        Err(e) => Err(e),
    }
}

/// A password change.
#[derive(Deserialize)]
pub struct ChangePassword {
    csrf_token: String,
    current_password: Password,
    new_password: Password,
    confirm: Password,
}

/// `POST /account/password`: every session ends; the person signs in again.
pub async fn change_password(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<ChangePassword>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    if f.new_password.expose() != f.confirm.expose() {
        return account_page(&state, &viewer, Some("The two new passwords differ.")).await;
    }
    match change_own_password(&state, &viewer.caller, &f.current_password, &f.new_password).await {
        Ok(()) => {
            let mut response = Redirect::to("/sign-in").into_response();
            clear_session_cookies(&mut response);
            Ok(response)
        }
        Err(ApiError::Unprocessable(reason)) => account_page(&state, &viewer, Some(&reason)).await,
        Err(e) => Err(e),
    }
}

/// `POST /account/sessions/{handle}/end`.
pub async fn end_session(
    State(state): State<ApiState>,
    viewer: Viewer,
    axum::extract::Path(handle): axum::extract::Path<String>,
    Form(f): Form<TokenForm>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    end_own_session(&state, &viewer.caller, &handle).await?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/sessions/end-all`: this session too.
pub async fn end_all(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<TokenForm>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    end_own_sessions(&state, &viewer.caller).await?;
    let mut response = Redirect::to("/sign-in").into_response();
    clear_session_cookies(&mut response);
    Ok(response)
}
