//! `POST /oauth/token`: the OAuth 2.0 token endpoint, client credentials grant only
//! (RFC 6749 §4.4). The client authenticates with HTTP Basic (§2.3.1) or `client_id` and
//! `client_secret` in the form body; errors are RFC 6749 §5.2 JSON, not problem documents, so
//! any OAuth client library understands them. A failed client authentication takes from the
//! source's failed-authentication bucket, like a wrong key.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::signin::RequestOrigin;
use crate::audit::{record, Entry};
use crate::middleware::OwnErrorFormat;
use crate::oauth::{issue_token, TokenRefusal, TOKEN_LIFETIME};
use crate::problem::ApiError;
use crate::state::ApiState;

/// A token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Present as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes granted: `read` or `read write`; `share` for a third party's client.
    pub scope: String,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenError {
    /// invalid_request, invalid_client, unsupported_grant_type or invalid_scope.
    pub error: String,
    pub error_description: String,
}

fn refusal(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response =
        (status, Json(json!({"error": error, "error_description": description}))).into_response();
    response.extensions_mut().insert(OwnErrorFormat);
    no_store(&mut response);
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="dampwatch""#));
    }
    response
}

/// RFC 6749 §5.1: token responses are never cached.
fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The client's credentials from HTTP Basic, if sent.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Get an access token
///
/// OAuth 2.0 client credentials grant (RFC 6749 §4.4): `grant_type=client_credentials` and an
/// optional `scope` (`read` or `read write`; `share` for a third party's client), form-encoded; the client's id and secret by HTTP
/// Basic or as `client_id` and `client_secret`.
#[utoipa::path(post, path = "/oauth/token", operation_id = "getToken", tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=client_credentials[&scope=read%20write][&client_id=..&client_secret=..]"),
    responses(
        (status = 200, description = "A token.", body = TokenResponse),
        (status = 400, description = "Not a valid request, grant type or scope.", body = TokenError),
        (status = 401, description = "The client is unknown, revoked, or its secret is wrong.", body = TokenError),
    ))]
pub async fn post(
    State(state): State<ApiState>,
    from: RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Some(source) = from.source {
        state.limits.check_not_blocked(source)?;
    }
    let form_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !form_type {
        return Ok(refusal(StatusCode::BAD_REQUEST, "invalid_request", "send the request form-encoded"));
    }
    let mut grant = None;
    let mut scope = None;
    let (mut form_id, mut form_secret) = (None, None);
    for (name, value) in url::form_urlencoded::parse(&body) {
        let slot = match &*name {
            "grant_type" => &mut grant,
            "scope" => &mut scope,
            "client_id" => &mut form_id,
            "client_secret" => &mut form_secret,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{name} is given twice"),
            ));
        }
    }
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            ))
        }
        None => return Ok(refusal(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing")),
    }
    let (client_id, secret) = match (basic(&headers), form_id, form_secret) {
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "authenticate the client one way only",
            ))
        }
        _ => return Ok(refusal(StatusCode::UNAUTHORIZED, "invalid_client", "the client must authenticate")),
    };
    let now = state.now();
    let mut client = state.keys.pool().get().await?;
    let tx = client.transaction().await?;
    let issued = issue_token(&*tx, &client_id, &secret, scope.as_deref(), now).await?;
    match issued {
        Ok(issued) => {
            let entry = dampwatch_audit::Event {
                actor: format!("client:{}", issued.client),
                landlord_id: Some(issued.landlord_id.clone()),
                source: from.origin.source.clone(),
                action: "oauth.token".into(),
                target: None,
                outcome: dampwatch_audit::Outcome::Success,
                details: json!({"scope": issued.scopes.join(" ")}),
            };
            dampwatch_audit::append(&*tx, &entry)
                .await
                .map_err(|e| ApiError::Internal(format!("audit log: {e}")))?;
            tx.commit().await?;
            let body = TokenResponse {
                access_token: issued.token,
                token_type: "Bearer".into(),
                expires_in: TOKEN_LIFETIME.num_seconds(),
                scope: issued.scopes.join(" "),
            };
            let mut response = Json(body).into_response();
            no_store(&mut response);
            Ok(response)
        }
        Err(refused) => {
            tx.commit().await?;
            match refused {
                TokenRefusal::InvalidClient => {
                    state.stats.invalid_key();
                    if let Some(source) = from.source {
                        state.limits.charge_failed_auth(source)?;
                    }
                    let entry = Entry::anonymous(
                        "oauth.token",
                        from.origin.source.clone(),
                        json!({"reason": "invalid_client"}),
                    );
                    let client = state.keys.pool().get().await?;
                    record(&**client, &entry).await?;
                    Ok(refusal(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "the client is unknown, revoked or its secret is wrong",
                    ))
                }
                TokenRefusal::InvalidScope => Ok(refusal(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "scopes are read and write, within the client's",
                )),
                TokenRefusal::InvalidRequest(why) => {
                    Ok(refusal(StatusCode::BAD_REQUEST, "invalid_request", &why))
                }
            }
        }
    }
}
