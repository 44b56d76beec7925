//! Request bodies are received in full, within `body_timeout`, before the handler runs. The
//! handler takes its database connection only after that, so a client trickling a body holds
//! a socket and a small buffer (at most `max_body_bytes`), never a connection other landlords
//! need; and the handler's time limit (`request_timeout`) counts from when the body is here.

use axum::body::{to_bytes, Body, HttpBody as _};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::LengthLimitError;

use crate::problem::{ApiError, Problem};
use crate::state::ApiState;

/// Middleware: reads the body within the time limit, then passes the request on with the
/// body in memory.
pub async fn read_body(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    }
    let stats = &state.stats;
    let bytes = {
        let _receiving = stats.body_started();
        match tokio::time::timeout(state.config.body_timeout, to_bytes(body, state.config.max_body_bytes))
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                if is_too_large(&e) {
                    stats.body_too_large();
                    return Err(too_large(state.config.max_body_bytes));
                }
                stats.body_unreadable();
                return Err(ApiError::BadRequest(format!("the request body could not be read: {e}")));
            }
            Err(_) => {
                stats.body_timeout();
                return Err(ApiError::BodyTimeout);
            }
        }
    };
    Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await)
}

/// Whether reading failed on the size limit (this middleware's, or the body-limit layer's).
fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn too_large(limit: usize) -> ApiError {
    ApiError::problem(Problem::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Payload Too Large",
        format!("the request body is larger than {limit} bytes"),
    ))
}
