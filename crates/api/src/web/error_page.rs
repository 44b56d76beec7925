//! Errors as pages. A handler of the dashboard answers a refusal with the API's error
//! ([`crate::problem::ApiError`], a problem document); a person in a browser should read a page
//! instead, with the same status and the same words, and a way back. Pages that draw their own
//! error (a form shown again with its message) are left as they are.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use maud::html;

use super::layout::page;
use crate::middleware::OwnErrorFormat;

/// The most of an error body read for its message.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Headers of the error kept on its page (what a browser or a client acts on).
const KEPT: [header::HeaderName; 4] =
    [header::RETRY_AFTER, header::ALLOW, header::WWW_AUTHENTICATE, header::SET_COOKIE];

pub async fn as_page(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<OwnErrorFormat>().is_some()
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .or_else(|| String::from_utf8(text.to_vec()).ok().filter(|t| !t.is_empty() && t.len() < 500))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::CONFLICT => "Already changed",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => "Something went wrong",
        _ => "Not accepted",
    };
    let content = html! {
        p.error role="alert" { (detail) }
        @if status.is_server_error() { p { "Nothing was changed. Try again in a moment; if it goes on, tell your administrator." } }
        p { a href="/" { "Back to the cases" } " · " a href="/account" { "Your account" } }
    };
    let mut page = page(title, None, content);
    *page.status_mut() = status;
    for name in KEPT {
        for value in parts.headers.get_all(&name) {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
}
