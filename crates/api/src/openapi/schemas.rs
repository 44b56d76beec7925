//! The `components.schemas` of the document: the bodies the handlers read and write.

use serde_json::{json, Value};

use super::parts::*;

pub(super) fn schemas() -> Value {
    let room = json!({
        "type": "object",
        "required": ["key", "room_id", "room_name", "dwelling_id", "dwelling_reference", "device_id"],
        "properties": {
            "key": {"type": "string", "description": "room:<id>, or device:<id> for a device placed in no room"},
            "room_id": nullable("integer"), "room_name": nullable("string"),
            "dwelling_id": nullable("integer"), "dwelling_reference": nullable("string"),
            "device_id": nullable("string"),
        }
    });
    let alert = json!({
        "type": "object",
        "required": ["id", "room", "hazard", "hhsrs_hazard", "state", "severity", "since", "raised_at", "updated_at",
                     "cleared_at", "revision", "rule_ids", "ruleset_version", "summary", "triage", "case_id"],
        "properties": {
            "id": {"type": "integer"},
            "room": schema_ref("Room"),
            "hazard": {"type": "string", "description": "Indicator hazard: damp_and_mould_growth, excess_cold, excess_heat, poor_ventilation, device_offline, ..."},
            "hhsrs_hazard": {"type": ["string", "null"], "description": "The HHSRS (2006) hazard it indicates, if any."},
            "state": string_enum(&["open", "cleared"]),
            "severity": string_enum(&["amber", "red"]),
            "since": date_time(), "raised_at": date_time(), "updated_at": date_time(), "cleared_at": nullable_date_time(),
            "revision": {"type": "integer"},
            "rule_ids": {"type": "array", "items": {"type": "string"}},
            "ruleset_version": {"type": "string"},
            "summary": {"type": "string"},
            "triage": string_enum(&["not_applicable", "awaiting_triage", "case_opened"]),
            "triage_review": {"type": "object", "required": ["due", "status"],
                "description": "Only while awaiting triage: when a person should decide (the triage review period after raised_at).",
                "properties": {"due": date_time(), "status": string_enum(&["on_track", "due_soon", "overdue"])}},
            "case_id": nullable("integer"),
            "explanation": {"type": "object", "description": "Only on GET /v1/alerts/{id}: the findings (rule, version, source, values, window)."}
        }
    });
    let case_summary = json!({
        "type": "object",
        "required": ["id", "room", "hazard", "state", "track", "opened_at", "awareness", "awareness_policy",
                     "case_policy", "alert_id", "event_count", "updated_at", "jurisdiction", "tenure"],
        "properties": {
            "id": {"type": "integer"},
            "room": schema_ref("Room"),
            "hazard": {"type": "string", "description": "HHSRS hazard as first recorded (triage may correct it: see view.hazard)."},
            "state": string_enum(CASE_STATES),
            "track": {"type": ["string", "null"], "enum": ["emergency", "significant", null]},
            "opened_at": date_time(),
            "awareness": {"type": ["string", "null"], "format": "date-time", "description": "When the statutory clock started."},
            "awareness_policy": string_enum(&["at_detection", "at_triage"]),
            "case_policy": {"type": "string"},
            "alert_id": nullable("integer"),
            "event_count": {"type": "integer"},
            "updated_at": date_time(),
            "jurisdiction": {"type": "string", "enum": ["england", "scotland", "wales"], "description": "The home's jurisdiction when the case was opened: which law's steps the case runs under."},
            "tenure": string_enum(&["social", "private_rented"]),
        }
    });
    let deadline = json!({
        "type": "object",
        "required": ["track", "step", "provisional", "due", "ends_at", "basis", "amount", "counted_from_event",
                     "counted_from", "calendar_version", "rules_version", "source", "status", "detail"],
        "properties": {
            "track": string_enum(&["emergency", "significant", "triage"]),
            "step": {"type": "string", "description": "emergency_investigate, emergency_make_safe, investigate, written_summary, safety_work, preventative_start, preventative_backstop, or triage_review."},
            "provisional": {"type": "boolean", "description": "Before triage: what is due if the issue is triaged onto this track."},
            "due": {"type": "string", "description": "Last permitted Europe/London date (YYYY-MM-DD) or an RFC 3339 instant."},
            "ends_at": date_time(),
            "basis": {"type": "string", "description": "elapsed_hours, working_days, weeks or product_policy."},
            "amount": {"type": "integer"},
            "counted_from_event": {"type": "string"},
            "counted_from": date_time(),
            "calendar_version": {"type": "string"},
            "rules_version": {"type": "string"},
            "source": {"type": "string"},
            "status": string_enum(&["on_track", "due_soon", "overdue", "met", "not_required", "stopped", "awaiting_trigger"]),
            "detail": {"type": "object"},
            "recorded_late": schema_ref("RecordedLate"),
        }
    });
    let recorded_late = json!({
        "type": "object",
        "description": "Present on a met step whose event was recorded more than the tolerance (24 hours by default) after the instant it gives: the step is met as of that instant, on the landlord's word given later.",
        "required": ["event", "occurred_at", "recorded_at", "reason"],
        "properties": {
            "event": string_enum(EVENT_TYPES),
            "occurred_at": date_time(),
            "recorded_at": date_time(),
            "reason": {"type": "string"},
        }
    });
    let case_view = json!({
        "type": "object",
        "description": "The case replayed as of now (dampwatch-clock CaseView).",
        "required": ["state", "hazard", "taxonomy", "track", "awareness", "scope", "triage", "steps",
                     "alternative_accommodation", "evaluated_at", "calendar_version", "rules_version"],
        "properties": {
            "state": string_enum(CASE_STATES),
            "hazard": {"type": "string"},
            "taxonomy": {"type": "string"},
            "track": {"type": ["string", "null"]},
            "awareness": nullable_date_time(),
            "scope": {"type": ["object", "null"]},
            "triage": {"type": "object", "required": ["due", "status"],
                       "properties": {"due": date_time(), "status": {"type": "object"}}},
            "steps": {"type": "array", "items": {
                "type": "object", "required": ["step", "deadline", "status"],
                "properties": {
                    "step": {"type": "string"},
                    "deadline": {"type": ["object", "null"]},
                    "status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
                    "recorded_late": schema_ref("RecordedLate"),
                }
            }},
            "alternative_accommodation": {"type": "object"},
            "evaluated_at": date_time(),
            "calendar_version": {"type": "string"},
            "rules_version": {"type": "string"},
        }
    });
    let event_record = json!({
        "type": "object",
        "required": ["seq", "kind", "affects_clock", "event", "occurred_at", "recorded_at", "actor", "evidence", "hash"],
        "properties": {
            "seq": {"type": "integer"},
            "kind": {"type": "string"},
            "affects_clock": {"type": "boolean"},
            "event": {"type": "object"},
            "occurred_at": date_time(),
            "recorded_at": date_time(),
            "actor": {"type": "string", "description": "Who: `user:<actor> via api-key:<id>` for events recorded through this API, `system:hazard-engine` for detection."},
            "evidence": {"type": "object"},
            "hash": {"type": "string", "description": "SHA-256 (hex) of this event chained to the previous event's hash, computed by the database: keep it to show later that the log was not rewritten."},
        }
    });
    let case_detail = json!({
        "allOf": [schema_ref("CaseSummary"), {
            "type": "object",
            "required": ["allowed_events", "view", "deadlines", "events"],
            "properties": {
                "allowed_events": {"type": "array", "items": string_enum(EVENT_TYPES)},
                "view": schema_ref("CaseView"),
                "deadlines": {"type": "array", "items": schema_ref("Deadline")},
                "events": {"type": "array", "items": schema_ref("CaseEventRecord")},
            }
        }]
    });
    let variant = |name: &str, props: Value, required: &[&str]| {
        let mut properties = json!({"type": {"const": name}});
        if let (Some(p), Value::Object(extra)) = (properties.as_object_mut(), props) {
            p.extend(extra);
        }
        let mut req = vec!["type"];
        req.extend_from_slice(required);
        json!({"type": "object", "required": req, "properties": properties})
    };
    let hazard = hhsrs_hazard("The hazard, when triage names a different one from the potential issue.");
    let case_event = json!({
        "description": "What happened, tagged by `type`.",
        "oneOf": [
            variant("triage_decided", json!({"category": string_enum(&["emergency", "significant", "no_hazard"]), "hazard": hazard}), &["category"]),
            variant("investigation_concluded", json!({"outcome": string_enum(&["hazard_found", "no_hazard"])}), &["outcome"]),
            variant("written_summary_sent", json!({}), &[]),
            variant("safety_work_done", json!({}), &[]),
            variant("preventative_work_started", json!({}), &[]),
            variant("preventative_work_completed", json!({}), &[]),
            variant("preventative_not_reasonably_practicable", json!({"reason": {"type": "string"}}), &["reason"]),
            variant("stop", json!({"reason": string_enum(&["household_moved_out", "third_party_consent_withheld", "no_hazard_found"])}), &["reason"]),
            variant("access_attempt", json!({"outcome": string_enum(&["no_access", "refused", "granted"])}), &["outcome"]),
            variant("alternative_accommodation_offered", json!({}), &[]),
            variant("alternative_accommodation_provided", json!({}), &[]),
            variant("closed", json!({}), &[]),
        ]
    });
    let recorded = json!({
        "type": "object",
        "required": ["actor"],
        "properties": {
            "actor": {
                "type": "string", "minLength": 1, "maxLength": 200,
                "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
                "description": "The person who did or decided it (not blank, no control characters)."
            },
            "evidence": {"type": "object", "description": "Any JSON object: documents, photos, notes, references."},
            "at": {"type": "string", "format": "date-time", "description": "When it happened (default: now). Not in the future."},
        }
    });
    let event_request = json!({
        "allOf": [schema_ref("CaseEvent"), schema_ref("Recorded"), {
            "type": "object",
            "properties": {
                "expected_event_count": {"type": "integer", "description": "Refuse (409) unless the case has exactly this many events."},
                "late_reason": {"type": "string", "minLength": 1, "maxLength": 2000, "description": "Required (422 otherwise) when `at` is more than the tolerance (24 hours by default) before now; stored with the evidence as `late_record`, and the step the event meets shows it as recorded late."},
            }
        }]
    });
    let triage_request = json!({
        "allOf": [schema_ref("Recorded"), {
            "type": "object",
            "required": ["category"],
            "properties": {
                "category": string_enum(&["emergency", "significant", "no_hazard"]),
                "hazard": hhsrs_hazard("The HHSRS hazard, when the person names a different one from the alert's."),
            }
        }]
    });
    let problem = json!({
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "urn:dampwatch:problem:<kind>"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
        },
        "additionalProperties": true
    });
    let invalid_transition = json!({
        "allOf": [schema_ref("Problem"), {
            "type": "object",
            "properties": {
                "case_id": {"type": "integer"},
                "state": string_enum(CASE_STATES),
                "event": string_enum(EVENT_TYPES),
                "reason": string_enum(&["not_allowed", "already_recorded", "outstanding_work", "too_early"]),
                "allowed": {"type": "array", "items": string_enum(EVENT_TYPES)},
                "missing": {"type": "array", "items": string_enum(EVENT_TYPES)},
            }
        }]
    });
    let counts = json!({
        "type": "object",
        "required": ["open_cases", "alerts_awaiting_triage", "overdue", "due_soon", "on_track", "cases_overdue",
                     "cases_due_soon", "provisional_overdue", "provisional_due_soon", "recorded_late"],
        "properties": {
            "open_cases": {"type": "integer"},
            "alerts_awaiting_triage": {"type": "integer", "description": "Sensor alerts waiting for triage without a case (policy open_on_triage)."},
            "overdue": {"type": "integer", "description": "Non-provisional steps (and triage reviews) overdue."},
            "due_soon": {"type": "integer"},
            "on_track": {"type": "integer"},
            "cases_overdue": {"type": "integer"},
            "cases_due_soon": {"type": "integer"},
            "provisional_overdue": {"type": "integer", "description": "Clocks of untriaged cases overdue (one of two tracks will apply)."},
            "provisional_due_soon": {"type": "integer"},
            "recorded_late": {"type": "integer", "description": "Steps met by an event recorded late (see RecordedLate)."},
        }
    });
    let sla_case = json!({
        "allOf": [schema_ref("CaseSummary"), {
            "type": "object",
            "required": ["worst_status", "next_due", "steps"],
            "properties": {
                "worst_status": string_enum(&["overdue", "due_soon", "on_track", "none"]),
                "next_due": nullable_date_time(),
                "steps": {"type": "array", "items": schema_ref("Deadline")},
            }
        }]
    });
    let sla = json!({
        "type": "object",
        "required": ["landlord_id", "as_of", "counts", "cases", "alerts_awaiting_triage"],
        "properties": {
            "landlord_id": {"type": "string"},
            "as_of": date_time(),
            "counts": schema_ref("SlaCounts"),
            "cases": {"type": "array", "items": schema_ref("SlaCase")},
            "alerts_awaiting_triage": {"type": "array", "items": schema_ref("Alert"), "description": "Earliest triage review first."},
        }
    });
    let device = json!({
        "type": "object",
        "required": ["id", "room_id", "room_name", "dwelling_id", "dwelling_reference", "dwelling_address", "status",
                     "key_id", "signing_public_key", "cert_serial", "provisioned_at", "revoked_at"],
        "properties": {
            "id": {"type": "string"},
            "room_id": nullable("integer"), "room_name": nullable("string"),
            "dwelling_id": nullable("integer"), "dwelling_reference": nullable("string"),
            "dwelling_address": nullable("string"),
            "status": string_enum(&["active", "revoked"]),
            "key_id": {"type": "integer"},
            "signing_public_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "cert_serial": nullable("string"),
            "provisioned_at": date_time(),
            "revoked_at": nullable_date_time(),
        }
    });
    let attempt = json!({
        "type": "object",
        "required": ["attempt", "started_at", "duration_ms", "status_code", "error", "outcome"],
        "properties": {
            "attempt": {"type": "integer"},
            "started_at": date_time(),
            "duration_ms": {"type": "integer"},
            "status_code": nullable("integer"),
            "error": nullable("string"),
            "outcome": string_enum(&["delivered", "failed", "dead"]),
        }
    });
    let message = json!({
        "type": "object",
        "required": ["id", "endpoint_id", "endpoint_url", "event_type", "alert_id", "case_id", "state", "attempt_count",
                     "created_at", "next_attempt_at", "delivered_at", "dead_at", "last_error", "attempts"],
        "properties": {
            "id": {"type": "integer", "description": "Also the idempotency key receivers deduplicate on."},
            "endpoint_id": {"type": "integer"},
            "endpoint_url": {"type": "string"},
            "event_type": {"type": "string"},
            "alert_id": nullable("integer"),
            "case_id": nullable("integer"),
            "state": string_enum(&["pending", "delivered", "dead"]),
            "attempt_count": {"type": "integer"},
            "created_at": date_time(),
            "next_attempt_at": nullable_date_time(),
            "delivered_at": nullable_date_time(),
            "dead_at": nullable_date_time(),
            "last_error": nullable("string"),
            "attempts": {"type": "array", "items": schema_ref("DeliveryAttempt")},
        }
    });
    json!({
        "Problem": problem,
        "InvalidTransition": invalid_transition,
        "Room": room,
        "Alert": alert,
        "AlertPage": page_of("Alert"),
        "CaseSummary": case_summary,
        "CasePage": page_of("CaseSummary"),
        "CaseView": case_view,
        "Deadline": deadline,
        "RecordedLate": recorded_late,
        "CaseEventRecord": event_record,
        "CaseDetail": case_detail,
        "CaseEvent": case_event,
        "Recorded": recorded,
        "EventRequest": event_request,
        "TriageRequest": triage_request,
        "TriageResult": {
            "type": "object",
            "required": ["alert_id", "case_id", "case"],
            "properties": {"alert_id": {"type": "integer"}, "case_id": {"type": "integer"}, "case": schema_ref("CaseDetail")}
        },
        "SlaCounts": counts,
        "SlaCase": sla_case,
        "SlaReport": sla,
        "Device": device,
        "DevicePage": page_of("Device"),
        "DeliveryAttempt": attempt,
        "WebhookMessage": message,
        "WebhookMessagePage": page_of("WebhookMessage"),
    })
}
