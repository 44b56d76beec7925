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
//! - `GET /cases/{id}`, `POST /cases/{id}/events` ([`case`]).
//!
//! Forms carry the session's CSRF token in a hidden field; pages set their own
//! Content-Security-Policy (styles from this origin only, no scripts, forms to this origin only).

pub mod board;
pub mod case;
pub mod layout;
pub mod password;
pub mod sign_in;
pub mod viewer;

use axum::routing::{get, post};
use axum::Router;

use crate::state::ApiState;

/// The dashboard's routes.
pub fn pages() -> Router<ApiState> {
    Router::new()
        .route("/", get(board::get))
        .route("/board.csv", get(board::csv))
        .route("/set-password", get(password::form).post(password::submit))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/cases/{id}", get(case::get))
        .route("/cases/{id}/events", post(case::record))
        .route("/static/dashboard.css", get(layout::stylesheet))
}
