//! What every response gets, whichever layer produced it: the security headers, and errors as
//! problem documents (the timeout, body-limit and method-not-allowed responses of the layers
//! below come without a body of that kind).

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::{Problem, PROBLEM_JSON};

/// The header values added to every response.
#[derive(Clone)]
pub struct SecurityHeaders {
    hsts: HeaderValue,
}

/// The API serves only JSON: nothing may be loaded, framed or submitted from its responses.
const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

impl SecurityHeaders {
    pub fn new(hsts_max_age: std::time::Duration) -> Self {
        let hsts = format!("max-age={}; includeSubDomains", hsts_max_age.as_secs());
        SecurityHeaders {
            hsts: HeaderValue::from_str(&hsts).unwrap_or(HeaderValue::from_static("max-age=31536000")),
        }
    }

    fn apply(&self, response: &mut Response) {
        let h = response.headers_mut();
        let fixed: [(HeaderName, &'static str); 5] = [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            // Responses hold tenants' housing data: no shared or browser cache may keep them.
            (header::CACHE_CONTROL, "no-store"),
        ];
        for (name, value) in fixed {
            // A dashboard page sets its own (less strict) Content-Security-Policy and
            // Referrer-Policy; everything else gets the API's, which allow nothing.
            if (name == header::CONTENT_SECURITY_POLICY || name == header::REFERRER_POLICY)
                && h.contains_key(&name)
            {
                continue;
            }
            h.insert(name, HeaderValue::from_static(value));
        }
        h.insert(header::STRICT_TRANSPORT_SECURITY, self.hsts.clone());
    }
}

/// Short names of the statuses the layers produce on their own.
fn slug(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad-request",
    }
}

/// Turns an error response that is not a problem document into one, keeping its status and
/// headers (`Allow`, `WWW-Authenticate`), and using a short plain-text body as the detail.
async fn as_problem(response: Response) -> Response {
    if response.extensions().get::<OwnErrorFormat>().is_some() {
        return response;
    }
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, 2048).await.ok().and_then(|b| String::from_utf8(b.to_vec()).ok());
    let title = status.canonical_reason().unwrap_or("Error");
    let detail = match text {
        Some(t) if plain && !t.trim().is_empty() && !status.is_server_error() => t.trim().to_owned(),
        _ if status == StatusCode::SERVICE_UNAVAILABLE => {
            "the request took too long or the service is busy; retry later".to_owned()
        }
        _ => title.to_lowercase(),
    };
    let problem = Problem::new(status, slug(status), title, detail).into_response();
    let (problem_parts, problem_body) = problem.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &problem_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, problem_body)
}

/// The outermost middleware.
/// Marks an error response whose format is fixed elsewhere (OAuth 2.0's token errors, RFC 6749
/// §5.2; a dashboard page shown with a refused form): it is left as it is instead of becoming a
/// problem document.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorFormat;

pub async fn finish_response(
    State(headers): State<SecurityHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = as_problem(next.run(request).await).await;
    headers.apply(&mut response);
    response
}

/// The answer to a path no route matches.
pub async fn no_route() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not Found", "no such resource").into_response()
}
