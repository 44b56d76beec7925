//! The OpenAPI 3.1 document of the API, served at `/openapi.json`. Written by hand next to
//! the handlers it describes; the tests check that it names exactly the router's endpoints
//! and (with an OpenAPI-driven fuzzer) that responses match its schemas.

mod parts;
mod paths;
mod schemas;

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[cfg(test)]
use parts::EVENT_TYPES;

/// The OpenAPI version of the document.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Dampwatch landlord API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Hazard alerts from sensors in rented homes, Awaab's Law cases with their events and deadlines, \
                            an SLA view, the device registry and the webhook delivery log. Every key belongs to one \
                            landlord and sees only that landlord's data (enforced by the database). Errors are \
                            RFC 9457 problem documents.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "paths": paths::paths(),
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http", "scheme": "bearer",
                    "description": "A landlord's API key (`dwk_...`), made with `dampwatch api-keys create`."
                }
            },
            "schemas": schemas::schemas(),
        },
        "security": [{"apiKey": []}],
    })
}

/// `GET /openapi.json`.
pub async fn serve_document() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| document().to_string());
    let mut response = text.clone().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` must name a schema the document defines.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "$ref" {
                        if let Some(s) = v.as_str() {
                            out.push(s.to_owned());
                        }
                    }
                    refs(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").expect("local schema ref");
            assert!(doc["components"]["schemas"].get(name).is_some(), "unresolved {r}");
        }
    }

    /// The position of each event kind in [`EVENT_TYPES`]. The match is exhaustive, so a
    /// new kind in the clock does not compile until it is documented here.
    fn documented_index(kind: dampwatch_clock::case::EventKind) -> usize {
        use dampwatch_clock::case::EventKind as K;
        match kind {
            K::TriageDecided => 0,
            K::InvestigationConcluded => 1,
            K::WrittenSummarySent => 2,
            K::SafetyWorkDone => 3,
            K::PreventativeWorkStarted => 4,
            K::PreventativeWorkCompleted => 5,
            K::PreventativeNotReasonablyPracticable => 6,
            K::Stop => 7,
            K::AccessAttempt => 8,
            K::AlternativeAccommodationOffered => 9,
            K::AlternativeAccommodationProvided => 10,
            K::Closed => 11,
            // Events of Scottish cases, which this API does not open: not documented.
            K::SafetyWorkCommenced | K::UnableToComply => EVENT_TYPES.len(),
        }
    }

    #[test]
    fn the_event_types_are_those_of_the_clock() {
        for (i, name) in EVENT_TYPES.iter().enumerate() {
            let kind: dampwatch_clock::case::EventKind =
                serde_json::from_value(json!(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(documented_index(kind), i, "{name}");
        }
    }
}
