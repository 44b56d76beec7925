//! The dashboard: server-rendered pages for the people who sign in, on the same listener as
//! the API. Every page works without JavaScript (plain links and forms); nothing is built on the
//! client. A page runs in the same tenant transaction, under the same permission matrix and
//! with the same one definition of each view (the SLA board is `GET /v1/sla`'s report, a case
//! page `GET /v1/cases/{id}`'s detail, a form's event goes through the same recording as
//! `POST /v1/cases/{id}/events`), so a page can show or do nothing the API would not.
//!
//! - `GET /sign-in`, `POST /sign-in`, `POST /sign-out` ([`sign_in`]);
//! - `GET /set-password`, `POST /set-password`: a first password or a reset, with a token
//!   ([`password`]);
//! - `GET /` the SLA board, `GET /board.csv` what it shows ([`board`]);
//! - `GET /alerts`, `POST /alerts/{id}/triage` ([`alerts`]);
//! - `GET /cases/{id}`, `POST /cases/{id}/events`, `POST /cases/{id}/assign` ([`case`]);
//! - `GET /rooms/{id}?range=7d|30d|1y`: a room's charts and devices ([`room`], drawn by
//!   [`chart`]);
//! - `GET /devices?show=attention|offline|low_battery|rotation|all`: devices that need someone
//!   to act ([`devices`]);
//! - `GET /admin` and its forms: people and roles, API keys and OAuth clients, webhook
//!   deliveries and dead letters, the case policy ([`admin`]);
//! - `GET /audit`, `GET /audit.csv`: the landlord's audit log ([`audit`]);
//! - `GET /account` and its forms: second factor, sessions, password ([`account`]).
//!
//! An error is answered with a page saying what went wrong ([`error_page`]), never a JSON
//! problem document.
//!
//! Every page's answer states its server time (`Server-Timing`). Forms carry the session's CSRF token in a hidden field and must come from this site's own
//! pages (`Origin`); pages set their own
//! Content-Security-Policy (styles from this origin only, no scripts, forms to this origin only).

pub mod account;
pub mod admin;
pub mod alerts;
pub mod audit;
pub mod board;
pub mod case;
pub mod chart;
pub mod csv;
pub mod devices;
pub mod error_page;
pub mod layout;
pub mod password;
pub mod room;
pub mod sign_in;
pub mod viewer;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::time::{Duration, Instant};

use crate::state::ApiState;

/// The dashboard's routes.
pub fn pages() -> Router<ApiState> {
    Router::new()
        .route("/", get(board::get))
        .route("/board.csv", get(board::csv))
        .route("/set-password", get(password::form).post(password::submit))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/alerts", get(alerts::get))
        .route("/alerts/{id}/triage", post(alerts::post))
        .route("/cases/{id}", get(case::get))
        .route("/cases/{id}/events", post(case::record))
        .route("/cases/{id}/assign", post(case::assign))
        .route("/cases/{id}/evidence", get(case::evidence))
        .route("/rooms/{id}", get(room::get))
        .route("/devices", get(devices::get))
        .route("/admin", get(admin::get))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/{id}", post(admin::change_user))
        .route("/admin/api-keys", post(admin::add_key))
        .route("/admin/api-keys/{id}/revoke", post(admin::revoke_key))
        .route("/admin/oauth-clients", post(admin::add_client))
        .route("/admin/oauth-clients/{id}/revoke", post(admin::revoke_client))
        .route("/audit", get(audit::get))
        .route("/audit.csv", get(audit::csv))
        .route("/account", get(account::get))
        .route("/account/totp", post(account::start_totp))
        .route("/account/totp/confirm", post(account::confirm_totp))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/end-all", post(account::end_all))
        .route("/account/sessions/{handle}/end", post(account::end_session))
        .route("/static/dashboard.css", get(layout::stylesheet))
        .route_layer(from_fn(same_origin))
        .route_layer(from_fn(error_page::as_page))
        .route_layer(from_fn(server_timing))
}

/// Every page states how long the server took to make it: `Server-Timing: page;dur=<ms>` (then
/// the parts its handler measured, see [`ServerTiming`]),
/// from the request reaching these routes to the whole page rendered (the session lookup, the
/// database reads and the HTML; not TLS or the network). Browsers show it beside their own
/// timings, and `dampwatch bench dashboard` reports it. Only on GET: a form's answer (the
/// sign-in above all) says nothing about how long its checks took.
async fn server_timing(request: Request, next: Next) -> Response {
    let get = request.method() == Method::GET;
    let start = Instant::now();
    let mut response = next.run(request).await;
    if get {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut value = format!("page;dur={:.1}", ms(start.elapsed()));
        if let Some(ServerTiming(parts)) = response.extensions_mut().remove::<ServerTiming>() {
            for (name, took) in parts {
                value.push_str(&format!(", {name};dur={:.1}", ms(took)));
            }
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(HeaderName::from_static("server-timing"), value);
        }
    }
    response
}

/// Parts of a page's server time a handler measured (`read`: its database reads, `html`:
/// making the page), added after `page` in its `Server-Timing`.
#[derive(Debug, Clone)]
pub(crate) struct ServerTiming(pub Vec<(&'static str, Duration)>);

/// A form must be posted from a page of this site: a POST whose `Origin` names another (or
/// `null`) is refused before anything else, a second guard beside the CSRF token and the
/// `SameSite=Strict` cookies (and the only one for the sign-in and password forms, which are
/// posted before any session exists).
async fn same_origin(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
            let authority = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, a)| a);
            if host.is_none() || authority != host {
                return (StatusCode::FORBIDDEN, "the form was posted from another site").into_response();
            }
        }
    }
    next.run(request).await
}
