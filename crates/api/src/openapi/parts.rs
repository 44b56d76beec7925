//! Building blocks of the document: schema and response fragments used by paths and schemas.

use serde_json::{json, Map, Value};

pub(super) fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

pub(super) fn nullable(type_name: &str) -> Value {
    json!({"type": [type_name, "null"]})
}

pub(super) fn nullable_date_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

pub(super) fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub(super) fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": schema_ref(item)},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page."
            }
        }
    })
}

pub(super) fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": schema_ref("Problem")}}
    })
}

pub(super) fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The answer to a request over a rate limit: a problem document and when to retry.
pub(super) fn rate_limited_response() -> Value {
    json!({
        "description": "Over a rate limit (`limit`: key, source or failed_auth); retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {
            "description": "Whole seconds until a request fits the limit again.",
            "schema": {"type": "integer", "minimum": 1}
        }},
        "content": {"application/problem+json": {"schema": schema_ref("Problem")}}
    })
}

/// The error answers every authenticated operation can give.
pub(super) fn common_errors(responses: &mut Map<String, Value>) {
    responses.insert("401".into(), problem_response("No API key, or not a valid one."));
    responses.insert("429".into(), rate_limited_response());
    responses.insert("503".into(), problem_response("The request took too long or the service is busy."));
    responses.insert("500".into(), problem_response("The service failed; the cause is logged."));
}

pub(super) fn operation(
    id: &str,
    summary: &str,
    description: &str,
    parameters: Vec<Value>,
    body: Option<(&str, &str)>,
    mut responses: Map<String, Value>,
) -> Value {
    common_errors(&mut responses);
    let mut op = json!({
        "operationId": id,
        "summary": summary,
        "description": description,
        "parameters": parameters,
        "responses": responses,
        "security": [{"apiKey": []}],
    });
    if let Some((schema, text)) = body {
        op["responses"]["408"] = problem_response("The body did not arrive within the time limit.");
        op["requestBody"] = json!({
            "required": true,
            "description": text,
            "content": {"application/json": {"schema": schema_ref(schema)}}
        });
    }
    op
}

pub(super) fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

pub(super) fn path_id(what: &str) -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": format!("The {what}'s id. An id of another landlord's {what} is answered 404, as an unknown one."),
        "schema": {"type": "string", "pattern": "^[0-9]+$"}
    })
}

/// `limit` and `cursor`; `id_cursor`: the list is ordered by numeric id (devices: by name).
pub(super) fn paging(id_cursor: bool) -> Vec<Value> {
    let cursor = if id_cursor {
        json!({"type": "string", "pattern": "^[0-9]{1,18}$"})
    } else {
        json!({"type": "string"})
    };
    vec![
        query(
            "limit",
            "Items per page (default and maximum set by the operator; usually 100 and 1000).",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
        query("cursor", "The `next_cursor` of the previous page.", cursor),
    ]
}

/// An HHSRS (2006) hazard slug.
pub(super) fn hhsrs_hazard(description: &str) -> Value {
    let slugs: Vec<&str> = dampwatch_clock::Hazard::ALL.iter().map(|h| h.slug()).collect();
    json!({"type": "string", "enum": slugs, "description": description})
}

pub(super) fn responses(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub(super) fn string_enum(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

pub(super) const CASE_STATES: &[&str] =
    &["awaiting_triage", "investigating", "work_required", "no_hazard_found", "stopped", "closed"];
pub(super) const EVENT_TYPES: &[&str] = &[
    "triage_decided",
    "investigation_concluded",
    "written_summary_sent",
    "safety_work_done",
    "preventative_work_started",
    "preventative_work_completed",
    "preventative_not_reasonably_practicable",
    "stop",
    "access_attempt",
    "alternative_accommodation_offered",
    "alternative_accommodation_provided",
    "closed",
];
