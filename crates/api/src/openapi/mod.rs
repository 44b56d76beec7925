//! The OpenAPI 3.1 document of the API, served at `/openapi.json`. It is derived (`utoipa`)
//! from the types the handlers answer with (the store's read model, which the webhooks carry
//! too) and from each handler's `#[utoipa::path]`; what every operation shares (the key, the
//! rate limit's 429, the answers to a body that cannot be read) is added here from the
//! router's own endpoint table, and the page size's bound from the operator's configuration.
//! The tests check that it names exactly the router's endpoints and validate every response
//! they get against it.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use dampwatch_alerts::payload::{WebhookBatch, WebhookEvent};
use dampwatch_store::read_model::{Alert, Case, Device, RoomRisk};
use serde_json::{json, Map, Value};
use utoipa::{OpenApi, ToSchema};

use crate::config::ApiConfig;
use crate::handlers::events::EventRequest;
use crate::handlers::triage::TriageRequest;
use crate::handlers::webhooks::WebhookMessage;
use crate::handlers::{
    alerts, assign, cases, credentials, devices, events, evidence, me, notifications, rooms, share, signin,
    sla, token, triage, users, webhooks,
};
use crate::routes::{Access, Verb, ENDPOINTS};
use crate::state::ApiState;

/// The OpenAPI version of the document.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// An RFC 9457 problem document: what every error is answered with.
#[derive(ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// `urn:dampwatch:problem:<kind>`.
    #[serde(rename = "type")]
    #[schema(pattern = "^urn:dampwatch:problem:[a-z-]+$")]
    pub kind: String,
    pub title: String,
    /// The HTTP status.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
}

/// A problem about a case's record: the event it does not accept now and why.
#[derive(ToSchema)]
pub struct InvalidTransition {
    #[serde(flatten)]
    pub problem: ProblemDocument,
    pub case_id: Option<i64>,
    /// The case's status when it refused the event.
    pub case_status: Option<String>,
    /// The event refused.
    pub event: Option<String>,
    /// not_allowed, already_recorded, outstanding_work or too_early.
    #[schema(pattern = "^(not_allowed|already_recorded|outstanding_work|too_early)$")]
    pub reason: Option<String>,
    /// The events the case accepts now.
    pub allowed: Option<Vec<String>>,
    /// Before closure: the events still missing.
    pub missing: Option<Vec<String>>,
}

/// Declares the schema of one page of a list.
macro_rules! page {
    ($name:ident, $item:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        #[derive(ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Pass as `cursor` for the next page; null on the last page.
            #[schema(required = true)]
            pub next_cursor: Option<String>,
        }
    };
}

page!(AlertPage, Alert, "alerts");
page!(CasePage, Case, "cases");
page!(DevicePage, Device, "devices");
page!(RoomRiskPage, RoomRisk, "rooms with their risk levels");
page!(WebhookMessagePage, WebhookMessage, "webhook messages");

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dampwatch landlord API",
        description = "Hazard alerts from sensors in rented homes, Awaab's Law cases with their events and deadlines, \
                       an SLA view, the device registry and the webhook delivery log. Every key belongs to one \
                       landlord and sees only that landlord's data (enforced by the database). Errors are RFC 9457 \
                       problem documents. Alerts, cases, deadlines and devices are the same objects as in the \
                       webhooks (`WebhookEvent`). Query parameters other than those listed are refused (400).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        alerts::list,
        alerts::get,
        triage::post,
        cases::list,
        cases::get,
        evidence::get,
        share::get,
        events::post,
        sla::get,
        devices::list,
        rooms::list,
        webhooks::list,
        assign::post,
        signin::post,
        signin::delete,
        me::get,
        notifications::get_mine,
        notifications::put_mine,
        notifications::failures,
        me::sessions,
        me::end_sessions,
        me::end_session,
        me::change_password,
        me::reset_password,
        me::start_totp,
        me::confirm_totp,
        users::list,
        users::create,
        users::update,
        credentials::list_keys,
        credentials::create_key_handler,
        credentials::revoke_key,
        credentials::list_oauth_clients,
        credentials::create_oauth_client,
        credentials::revoke_oauth_client,
        token::post,
        serve_document,
    ),
    components(schemas(
        ProblemDocument,
        InvalidTransition,
        WebhookEvent,
        WebhookBatch,
        EventRequest,
        TriageRequest
    ))
)]
struct ApiDoc;

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// Adds `response` under `status` unless the operation documents that status itself.
fn add_response(operation: &mut Value, status: &str, response: Value) {
    if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
        responses.entry(status.to_owned()).or_insert(response);
    }
}

