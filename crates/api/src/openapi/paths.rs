//! The `paths` of the document: one operation per entry of [`crate::routes::ENDPOINTS`].

use serde_json::{json, Value};

use super::parts::*;

pub(super) fn paths() -> Value {
    let hazard_filter = query(
        "hazard",
        "Only this hazard (a slug such as damp_and_mould_growth).",
        json!({"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}),
    );
    let mut alert_params = vec![
        query("state", "Only open or only cleared alerts.", string_enum(&["open", "cleared"])),
        hazard_filter.clone(),
        query(
            "triage",
            "Only alerts in this triage state (awaiting_triage: the triage queue).",
            string_enum(&["not_applicable", "awaiting_triage", "case_opened"]),
        ),
    ];
    alert_params.extend(paging(true));
    let mut state_filter: Vec<&str> = vec!["open"];
    state_filter.extend_from_slice(CASE_STATES);
    let mut case_params = vec![
        query(
            "state",
            "Only cases in this state; `open` is every state but closed.",
            string_enum(&state_filter),
        ),
        hazard_filter,
        query("track", "Only cases triaged onto this track.", string_enum(&["emergency", "significant"])),
    ];
    case_params.extend(paging(true));
    let mut device_params =
        vec![query("status", "Only active or only revoked devices.", string_enum(&["active", "revoked"]))];
    device_params.extend(paging(false));
    let mut delivery_params = vec![query(
        "state",
        "Only messages in this state (dead: dead letters).",
        string_enum(&["pending", "delivered", "dead"]),
    )];
    delivery_params.extend(paging(true));
    let bad_query = problem_response("A query parameter is not valid.");
    json!({
        "/v1/alerts": {"get": operation(
            "listAlerts", "List hazard alerts",
            "The landlord's alerts, newest first. One open alert per room and hazard; a change of severity updates it (revision).",
            alert_params, None,
            responses(vec![("200", json_response("A page of alerts.", schema_ref("AlertPage"))), ("400", bad_query.clone())]),
        )},
        "/v1/alerts/{id}": {"get": operation(
            "getAlert", "Get an alert with its explanation",
            "The alert with its explanation: which rules (with version and source), which values, which window.",
            vec![path_id("alert")], None,
            responses(vec![("200", json_response("The alert.", schema_ref("Alert"))), ("404", problem_response("No such alert."))]),
        )},
        "/v1/alerts/{id}/triage": {"post": operation(
            "triageAlert", "Triage an alert waiting for triage",
            "For landlords whose alerts wait for a person's triage (policy open_on_triage): records the decision, opens the case (the statutory clock starts at the decision) and links the alert to it.",
            vec![path_id("alert")], Some(("TriageRequest", "The decision, who made it, when, and evidence.")),
            responses(vec![
                ("201", json_response("The case opened.", schema_ref("TriageResult"))),
                ("400", problem_response("The body is not valid JSON.")),
                ("404", problem_response("No such alert.")),
                ("409", problem_response("The alert already has a case, indicates no HHSRS hazard, or the decision is dated before the alert.")),
                ("413", problem_response("The body is too large.")),
                ("415", problem_response("The body is not JSON.")),
                ("422", problem_response("The body's content is not acceptable.")),
            ]),
        )},
        "/v1/cases": {"get": operation(
            "listCases", "List Awaab's Law cases",
            "The landlord's cases, newest first.",
            case_params, None,
            responses(vec![("200", json_response("A page of cases.", schema_ref("CasePage"))), ("400", bad_query.clone())]),
        )},
        "/v1/cases/{id}": {"get": operation(
            "getCase", "Get a case with its events and deadlines",
            "The case, every recorded event, the events it accepts now, and every step's deadline and status as of now.",
            vec![path_id("case")], None,
            responses(vec![("200", json_response("The case.", schema_ref("CaseDetail"))), ("404", problem_response("No such case."))]),
        )},
        "/v1/cases/{id}/events": {"post": operation(
            "recordCaseEvent", "Record what happened on a case",
            "Appends an event (never edits one). An event the case does not accept now is refused with 409 and the list of events it accepts (`allowed`).",
            vec![path_id("case")], Some(("EventRequest", "The event, who did it, when, and evidence.")),
            responses(vec![
                ("201", json_response("The case after the event.", schema_ref("CaseDetail"))),
                ("400", problem_response("The body is not valid JSON.")),
                ("404", problem_response("No such case.")),
                ("409", json!({
                    "description": "The case does not accept this event now (`allowed` lists what it accepts; `reason` says why: not_allowed in this state, already_recorded, outstanding_work before closure, too_early: dated before what it must follow), or it changed meanwhile (expected_event_count).",
                    "content": {"application/problem+json": {"schema": schema_ref("InvalidTransition")}}
                })),
                ("413", problem_response("The body is too large.")),
                ("415", problem_response("The body is not JSON.")),
                ("422", problem_response("The body's content is not acceptable (unknown event type, blank actor, a time in the future, or `late-record-needs-reason`: `at` is more than the tolerance in the past and no `late_reason` was given).")),
            ]),
        )},
        "/v1/sla": {"get": operation(
            "getSla", "Service-level view",
            "Every case not closed with every step's due time and status as of now, and counts of what is overdue and due soon.",
            vec![], None,
            responses(vec![("200", json_response("The SLA view.", schema_ref("SlaReport")))]),
        )},
        "/v1/devices": {"get": operation(
            "listDevices", "List registered devices",
            "The landlord's sensors as registered, by id (read-only).",
            device_params, None,
            responses(vec![("200", json_response("A page of devices.", schema_ref("DevicePage"))), ("400", bad_query.clone())]),
        )},
        "/v1/webhooks/deliveries": {"get": operation(
            "listWebhookDeliveries", "Webhook delivery log",
            "Webhook messages, newest first, with every delivery attempt; dead letters are messages given up on.",
            delivery_params, None,
            responses(vec![("200", json_response("A page of messages.", schema_ref("WebhookMessagePage"))), ("400", bad_query)]),
        )},
        "/openapi.json": {"get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": json_response("The OpenAPI document.", json!({"type": "object"})),
                "429": rate_limited_response(),
            }
        }},
    })
}
