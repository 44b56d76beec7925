//! `GET /set-password` and `POST /set-password`: a person sets their password with the
//! single-use token an admin or the operator gave them (a new account's first password, or a
//! reset). The same redemption as `POST /v1/password-reset`: the token works once, the password
//! must pass the same policy, and every session of the person ends.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use dampwatch_accounts::Password;
use maud::html;
use serde::Deserialize;

use super::layout::page;
use crate::handlers::me::redeem_reset_token;
use crate::problem::ApiError;
use crate::state::ApiState;

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub struct SetPasswordForm {
    token: String,
    password: Password,
    confirm: Password,
}

fn form_page(token: &str, message: Option<&str>) -> Response {
    page(
        "Set your password",
        None,
        html! {
            @if let Some(m) = message { p.error role="alert" { (m) } }
            p { "At least 12 characters. A few unrelated words make a good one; avoid your name, your e-mail address and your landlord's name." }
            form method="post" action="/set-password" {
                input type="hidden" name="token" value=(token);
                label for="password" { "New password" }
                input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128";
                label for="confirm" { "The same password again" }
                input id="confirm" name="confirm" type="password" autocomplete="new-password" required;
                p { button type="submit" { "Set password" } }
            }
        },
    )
}

/// `GET /set-password?token=…`.
pub async fn form(Query(q): Query<TokenQuery>) -> Response {
    form_page(&q.token, None)
}

/// `POST /set-password`.
pub async fn submit(
    State(state): State<ApiState>,
    Form(f): Form<SetPasswordForm>,
) -> Result<Response, ApiError> {
    if f.password != f.confirm {
        let mut r = form_page(&f.token, Some("The two passwords differ."));
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(r);
    }
    match redeem_reset_token(&state, &f.token, &f.password, "dashboard").await {
        Ok(_) => {}
        Err(ApiError::Unprocessable(reason)) => {
            let mut r = form_page(&f.token, Some(&reason));
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(r);
        }
        Err(e) => return Err(e),
    }
    Ok(Redirect::to("/sign-in").into_response())
}