/// The document, with the page size bounded as `config` bounds it.
pub fn document(config: &ApiConfig) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|e| json!({"error": e.to_string()}));
    doc["openapi"] = json!(OPENAPI_VERSION);
    doc["components"]["securitySchemes"] = json!({
        "apiKey": {
            "type": "http", "scheme": "bearer",
            "description": "A landlord's API key (`dwk_...`), made with `dampwatch api-keys create`."
        },
        "session": {
            "type": "apiKey", "in": "cookie", "name": "__Host-dampwatch_session",
            "description": "A person's session from `POST /v1/session`; changes also need the session's CSRF token in `X-CSRF-Token`."
        }
    });
    for endpoint in ENDPOINTS {
        let Some(operation) =
            doc["paths"].get_mut(endpoint.path).and_then(|p| p.get_mut(endpoint.verb.as_str()))
        else {
            continue;
        };
        if endpoint.authenticated() {
            operation["security"] = match endpoint.access {
                Access::Person => json!([{"session": []}]),
                Access::ThirdParty => json!([{"apiKey": []}]),
                _ => json!([{"apiKey": []}, {"session": []}]),
            };
            add_response(operation, "401", problem_response("No API key or session, or not a valid one."));
            add_response(
                operation,
                "403",
                problem_response("The caller's role or key scope does not allow this, or a session's change lacks its CSRF token."),
            );
            add_response(
                operation,
                "503",
                problem_response("The request took too long or the service is busy."),
            );
            add_response(operation, "500", problem_response("The service failed; the cause is logged."));
        } else {
            operation["security"] = json!([]);
        }
        add_response(
            operation,
            "429",
            json!({
                "description": "Over a rate limit (`limit`: key, source or failed_auth); retry after `Retry-After` seconds.",
                "headers": {"Retry-After": {
                    "description": "Whole seconds until a request fits the limit again.",
                    "schema": {"type": "integer", "minimum": 1}
                }},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            }),
        );
        if matches!(endpoint.verb, Verb::Post | Verb::Put) {
            add_response(operation, "400", problem_response("The body is not valid JSON."));
            add_response(
                operation,
                "408",
                problem_response("The body did not arrive within the time limit."),
            );
            add_response(operation, "413", problem_response("The body is too large."));
            add_response(operation, "415", problem_response("The body is not JSON."));
        }
        if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
            for parameter in parameters.iter_mut().filter(|p| p["name"] == "limit") {
                parameter["schema"]["minimum"] = json!(1);
                parameter["schema"]["maximum"] = json!(config.max_page_size);
                parameter["description"] = json!(format!(
                    "Items per page: {} when not given, at most {}.",
                    config.default_page_size, config.max_page_size
                ));
            }
        }
    }
    doc["webhooks"] = json!({
        "dampwatchEvent": {"post": {
            "operationId": "receiveWebhook",
            "summary": "A webhook to a landlord's receiver",
            "description": "Sent signed (`Dampwatch-Signature`: v2= HMAC-SHA256 over timestamp, idempotency key and body) \
                            at least once; answer 2xx to acknowledge.",
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEvent"}}}
            },
            "responses": {"2XX": {"description": "Received."}}
        }},
        "dampwatchAdvisoryBatch": {"post": {
            "operationId": "receiveWebhookBatch",
            "summary": "A day's advisory alerts to a landlord's receiver, in one delivery",
            "description": "For a landlord whose advisory alerts (no legal clock) are sent in a daily batch \
                            (`dampwatch webhooks advisory --delivery daily`): the day's advisory events, each the \
                            body it would have had alone, in one delivery per endpoint (`Dampwatch-Event: alert.batch`). \
                            Signed and retried like any webhook; alerts with a legal clock are never batched.",
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookBatch"}}}
            },
            "responses": {"2XX": {"description": "Received."}}
        }}
    });
    doc
}

