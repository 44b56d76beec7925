//! `GET /sign-in` (the form), `POST /sign-in` (the attempt, the same one the API makes) and
//! `POST /sign-out`. A refusal says the same whatever its cause; a correct password on an
//! account with a second factor asks for the code on the same form.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use dampwatch_accounts::session::NewSession;
use dampwatch_accounts::signin::{Credentials, SecondFactor, SignIn};
use dampwatch_accounts::{session, Password};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::layout::page;
use super::viewer::{Viewer, CSRF_COOKIE};
use crate::audit::{record, Entry};
use crate::handlers::signin::{attempt, cleared_cookie_header, session_cookie_header, RequestOrigin};
use crate::problem::ApiError;
use crate::state::ApiState;

/// What the form sends.
#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: Password,
    #[serde(default)]
    code: String,
}

fn form_page(email: &str, message: Option<&str>, ask_code: bool) -> Response {
    page(
        "Sign in",
        None,
        html! {
            @if let Some(m) = message { p.error role="alert" { (m) } }
            form method="post" action="/sign-in" {
                label for="email" { "E-mail address" }
                input id="email" name="email" type="email" autocomplete="username" required value=(email);
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                label for="code" { "Code from your authenticator app" @if !ask_code { " (if you use one)" } }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code";
                p { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// `GET /sign-in`.
pub async fn form() -> Response {
    form_page("", None, false)
}

/// `POST /sign-in`.
pub async fn submit(
    State(state): State<ApiState>,
    from: RequestOrigin,
    Form(f): Form<SignInForm>,
) -> Response {
    let code = f.code.trim();
    let second_factor = match code.len() {
        0 => None,
        6 => Some(SecondFactor::Totp(code.to_owned())),
        _ => Some(SecondFactor::RecoveryCode(code.to_owned())),
    };
    let credentials = Credentials { email: f.email.clone(), password: f.password, second_factor };
    let now = state.now();
    match attempt(&state, &from, &credentials, now).await {
        Ok(SignIn::SignedIn { session, .. }) => {
            let mut response = Redirect::to("/").into_response();
            set_session_cookies(&mut response, &session, now);
            response
        }
        Ok(SignIn::SecondFactorNeeded { .. }) => form_page(
            &f.email,
            Some("Enter the code from your authenticator app (or a recovery code)."),
            true,
        ),
        Ok(SignIn::Refused { .. }) => {
            form_page(&f.email, Some("The e-mail address, password or code was not accepted."), false)
        }
        Err(e) => e.into_response(),
    }
}

/// Hands a new session to the browser: its id in the session cookie and its CSRF token in the
/// dashboard's own cookie, both for the session's lifetime.
pub fn set_session_cookies(response: &mut Response, session: &NewSession, now: DateTime<Utc>) {
    let max_age = (session.expires_at - now).num_seconds();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session_cookie_header(&session.id, max_age));
    let csrf = format!(
        "{CSRF_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        session.csrf_token
    );
    headers.append(header::SET_COOKIE, HeaderValue::from_str(&csrf).expect("URL-safe base64"));
}

/// Clears both of the dashboard's cookies.
pub fn clear_session_cookies(response: &mut Response) {
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cleared_cookie_header());
    let cleared = format!("{CSRF_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    headers.append(header::SET_COOKIE, HeaderValue::from_str(&cleared).expect("a constant header"));
}

/// The sign-out form's fields.
#[derive(Deserialize)]
pub struct TokenForm {
    pub csrf_token: String,
}

/// `POST /sign-out`.
pub async fn sign_out(
    State(state): State<ApiState>,
    viewer: Viewer,
    Form(f): Form<TokenForm>,
) -> Result<Response, ApiError> {
    viewer.check_csrf(&f.csrf_token)?;
    let client = state.keys.pool().get().await?;
    session::end(&**client, &viewer.session().id_hash).await?;
    record(&**client, &Entry::of(&viewer.caller, "session.sign_out", None, json!({"from": "dashboard"})))
        .await?;
    let mut response = Redirect::to("/sign-in").into_response();
    clear_session_cookies(&mut response);
    Ok(response)
}
