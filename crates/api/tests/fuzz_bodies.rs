//! Random-input testing of the landlord API's request bodies: `POST /v1/cases/{id}/events`
//! and `POST /v1/alerts/{id}/triage`, read the API's way (`extract::parse_json`) into the very
//! request types the handlers take.
//!
//! Properties: random bytes, damaged bodies and hostile JSON (deep nesting, huge numbers, long
//! strings, duplicate and unknown keys) never panic; what is not JSON is a 400 and JSON of the
//! wrong shape a 422, never anything else; reading allocates in proportion to the body, which
//! the API caps at `max_body_bytes` before it is read; and every valid body reads back as the
//! event, category and evidence it carried.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use dampwatch_api::extract::parse_json;
use dampwatch_api::handlers::events::EventRequest;
use dampwatch_api::handlers::triage::TriageRequest;
use dampwatch_api::problem::ApiError;
use dampwatch_clock::Hazard;
use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{bytes, check, measured, mutated, AllocationInfo};
use serde_json::{json, Map, Value};

/// Heap a body of `n` bytes may take while it is read: the parsed value and serde's buffer for
/// the flattened fields, each a small multiple of the text.
fn budget(n: usize) -> u64 {
    64 * n as u64 + 64 * 1024
}

/// Reads `body` as both request types; each must be read or refused as a 400 or a 422.
fn read_both(body: &[u8]) -> Result<(Option<EventRequest>, Option<TriageRequest>), TestCaseError> {
    fn classify<T>(r: Result<T, ApiError>) -> Result<Option<T>, TestCaseError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::BadRequest(_) | ApiError::Unprocessable(_)) => Ok(None),
            Err(other) => Err(TestCaseError::fail(format!("unexpected refusal {other:?}"))),
        }
    }
    Ok((classify(parse_json::<EventRequest>(body))?, classify(parse_json::<TriageRequest>(body))?))
}

fn within_budget(heap: &AllocationInfo, n: usize) -> Result<(), TestCaseError> {
    prop_assert!(heap.bytes_max <= budget(n), "a body of {} bytes held {} bytes at once", n, heap.bytes_max);
    Ok(())
}

fn hazard_names() -> Vec<String> {
    Hazard::ALL.iter().map(|h| serde_json::to_value(h).unwrap().as_str().unwrap().to_owned()).collect()
}

/// The event part of a body: every kind of case event with valid details.
fn event() -> impl Strategy<Value = Value> {
    let hazard = prop::option::of(prop::sample::select(hazard_names()));
    let category = prop::sample::select(vec!["emergency", "significant", "no_hazard"]);
    prop_oneof![
        (category.clone(), hazard).prop_map(|(c, h)| match h {
            Some(h) => json!({"type": "triage_decided", "category": c, "hazard": h}),
            None => json!({"type": "triage_decided", "category": c}),
        }),
        prop::sample::select(vec!["hazard_found", "no_hazard"])
            .prop_map(|o| json!({"type": "investigation_concluded", "outcome": o})),
        prop::sample::select(vec![
            "written_summary_sent",
            "safety_work_done",
            "preventative_work_started",
            "preventative_work_completed",
            "alternative_accommodation_offered",
            "alternative_accommodation_provided",
            "closed",
        ])
        .prop_map(|t| json!({"type": t})),
        "\\PC{0,60}".prop_map(|r| json!({"type": "preventative_not_reasonably_practicable", "reason": r})),
        prop::sample::select(vec!["household_moved_out", "third_party_consent_withheld", "no_hazard_found"])
            .prop_map(|r| json!({"type": "stop", "reason": r})),
        prop::sample::select(vec!["no_access", "refused", "granted"])
            .prop_map(|o| json!({"type": "access_attempt", "outcome": o})),
    ]
}