/// The page sizes a document states: default and maximum.
type PageSizes = (u32, u32);

/// Get this document
///
/// The OpenAPI document of this API (no key needed).
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
pub async fn serve_document(State(state): State<ApiState>) -> Response {
    // The document depends only on the page sizes, which a process rarely changes: keep the
    // text of the last one.
    static LAST: Mutex<Option<(PageSizes, Arc<str>)>> = Mutex::new(None);
    let key = (state.config.default_page_size, state.config.max_page_size);
    let text = {
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*last {
            Some((k, text)) if *k == key => text.clone(),
            _ => {
                let text: Arc<str> = document(&state.config).to_string().into();
                *last = Some((key, text.clone()));
                text
            }
        }
    };
    let mut response = text.to_string().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The schemas of a webhook body in `doc`, by name.
pub fn webhook_schemas(doc: &Value) -> Map<String, Value> {
    dampwatch_alerts::payload::schemas()
        .into_iter()
        .map(|(name, _)| {
            let schema = doc["components"]["schemas"].get(&name).cloned().unwrap_or(Value::Null);
            (name, schema)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::events::{event_fields, EVENT_KINDS};

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
        let doc = document(&ApiConfig::default());
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").expect("local schema ref");
            assert!(doc["components"]["schemas"].get(name).is_some(), "unresolved {r}");
        }
    }

    #[test]
    fn the_webhook_schemas_are_the_documents_own() {
        let doc = document(&ApiConfig::default());
        for (name, schema) in dampwatch_alerts::payload::schemas() {
            assert_eq!(doc["components"]["schemas"][&name], serde_json::to_value(schema).unwrap(), "{name}");
        }
        assert_eq!(
            doc["components"]["schemas"]["WebhookEvent"]["properties"]["alert"]["oneOf"][1]["$ref"],
            "#/components/schemas/Alert"
        );
    }

    #[test]
    fn request_bodies_refuse_unknown_members_and_page_sizes_are_bounded_by_the_configuration() {
        let config = ApiConfig { max_page_size: 250, ..ApiConfig::default() };
        let doc = document(&config);
        let triage = &doc["components"]["schemas"]["TriageRequest"];
        assert_eq!(triage["additionalProperties"], false);
        for variant in doc["components"]["schemas"]["EventRequest"]["oneOf"].as_array().unwrap() {
            assert_eq!(variant["additionalProperties"], false, "{variant}");
        }
        let limit = doc["paths"]["/v1/alerts"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap()
            .clone();
        assert_eq!(limit["schema"]["maximum"], 250);
        assert_eq!(limit["schema"]["minimum"], 1);
    }

    /// The position of each event kind in [`EVENT_KINDS`]. The match is exhaustive, so a new
    /// kind in the clock does not compile until it is documented.
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
            K::SafetyWorkCommenced => 12,
            K::UnableToComply => 13,
        }
    }

    /// Values the schema allows: its enum's, or a plausible one.
    fn examples(schema: &Value) -> Vec<Value> {
        if let Some(values) = schema["enum"].as_array() {
            return values.iter().filter(|v| !v.is_null()).cloned().collect();
        }
        if schema["oneOf"].is_array() {
            return vec![json!({"by": "2030-01-31"}), json!({"working_days": 10})];
        }
        vec![json!("a reason")]
    }

    #[test]
    fn every_event_kind_is_documented_with_members_the_body_accepts() {
        for (i, kind) in EVENT_KINDS.iter().enumerate() {
            assert_eq!(documented_index(*kind), i, "{}", kind.as_str());
            let mut body = json!({"type": kind.as_str(), "actor": "Ann"});
            for field in event_fields(*kind) {
                body[field.name] = examples(&(field.schema)())[0].clone();
            }
            for field in event_fields(*kind) {
                for value in examples(&(field.schema)()) {
                    let mut one = body.clone();
                    one[field.name] = value;
                    crate::extract::parse_json::<EventRequest>(one.to_string().as_bytes())
                        .unwrap_or_else(|e| panic!("{one}: {e:?}"));
                }
            }
            body["colour"] = json!("red");
            assert!(
                crate::extract::parse_json::<EventRequest>(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
    }
}
