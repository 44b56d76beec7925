//! The frame every page shares (header, sign-out form, main region), its stylesheet, and the
//! words and classes for a deadline's status (shown in words and colour, never colour alone).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use dampwatch_accounts::Permission;
use dampwatch_store::read_model::Deadline;
use maud::{html, Markup, DOCTYPE};

use super::viewer::Viewer;
use crate::middleware::OwnErrorFormat;

/// Pages load styles from this origin only, run no script, and post forms only here.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

/// A whole page.
pub fn page(title: &str, viewer: Option<&Viewer>, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Dampwatch" }
                link rel="stylesheet" href="/static/dashboard.css";
            }
            body {
                header {
                    a.brand href="/" { "Dampwatch" }
                    @if let Some(v) = viewer {
                        nav aria-label="Pages" {
                            @if v.may(Permission::ReadSla) || v.may(Permission::ReadCases) { a href="/" { "Cases" } }
                            @if v.may(Permission::ReadAlerts) { a href="/alerts" { "Alerts awaiting triage" } }
                            @if v.may(Permission::ReadDevices) { a href="/devices" { "Devices" } }
                            @if v.may(Permission::ReadAuditLog) { a href="/audit" { "Audit log" } }
                            @if super::admin::may_administer(v) { a href="/admin" { "Administration" } }
                        }
                        nav aria-label="Account" {
                            a href="/account" { "Your account" }
                            span { "Signed in as " (v.session().role.as_str().replace('_', " ")) }
                            form method="post" action="/sign-out" {
                                input type="hidden" name="csrf_token" value=(v.csrf_token);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { h1 { (title) } (content) }
            }
        }
    };
    let mut response = markup.into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with a
    // form, and the forms are checked against their origin. Nothing leaks to other sites.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // A page answered with an error status (a form refused) is still the page the person reads.
    response.extensions_mut().insert(OwnErrorFormat);
    response
}

/// A deadline status in words, and its class for colour.
pub fn status_words(status: &str) -> (&'static str, &'static str) {
    match status {
        "overdue" => ("Overdue", "overdue"),
        "due_today" => ("Due today", "due-today"),
        "due_soon" => ("Due soon", "due-soon"),
        "on_track" => ("On track", "on-track"),
        "met" => ("Met", "met"),
        "met_late" => ("Met late", "overdue"),
        "stopped" => ("Stopped", "stopped"),
        "waiting" => ("Waiting", "waiting"),
        _ => ("No clock running", "none"),
    }
}

/// A time as people in the UK read it.
pub fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Europe::London).format("%a %-d %b %Y, %H:%M").to_string()
}

/// When a step is due: by the end of a UK date for steps counted in days or weeks, else the
/// instant.
pub fn due_words(s: &Deadline) -> String {
    match NaiveDate::parse_from_str(&s.due, "%Y-%m-%d") {
        Ok(date) => format!("by the end of {}", date.format("%a %-d %b %Y")),
        Err(_) => when(s.ends_at),
    }
}

/// `GET /static/dashboard.css`.
pub async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    response
}

/// High contrast (WCAG 2.2 AA), visible focus, status in words beside its colour.
const STYLESHEET: &str = r#"
body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fff; line-height: 1.4; }
header { display: flex; justify-content: space-between; align-items: center; padding: .5rem 1rem; background: #0b3d5c; color: #fff; }
header a.brand { color: #fff; font-weight: bold; text-decoration: none; }
header nav { display: flex; gap: 1rem; align-items: center; }
header nav a { color: #fff; }
main { padding: 1rem; max-width: 80rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #767676; vertical-align: top; }
a { color: #0b3d5c; }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
.status { font-weight: bold; padding: .1rem .4rem; border-radius: .2rem; }
.overdue { background: #a4001d; color: #fff; }
.due-today { background: #f47738; color: #1b1b1b; }
.due-soon { background: #ffdd00; color: #1b1b1b; }
.late { background: #4c2c92; color: #fff; }
.on-track { background: #00703c; color: #fff; }
.met, .stopped, .waiting, .none { background: #e8e8e8; color: #1b1b1b; }
strong.error { display: block; }
pre { white-space: pre-wrap; max-width: 60rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.counts { display: flex; flex-wrap: wrap; gap: 1.5rem; list-style: none; padding: 0; }
form.filters { display: flex; flex-wrap: wrap; gap: 0 1.5rem; align-items: flex-end; }
.error { border-left: 5px solid #a4001d; padding: .5rem 1rem; background: #fdecee; }
.notice { border-left: 5px solid #00703c; padding: .5rem 1rem; background: #e9f5ee; }
label { display: block; margin-top: .6rem; font-weight: bold; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: bold; }
dd { margin: 0; }
code.secret, .recovery-codes code { font-size: 1.1rem; letter-spacing: .05em; }
img.qr { margin: .5rem 0; background: #fff; }
input, select, button { font: inherit; padding: .3rem .5rem; }
button { background: #0b3d5c; color: #fff; border: 0; border-radius: .2rem; cursor: pointer; }
header button { background: #fff; color: #0b3d5c; }
"#;