/// Any JSON value, nested a little; with `floats`, numbers of any kind (the text of a float
/// need not read back to the same bits, so bodies compared after reading have none).
fn json_value(floats: bool) -> impl Strategy<Value = Value> {
    let float = if floats { any::<f64>().prop_map(|f| json!(f)).boxed() } else { Just(json!(0.5)).boxed() };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        float,
        "\\PC{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Who, when and evidence, as a person's screen sends them.
fn recorded() -> impl Strategy<Value = Map<String, Value>> {
    let at = prop::option::of(
        (0i64..4_000_000_000).prop_map(|s| chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339()),
    );
    let evidence = prop::option::of(prop::collection::btree_map("[a-z_]{1,10}", json_value(false), 0..4));
    ("\\PC{1,40}", at, evidence, prop::option::of(0..1_000i32)).prop_map(|(actor, at, evidence, count)| {
        let mut m = Map::new();
        m.insert("actor".into(), json!(actor));
        if let Some(at) = at {
            m.insert("at".into(), json!(at));
        }
        if let Some(e) = evidence {
            m.insert("evidence".into(), Value::Object(e.into_iter().collect()));
        }
        if let Some(c) = count {
            m.insert("expected_event_count".into(), json!(c));
        }
        m
    })
}

/// A valid events body (the event and who, when, evidence) as a JSON object.
fn event_body() -> impl Strategy<Value = Value> {
    (event(), recorded()).prop_map(|(e, r)| {
        let mut body = e.as_object().unwrap().clone();
        body.extend(r);
        Value::Object(body)
    })
}

#[test]
fn random_bytes_are_a_400_or_a_422() {
    check("api/bodies random bytes", bytes(300), |body| {
        let (_, heap) = measured(|| read_both(&body));
        within_budget(&heap, body.len())?;
        read_both(&body).map(drop)
    });
}

#[test]
fn hostile_json_is_refused_cleanly_within_a_budget() {
    let hostile = prop_oneof![
        // Deep nesting, in the evidence or at the top.
        (1..5_000usize, any::<bool>()).prop_map(|(depth, arrays)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            format!("{{\"type\":\"closed\",\"actor\":\"a\",\"evidence\":{{\"x\":{nested}}}}}")
        }),
        (1..5_000usize).prop_map(|depth| "[".repeat(depth)),
        // Numbers beyond every type, long strings, duplicate keys.
        "[0-9]{300,400}"
            .prop_map(|n| format!("{{\"type\":\"closed\",\"actor\":\"a\",\"expected_event_count\":{n}}}")),
        (1..20_000usize).prop_map(|n| format!("{{\"type\":\"closed\",\"actor\":\"{}\"}}", "é".repeat(n))),
        Just("{\"type\":\"closed\",\"type\":\"stop\",\"actor\":\"a\",\"actor\":\"b\"}".to_owned()),
        json_value(true).prop_map(|v| v.to_string()),
    ];
    check("api/bodies hostile json", hostile, |body| {
        let (result, heap) = measured(|| read_both(body.as_bytes()));
        within_budget(&heap, body.len())?;
        result.map(drop)
    });
}

#[test]
fn damaged_bodies_are_a_400_or_a_422() {
    let valid = prop_oneof![
        event_body().prop_map(|b| b.to_string().into_bytes()),
        (prop::sample::select(vec!["emergency", "significant", "no_hazard"]), recorded()).prop_map(
            |(c, r)| {
                let mut body = r;
                body.insert("category".into(), json!(c));
                Value::Object(body).to_string().into_bytes()
            }
        ),
    ];
    check("api/bodies damaged", mutated(valid), |body| {
        let (result, heap) = measured(|| read_both(&body));
        within_budget(&heap, body.len())?;
        result.map(drop)
    });
}

#[test]
fn valid_bodies_read_back_what_they_carry() {
    check("api/bodies round trip", (event_body(), any::<bool>()), |(body, pretty)| {
        let text = if pretty { serde_json::to_string_pretty(&body).unwrap() } else { body.to_string() };
        let request: EventRequest = match parse_json(text.as_bytes()) {
            Ok(r) => r,
            Err(e) => return Err(TestCaseError::fail(format!("{e:?} for {text}"))),
        };
        let event = serde_json::to_value(&request.event).unwrap();
        for (k, v) in event.as_object().unwrap() {
            prop_assert_eq!(Some(v), body.get(k), "{} of {}", k, text);
        }
        prop_assert_eq!(json!(request.recorded.actor), body["actor"].clone());
        prop_assert_eq!(request.recorded.evidence.as_ref(), body.get("evidence"));
        prop_assert_eq!(
            request.expected_event_count.map(|c| json!(c)),
            body.get("expected_event_count").cloned()
        );
        if let Some(at) = body.get("at") {
            let expected: chrono::DateTime<chrono::Utc> = at.as_str().unwrap().parse().unwrap();
            prop_assert_eq!(request.recorded.at, Some(expected));
        }
        // The same who, when and evidence with a triage category is a triage body.
        if let Some(category) = body.get("category").filter(|_| body["type"] == "triage_decided") {
            let mut triage = body.as_object().unwrap().clone();
            triage.remove("type");
            triage.remove("expected_event_count");
            let t: TriageRequest = match parse_json(Value::Object(triage).to_string().as_bytes()) {
                Ok(t) => t,
                Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
            };
            prop_assert_eq!(serde_json::to_value(t.category).unwrap(), category.clone());
        }
        Ok(())
    });
}
