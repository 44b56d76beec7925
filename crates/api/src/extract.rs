//! Request parts read the API's way: JSON bodies, query strings and path ids whose errors are
//! problem documents (400 for what cannot be parsed, 415 for a body that is not JSON, 422 for
//! JSON whose content is wrong, 404 for an id that cannot name anything).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, Problem};

/// A JSON request body.
pub struct JsonBody<T>(pub T);

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON document: syntax errors are 400, content errors 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::Unprocessable(e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
            }
        }
    })
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json);
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            ApiError::problem(Problem::new(
                status,
                "unreadable-body",
                "Unreadable body",
                rejection.body_text(),
            ))
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Query-string parameters.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| QueryParams(q))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// A numeric id from the path; anything else names nothing, so it is "not found".
pub fn parse_id(what: &'static str, text: &str) -> Result<i64, ApiError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::not_found(what, text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn syntax_errors_are_400_and_content_errors_422() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            n: u8,
        }
        assert!(matches!(parse_json::<T>(b"{"), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<T>(b"{\"n\": \"x\"}"), Err(ApiError::Unprocessable(_))));
        assert!(parse_json::<T>(b"{\"n\": 1}").is_ok());
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(parse_id("case", "12").unwrap(), 12);
        assert!(matches!(parse_id("case", "0"), Err(ApiError::NotFound { .. })));
        assert!(matches!(parse_id("case", "abc"), Err(ApiError::NotFound { .. })));
    }
}
