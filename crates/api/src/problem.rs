//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every error the API answers goes through [`ApiError`]. Internal failures are logged with
//! their cause and answered with a generic 500: database messages never reach a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::stats::LimitScope;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem document: the RFC 9457 members plus extension members.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    /// A URN naming the kind of problem (`urn:dampwatch:problem:<slug>`).
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub extensions: Map<String, Value>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            kind: format!("urn:dampwatch:problem:{slug}"),
            title: title.to_owned(),
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// The document.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("type".into(), self.kind.clone().into());
        doc.insert("title".into(), self.title.clone().into());
        doc.insert("status".into(), self.status.as_u16().into());
        doc.insert("detail".into(), self.detail.clone().into());
        for (k, v) in &self.extensions {
            doc.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(doc)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.to_json().to_string();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = match self.extensions.get("error").and_then(Value::as_str) {
                Some("invalid_token") => r#"Bearer realm="dampwatch", error="invalid_token""#,
                _ => r#"Bearer realm="dampwatch""#,
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header.
    #[error("missing credentials")]
    MissingCredentials,
    /// A key that is malformed, unknown or revoked (not told apart, on purpose).
    #[error("invalid API key")]
    InvalidKey,
    /// A session cookie that names no live session (unknown, ended, expired or idle too long).
    #[error("no live session")]
    InvalidSession,
    /// E-mail, password or second factor not accepted (the cause is not told, on purpose).
    #[error("sign-in refused")]
    SignInRefused,
    /// The password was right; the account's second factor is needed too.
    #[error("second factor needed")]
    SecondFactorNeeded,
    /// The caller is authenticated but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A state-changing request of a session without its CSRF token.
    #[error("missing or wrong CSRF token")]
    Csrf,
    /// Nothing of this kind with this id is visible to the caller (whether it does not exist
    /// or belongs to another landlord is not told).
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: String },
    /// The request cannot be read (query string, JSON syntax).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed but its content is not acceptable.
    #[error("{0}")]
    Unprocessable(String),
    /// The body is not JSON.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body did not arrive within the body time limit.
    #[error("the body did not arrive in time")]
    BodyTimeout,
    /// A rate limit's bucket is empty; another request fits in `retry_after` seconds.
    #[error("rate limited ({}), retry after {retry_after} s", scope.as_str())]
    RateLimited { scope: LimitScope, retry_after: u64 },
    /// A problem with its own status and members (conflicts with the case's state, ...).
    #[error("{}", .0.detail)]
    Problem(Box<Problem>),
    /// The service cannot answer now (database unreachable, pool exhausted, statement timeout).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A failure that is the service's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        ApiError::NotFound { what, id: id.to_string() }
    }

    pub fn problem(problem: Problem) -> Self {
        ApiError::Problem(Box::new(problem))
    }

    /// The problem document answered for this error.
    pub fn to_problem(&self) -> Problem {
        match self {
            ApiError::MissingCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send the landlord's API key as `Authorization: Bearer <key>`",
            ),
            ApiError::InvalidKey => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-key",
                "Invalid API key",
                "the API key is not valid (unknown, revoked or malformed)",
            )
            .with("error", "invalid_token"),
            ApiError::InvalidSession => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-session",
                "Session ended",
                "the session has ended (signed out, expired or idle too long); sign in again",
            ),
            ApiError::SignInRefused => Problem::new(
                StatusCode::UNAUTHORIZED,
                "sign-in-refused",
                "Sign-in refused",
                "the e-mail address, password or code was not accepted",
            ),
            ApiError::SecondFactorNeeded => Problem::new(
                StatusCode::UNAUTHORIZED,
                "second-factor-needed",
                "Second factor needed",
                "send the code from your authenticator app as `totp_code`, or a recovery code as `recovery_code`",
            ),
            ApiError::Forbidden(detail) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail.clone())
            }
            ApiError::Csrf => Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "CSRF token missing or wrong",
                "a signed-in change must carry the session's CSRF token in the `X-CSRF-Token` header",
            ),
            ApiError::NotFound { what, id } => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("no {what} {id}"))
            }
            ApiError::BadRequest(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail.clone())
            }
            ApiError::Unprocessable(detail) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "The request content is not acceptable",
                detail.clone(),
            ),
            ApiError::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            ApiError::BodyTimeout => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "body-timeout",
                "Request body too slow",
                "the request body did not arrive in time; send it at once",
            ),
            ApiError::RateLimited { scope, retry_after } => {
                let what = match scope {
                    LimitScope::Key => "this API key has made more requests than its rate limit allows",
                    LimitScope::Source => "this address has made more requests than its rate limit allows",
                    LimitScope::FailedAuth => "too many requests from this address failed authentication",
                };
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    format!("{what}; retry after {retry_after} s"),
                )
                .with("limit", scope.as_str())
                .with("retry_after", *retry_after)
            }
            ApiError::Problem(problem) => (**problem).clone(),
            ApiError::Unavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "the service cannot answer now; retry later",
            ),
            ApiError::Internal(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the service failed to answer; the failure is logged",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = %cause, "API request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "API request not served"),
            _ => {}
        }
        let mut response = self.to_problem().into_response();
        match &self {
            ApiError::RateLimited { retry_after, .. } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            // The client is still sending the body nobody will read: end the connection.
            ApiError::BodyTimeout => {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// SQLSTATE 57014: the statement was cancelled by `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() || e.code().is_some_and(|c| c.code() == QUERY_CANCELED) {
            return ApiError::Unavailable(e.to_string());
        }
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::Unavailable(format!("database pool: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_has_the_rfc_9457_members_and_extensions() {
        let doc = Problem::new(StatusCode::CONFLICT, "x", "T", "d").with("allowed", vec!["a"]).to_json();
        assert_eq!(doc["type"], "urn:dampwatch:problem:x");
        assert_eq!(doc["status"], 409);
        assert_eq!(doc["title"], "T");
        assert_eq!(doc["detail"], "d");
        assert_eq!(doc["allowed"][0], "a");
    }

    #[test]
    fn extensions_cannot_overwrite_the_standard_members() {
        let doc = Problem::new(StatusCode::CONFLICT, "x", "T", "d").with("status", 200).to_json();
        assert_eq!(doc["status"], 409);
    }

    #[test]
    fn rate_limited_answers_carry_retry_after() {
        let response = ApiError::RateLimited { scope: LimitScope::Key, retry_after: 3 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let p = ApiError::Internal("password=secret".into()).to_problem();
        assert!(!p.to_json().to_string().contains("secret"));
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
