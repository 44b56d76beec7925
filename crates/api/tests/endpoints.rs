//! Every endpoint's happy path and its refusals, against a real PostgreSQL.

mod common;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use common::{fixture, get, ids, post, request, send};
use dampwatch_api::{ApiConfig, ENDPOINTS};
use serde_json::{json, Value};

fn problem_of(reply: &common::Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(reply.header("content-type").starts_with("application/problem+json"), "{:?}", reply.headers);
    assert_eq!(reply.json["status"], status.as_u16(), "{}", reply.text);
    assert!(
        reply.json["type"].as_str().is_some_and(|t| t.starts_with("urn:dampwatch:problem:")),
        "{}",
        reply.text
    );
    assert!(reply.json["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", reply.text);
}

#[tokio::test]
async fn alerts_are_listed_filtered_paged_and_explained() {
    let f = fixture().await;
    let key = &f.north.key;
    let all = get(&f.app, "/v1/alerts", key).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    // Two open damp alerts, the cleared offline alert and the cleared old damp alert.
    assert_eq!(ids(&all).len(), 4, "{}", all.text);
    assert!(all.json["next_cursor"].is_null());
    let first = &all.json["items"][0];
    assert!(first.get("explanation").is_none(), "lists leave explanations out");
    assert_eq!(
        first["room"]["key"].as_str().map(|k| k.starts_with("device:") || k.starts_with("room:")),
        Some(true)
    );

    let open = get(&f.app, "/v1/alerts?status=open&hazard=damp_and_mould_growth", key).await;
    assert_eq!(ids(&open), vec![json!(f.north.alert_awaiting_triage), json!(f.north.alert_with_case)]);
    let queue = get(&f.app, "/v1/alerts?triage=awaiting_triage", key).await;
    assert_eq!(ids(&queue), vec![json!(f.north.alert_awaiting_triage)]);
    // Raised an hour ago: its triage review is due three hours from now.
    let waiting = &queue.json["items"][0];
    let raised: DateTime<Utc> = waiting["raised_at"].as_str().unwrap().parse().unwrap();
    let due: DateTime<Utc> = waiting["triage_review"]["due"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - raised, chrono::Duration::hours(4), "{waiting}");
    assert_eq!(waiting["triage_review"]["status"], "on_track");
    let with_case = get(&f.app, &format!("/v1/alerts/{}", f.north.alert_with_case), key).await;
    assert!(with_case.json.get("triage_review").is_none(), "only alerts awaiting triage have one");
    let offline = get(&f.app, "/v1/alerts?hazard=device_offline", key).await;
    assert_eq!(ids(&offline), vec![json!(f.north.alert_offline)]);
    assert_eq!(offline.json["items"][0]["status"], "cleared");

    let page1 = get(&f.app, "/v1/alerts?limit=3", key).await;
    assert_eq!(ids(&page1).len(), 3);
    let cursor = page1.json["next_cursor"].as_str().expect("a next page").to_owned();
    let page2 = get(&f.app, &format!("/v1/alerts?limit=3&cursor={cursor}"), key).await;
    assert_eq!(ids(&page2).len(), 1);
    assert!(page2.json["next_cursor"].is_null());
    let mut both = ids(&page1);
    both.extend(ids(&page2));
    assert_eq!(both, ids(&all));

    let one = get(&f.app, &format!("/v1/alerts/{}", f.north.alert_with_case), key).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.json["case_id"], f.north.case_id);
    assert_eq!(one.json["triage"], "case_opened");
    assert_eq!(one.json["room"]["room_name"], "bedroom");
    assert_eq!(one.json["room"]["dwelling_reference"], "D-1");
    assert_eq!(one.json["explanation"]["findings"][0]["rule"], "rh_70_24h");
}

#[tokio::test]
async fn bad_queries_are_400_problems() {
    let f = fixture().await;
    let key = &f.north.key;
    for uri in [
        "/v1/alerts?status=burning",
        "/v1/alerts?limit=0",
        "/v1/alerts?limit=100000",
        "/v1/alerts?cursor=abc",
        "/v1/alerts?hazard=DROP%20TABLE",
        "/v1/alerts?colour=red",
        "/v1/cases?status=sleeping",
        "/v1/devices?status=lost",
        "/v1/webhooks/deliveries?status=lost",
    ] {
        problem_of(&get(&f.app, uri, key).await, StatusCode::BAD_REQUEST);
    }
    for uri in ["/v1/alerts/abc", "/v1/alerts/0", "/v1/cases/-3", "/v1/alerts/999999"] {
        problem_of(&get(&f.app, uri, key).await, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn cases_are_listed_and_shown_with_events_deadlines_and_allowed_events() {
    let f = fixture().await;
    let key = &f.north.key;
    let list = get(&f.app, "/v1/cases", key).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(ids(&list), vec![json!(f.north.overdue_case_id), json!(f.north.case_id)]);
    let untriaged = get(&f.app, "/v1/cases?status=awaiting_triage", key).await;
    assert_eq!(ids(&untriaged), vec![json!(f.north.case_id)]);
    let significant = get(&f.app, "/v1/cases?track=significant&status=open", key).await;
    assert_eq!(ids(&significant), vec![json!(f.north.overdue_case_id)]);
    assert!(ids(&get(&f.app, "/v1/cases?status=closed", key).await).is_empty());

    let case = get(&f.app, &format!("/v1/cases/{}", f.north.case_id), key).await;
    assert_eq!(case.status, StatusCode::OK, "{}", case.text);
    assert_eq!(case.json["status"], "awaiting_triage");
    assert_eq!(case.json["alert_id"], f.north.alert_with_case);
    assert_eq!(case.json["events"][0]["kind"], "potential_issue_detected");
    assert_eq!(case.json["events"][0]["actor"], "system:hazard-engine");
    let allowed: Vec<&str> =
        case.json["allowed_events"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(allowed, vec!["triage_decided", "stop", "access_attempt"]);
    // Awareness at detection: the triage review and both tracks' running clocks, provisional.
    let deadlines = case.json["deadlines"].as_array().unwrap();
    let triage = deadlines.iter().find(|d| d["step"] == "triage_review").expect("triage review");
    assert_eq!(triage["provisional"], false);
    // Detected 2 hours ago with a 4-hour review: half the period left.
    assert_eq!(triage["status"], "on_track");
    let emergency =
        deadlines.iter().find(|d| d["step"] == "emergency_investigate").expect("provisional 24 h clock");
    assert_eq!(emergency["provisional"], true);
    assert_eq!(emergency["basis"], "elapsed_hours");

    let old = get(&f.app, &format!("/v1/cases/{}", f.north.overdue_case_id), key).await;
    let investigate = old.json["view"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "investigate")
        .expect("investigate step")
        .clone();
    assert_eq!(investigate["status"]["status"], "overdue", "{investigate}");
    let row = old.json["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["step"] == "investigate")
        .unwrap()
        .clone();
    assert_eq!(row["status"], "overdue");
    assert_eq!(row["basis"], "working_days");
    assert_eq!(row["amount"], 10);
}

#[tokio::test]
async fn events_walk_a_case_to_closure_and_invalid_ones_get_409_with_what_is_allowed() {
    let f = fixture().await;
    let key = &f.north.key;
    let uri = format!("/v1/cases/{}/events", f.north.case_id);

    // Closing an untriaged case: refused, naming what the case accepts.
    let refused = post(&f.app, &uri, key, &json!({"type": "closed", "actor": "Ann Officer"})).await;
    problem_of(&refused, StatusCode::CONFLICT);
    assert_eq!(refused.json["type"], "urn:dampwatch:problem:invalid-transition");
    assert_eq!(refused.json["reason"], "not_allowed");
    assert_eq!(refused.json["case_status"], "awaiting_triage");
    assert_eq!(refused.json["event"], "closed");
    assert_eq!(refused.json["allowed"], json!(["triage_decided", "stop", "access_attempt"]));
    assert!(refused.json["detail"]
        .as_str()
        .unwrap()
        .contains("allowed now: triage_decided, stop, access_attempt"));

    let triage_at = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    let triaged = post(
        &f.app,
        &uri,
        key,
        &json!({"type": "triage_decided", "category": "significant", "actor": "Ann Officer", "at": triage_at,
                "evidence": {"note": "photos show mould behind the wardrobe"}}),
    )
    .await;
    assert_eq!(triaged.status, StatusCode::CREATED, "{}", triaged.text);
    assert_eq!(triaged.header("location"), format!("/v1/cases/{}", f.north.case_id));
    assert_eq!(triaged.json["status"], "investigating");
    assert_eq!(triaged.json["track"], "significant");
    let last = triaged.json["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "triage_decided");
    assert_eq!(last["event"], json!({"type": "triage_decided", "category": "significant"}));
    assert!(last["actor"].as_str().unwrap().starts_with("user:Ann Officer via api-key:"), "{last}");
    assert_eq!(last["evidence"]["note"], "photos show mould behind the wardrobe");
    // Recorded through the tenant role, the event is still chained by the database.
    assert!(last["hash"].as_str().is_some_and(|h| h.len() == 64), "{last}");

    // Triage twice: already recorded.
    let again =
        post(&f.app, &uri, key, &json!({"type": "triage_decided", "category": "emergency", "actor": "Bo"}))
            .await;
    problem_of(&again, StatusCode::CONFLICT);
    assert_eq!(again.json["reason"], "already_recorded");
    assert!(again.json["allowed"].as_array().unwrap().contains(&json!("investigation_concluded")));

    // A stale screen: the case has more events than the client saw.
    let stale = post(
        &f.app,
        &uri,
        key,
        &json!({"type": "access_attempt", "outcome": "no_access", "actor": "Bo", "expected_event_count": 1}),
    )
    .await;
    problem_of(&stale, StatusCode::CONFLICT);
    assert_eq!(stale.json["type"], "urn:dampwatch:problem:case-changed");
    assert_eq!(stale.json["event_count"], 2);

    let at = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    let concluded = post(
        &f.app,
        &uri,
        key,
        &json!({"type": "investigation_concluded", "outcome": "hazard_found", "actor": "Surveyor Cy", "at": at,
                "expected_event_count": 2}),
    )
    .await;
    assert_eq!(concluded.status, StatusCode::CREATED, "{}", concluded.text);
    assert_eq!(concluded.json["status"], "work_required");
    let summary = concluded.json["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["step"] == "written_summary")
        .cloned();
    assert_eq!(summary.expect("summary clock started")["counted_from_event"], "investigation_concluded");

    // Closing with work outstanding names the missing events.
    let early_close = post(&f.app, &uri, key, &json!({"type": "closed", "actor": "Ann Officer"})).await;
    problem_of(&early_close, StatusCode::CONFLICT);
    assert_eq!(early_close.json["reason"], "outstanding_work");
    assert_eq!(
        early_close.json["missing"],
        json!(["safety_work_done", "preventative_work_started", "preventative_work_completed"])
    );

    for event in [
        json!({"type": "written_summary_sent"}),
        json!({"type": "safety_work_done"}),
        json!({"type": "preventative_work_started"}),
        json!({"type": "preventative_work_completed"}),
        json!({"type": "closed"}),
    ] {
        let mut body = event.clone();
        body["actor"] = json!("Ann Officer");
        let reply = post(&f.app, &uri, key, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{event}: {}", reply.text);
    }
    let closed = get(&f.app, &format!("/v1/cases/{}", f.north.case_id), key).await;
    assert_eq!(closed.json["status"], "closed");
    assert_eq!(closed.json["allowed_events"], json!([]));
    assert_eq!(closed.json["event_count"], 8);

    // Every change queued a case.updated webhook for the landlord's endpoint.
    let queued = get(&f.app, "/v1/webhooks/deliveries?status=pending", key).await;
    let types: Vec<&str> =
        queued.json["items"].as_array().unwrap().iter().filter_map(|m| m["event_type"].as_str()).collect();
    assert_eq!(types.len(), 7, "{}", queued.text);
    assert!(types.iter().all(|t| *t == "case.updated"));
}

#[tokio::test]
async fn malformed_event_bodies_are_400_415_or_422_with_detail() {
    let f = fixture().await;
    let key = &f.north.key;
    let uri = format!("/v1/cases/{}/events", f.north.case_id);
    let syntax = send(&f.app, {
        let mut r = request(Method::POST, &uri, Some(key), None);
        *r.body_mut() = axum::body::Body::from("{\"type\": ");
        r.headers_mut().insert("content-type", "application/json".parse().unwrap());
        r
    })
    .await;
    problem_of(&syntax, StatusCode::BAD_REQUEST);
    assert!(syntax.json["detail"].as_str().unwrap().contains("not valid JSON"));

    let form = send(&f.app, {
        let mut r = request(Method::POST, &uri, Some(key), None);
        *r.body_mut() = axum::body::Body::from("type=closed");
        r.headers_mut().insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        r
    })
    .await;
    problem_of(&form, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let unknown = post(&f.app, &uri, key, &json!({"type": "demolished", "actor": "Ann"})).await;
    problem_of(&unknown, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.json["detail"].as_str().unwrap().contains("unknown variant `demolished`"),
        "{}",
        unknown.text
    );

    let no_actor = post(&f.app, &uri, key, &json!({"type": "stop", "reason": "household_moved_out"})).await;
    problem_of(&no_actor, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_actor.json["detail"].as_str().unwrap().contains("actor"), "{}", no_actor.text);

    let blank_actor =
        post(&f.app, &uri, key, &json!({"type": "stop", "reason": "household_moved_out", "actor": " "}))
            .await;
    problem_of(&blank_actor, StatusCode::UNPROCESSABLE_ENTITY);

    let bad_reason =
        post(&f.app, &uri, key, &json!({"type": "stop", "reason": "bored", "actor": "Ann"})).await;
    problem_of(&bad_reason, StatusCode::UNPROCESSABLE_ENTITY);

    let future = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let ahead = post(
        &f.app,
        &uri,
        key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "at": future}),
    )
    .await;
    problem_of(&ahead, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(ahead.json["detail"].as_str().unwrap().contains("future"));

    let before_opening = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let early = post(
        &f.app,
        &uri,
        key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "at": before_opening}),
    )
    .await;
    problem_of(&early, StatusCode::CONFLICT);
    assert_eq!(early.json["reason"], "too_early");

    let list_evidence = post(
        &f.app,
        &uri,
        key,
        &json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "evidence": [1]}),
    )
    .await;
    problem_of(&list_evidence, StatusCode::UNPROCESSABLE_ENTITY);

    // None of these changed the case.
    let case = get(&f.app, &format!("/v1/cases/{}", f.north.case_id), key).await;
    assert_eq!(case.json["event_count"], 1);
}

#[tokio::test]
async fn triage_of_a_waiting_alert_opens_its_case_with_the_clock_started_at_the_decision() {
    let f = fixture().await;
    let key = &f.north.key;
    let uri = format!("/v1/alerts/{}/triage", f.north.alert_awaiting_triage);
    let decided_at = chrono::Utc::now() - chrono::Duration::minutes(5);
    let reply = post(
        &f.app,
        &uri,
        key,
        &json!({"category": "emergency", "actor": "Duty Officer", "at": decided_at.to_rfc3339(),
                "evidence": {"call": "tenant reports black mould on the baby's cot wall"}}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let case_id = reply.json["case_id"].as_i64().unwrap();
    assert_eq!(reply.json["alert_id"], f.north.alert_awaiting_triage);
    let case = &reply.json["case"];
    assert_eq!(case["status"], "investigating");
    assert_eq!(case["track"], "emergency");
    assert_eq!(case["awareness_policy"], "at_triage");
    assert_eq!(case["case_policy"], "open_on_triage");
    let awareness: chrono::DateTime<chrono::Utc> = serde_json::from_value(case["awareness"].clone()).unwrap();
    assert!((awareness - decided_at).num_milliseconds().abs() < 1000, "clock starts at the decision");
    assert_eq!(case["events"][0]["kind"], "potential_issue_detected");
    assert_eq!(case["events"][1]["kind"], "triage_decided");
    let investigate = case["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["step"] == "emergency_investigate")
        .unwrap()
        .clone();
    assert_eq!(investigate["provisional"], false);
    assert_eq!(investigate["counted_from_event"], "awareness");

    let alert = get(&f.app, &format!("/v1/alerts/{}", f.north.alert_awaiting_triage), key).await;
    assert_eq!(alert.json["triage"], "case_opened");
    assert_eq!(alert.json["case_id"], case_id);

    let twice = post(&f.app, &uri, key, &json!({"category": "significant", "actor": "Duty Officer"})).await;
    problem_of(&twice, StatusCode::CONFLICT);
    assert_eq!(twice.json["case_id"], case_id);

    let offline = post(
        &f.app,
        &format!("/v1/alerts/{}/triage", f.north.alert_offline),
        key,
        &json!({"category": "significant", "actor": "Duty Officer"}),
    )
    .await;
    problem_of(&offline, StatusCode::CONFLICT);
    assert_eq!(offline.json["type"], "urn:dampwatch:problem:not-triageable");

    let bad = post(&f.app, &uri, key, &json!({"category": "catastrophic", "actor": "x"})).await;
    problem_of(&bad, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_refused_triage_leaves_no_case_behind() {
    let f = fixture().await;
    let key = &f.north.key;
    let before_detection = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let reply = post(
        &f.app,
        &format!("/v1/alerts/{}/triage", f.north.alert_awaiting_triage),
        key,
        &json!({"category": "significant", "actor": "Duty Officer", "at": before_detection}),
    )
    .await;
    problem_of(&reply, StatusCode::CONFLICT);
    assert_eq!(reply.json["reason"], "too_early");
    let alert = get(&f.app, &format!("/v1/alerts/{}", f.north.alert_awaiting_triage), key).await;
    assert_eq!(alert.json["triage"], "awaiting_triage");
    assert_eq!(ids(&get(&f.app, "/v1/cases", key).await).len(), 2);
}

#[tokio::test]
async fn the_sla_view_lists_open_cases_with_every_step_and_counts_overdue_and_due_soon() {
    let f = fixture().await;
    let reply = get(&f.app, "/v1/sla", &f.north.key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let sla = &reply.json;
    assert_eq!(sla["landlord_id"], "north-homes");
    assert_eq!(sla["counts"]["open_cases"], 2);
    // The old case's investigation is overdue.
    assert!(sla["counts"]["overdue"].as_u64().unwrap() >= 1, "{sla}");
    assert_eq!(sla["counts"]["cases_overdue"], 1);
    // Most urgent first.
    assert_eq!(sla["cases"][0]["id"], f.north.overdue_case_id);
    assert_eq!(sla["cases"][0]["worst_status"], "overdue");
    let steps = sla["cases"][0]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["step"] == "investigate" && s["status"] == "overdue"));
    for step in steps {
        assert!(
            step["ends_at"].is_string() && step["due"].is_string() && step["status"].is_string(),
            "{step}"
        );
    }
    // The untriaged case: its triage review runs, its clocks are provisional.
    let fresh = &sla["cases"][1];
    assert_eq!(fresh["id"], f.north.case_id);
    assert!(fresh["steps"].as_array().unwrap().iter().any(|s| s["provisional"] == true));
    // The alert waiting for triage without a case (policy open_on_triage): its review counts.
    assert_eq!(sla["counts"]["alerts_awaiting_triage"], 1);
    let waiting = &sla["alerts_awaiting_triage"][0];
    assert_eq!(waiting["id"], f.north.alert_awaiting_triage);
    assert_eq!(waiting["triage_review"]["status"], "on_track");
    let counted = sla["counts"]["overdue"].as_u64().unwrap()
        + sla["counts"]["due_soon"].as_u64().unwrap()
        + sla["counts"]["on_track"].as_u64().unwrap()
        - 1;
    let listed = sla["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["steps"].as_array().unwrap().iter())
        .filter(|s| {
            s["provisional"] == false
                && ["overdue", "due_soon", "on_track"].contains(&s["status"].as_str().unwrap())
        })
        .count() as u64;
    assert_eq!(counted, listed);
}

#[tokio::test]
async fn devices_are_listed_read_only() {
    let f = fixture().await;
    let key = &f.north.key;
    let reply = get(&f.app, "/v1/devices", key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(ids(&reply), vec![json!("north-homes-dev-1"), json!("north-homes-dev-2")]);
    let placed = &reply.json["items"][0];
    assert_eq!(placed["room"]["room_name"], "bedroom");
    assert_eq!(placed["room"]["dwelling_address"], "1 Mill Lane");
    assert_eq!(placed["room"]["key"], format!("room:{}", f.north.room_id));
    assert_eq!(placed["signing_public_key"], "07".repeat(32));
    let roomless = &reply.json["items"][1]["room"];
    assert_eq!(roomless["room_id"], Value::Null);
    assert_eq!(roomless["key"], "device:north-homes-dev-2", "a device in no room is watched as its own");
    let paged = get(&f.app, "/v1/devices?limit=1", key).await;
    assert_eq!(paged.json["next_cursor"], "north-homes-dev-1");
    let rest = get(&f.app, "/v1/devices?limit=1&cursor=north-homes-dev-1", key).await;
    assert_eq!(ids(&rest), vec![json!("north-homes-dev-2")]);
    assert!(ids(&get(&f.app, "/v1/devices?status=revoked", key).await).is_empty());
    let write = send(&f.app, request(Method::POST, "/v1/devices", Some(key), Some(&json!({})))).await;
    problem_of(&write, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(write.header("allow"), "GET,HEAD");
}

#[tokio::test]
async fn rooms_are_listed_with_their_risk_level_and_why() {
    let f = fixture().await;
    let key = &f.north.key;
    let reply = get(&f.app, "/v1/rooms", key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let items = reply.json["items"].as_array().expect("a page");
    assert_eq!(items.len(), 1, "{}", reply.text);
    let room = &items[0];
    assert_eq!(room["room"]["key"], format!("room:{}", f.north.room_id));
    assert_eq!(room["room"]["room_name"], "bedroom");
    assert_eq!(room["risk_level"], "high");
    assert_eq!(room["model_version"], "dampwatch-room-risk/1");
    assert_eq!(room["mould_index"], 1.2);
    assert!(room["reasons"][0].as_str().is_some_and(|r| r.contains("legal clock")), "{room}");
    assert_eq!(room["open_hazards"], json!(["damp_and_mould_growth"]));
    assert_eq!(ids_of_rooms(&get(&f.app, "/v1/rooms?risk_level=high", key).await).len(), 1);
    assert!(ids_of_rooms(&get(&f.app, "/v1/rooms?risk_level=low", key).await).is_empty());
    problem_of(&get(&f.app, "/v1/rooms?risk_level=bad", key).await, StatusCode::BAD_REQUEST);
}

fn ids_of_rooms(reply: &common::Reply) -> Vec<Value> {
    reply.json["items"].as_array().expect("a page").iter().map(|r| r["room"]["key"].clone()).collect()
}

#[tokio::test]
async fn the_webhook_log_shows_attempts_and_dead_letters_but_never_secrets() {
    let f = fixture().await;
    let key = &f.north.key;
    let reply = get(&f.app, "/v1/webhooks/deliveries", key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(ids(&reply), vec![json!(f.north.dead_message_id), json!(f.north.delivered_message_id)]);
    let dead = &reply.json["items"][0];
    assert_eq!(dead["status"], "dead");
    assert_eq!(dead["last_error"], "HTTP 500");
    assert_eq!(dead["endpoint_url"], "https://north-homes.example/hooks");
    assert_eq!(dead["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(dead["attempts"][1]["outcome"], "dead");
    assert!(dead["next_attempt_at"].is_null());
    let only_dead = get(&f.app, "/v1/webhooks/deliveries?status=dead", key).await;
    assert_eq!(ids(&only_dead), vec![json!(f.north.dead_message_id)]);
    assert!(!reply.text.contains("secret-of"), "signing secrets never leave the database");
}

#[tokio::test]
async fn a_receivers_error_page_never_appears_in_the_webhook_log() {
    const ERROR_PAGE: &str = "Traceback: db password=hunter2-internal-only token sk_live_51Hsecret";
    let f = fixture().await;
    // The landlord's receiver answers 500 with an error page holding its own secrets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = axum::Router::new()
        .route("/hook", axum::routing::post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, ERROR_PAGE) }));
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let endpoint: i64 =
        f.db.query_one(
            "INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ($1, $2, 'secret-secret-secret')
             RETURNING id",
            &[&f.north.id, &url],
        )
        .await
        .unwrap()
        .get(0);
    let id: i64 =
        f.db.query_one(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload)
             VALUES ($1, $2, 'alert.raised', '{}') RETURNING id",
            &[&f.north.id, &endpoint],
        )
        .await
        .unwrap()
        .get(0);
    let mut config = dampwatch_alerts::AlertsConfig::default().webhooks;
    // The receiver is plain http on 127.0.0.1.
    config.dev_loopback_http = true;
    config.max_attempts = 1;
    let round = dampwatch_alerts::Deliverer::new(&config).unwrap().deliver_due(&f.db).await.unwrap();
    assert_eq!((round.claimed, round.dead), (1, 1), "{round:?}");

    let reply = get(&f.app, "/v1/webhooks/deliveries?status=dead", &f.north.key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let items = reply.json["items"].as_array().unwrap();
    let message = items.iter().find(|m| m["id"] == json!(id)).expect("the message is listed");
    assert_eq!(message["last_error"], "HTTP 500 from the receiver");
    assert_eq!(message["attempts"][0]["status_code"], 500);
    assert_eq!(message["attempts"][0]["error"], "HTTP 500 from the receiver");
    for leak in ["hunter2", "sk_live", "Traceback"] {
        assert!(!reply.text.contains(leak), "{}", reply.text);
    }
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let f = fixture().await;
    let reply = send(&f.app, request(Method::GET, "/openapi.json", None, None)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            documented += 1;
            let endpoint = ENDPOINTS
                .iter()
                .find(|e| e.path == path && e.verb.as_str() == method)
                .unwrap_or_else(|| panic!("{method} {path} is documented but not served"));
            assert_eq!(op["operationId"], endpoint.operation_id);
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, endpoint.authenticated(), "{method} {path}");
        }
    }
    assert_eq!(documented, ENDPOINTS.len(), "every served route is documented");
    for endpoint in ENDPOINTS {
        assert!(
            doc["paths"][endpoint.path][endpoint.verb.as_str()].is_object(),
            "{} undocumented",
            endpoint.path
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let f = fixture().await;
    let key = &f.north.key;
    let replies = vec![
        get(&f.app, "/v1/alerts", key).await,
        send(&f.app, request(Method::GET, "/v1/alerts", None, None)).await,
        get(&f.app, "/v1/nothing-here", key).await,
        send(&f.app, request(Method::DELETE, "/v1/alerts", Some(key), None)).await,
        send(&f.app, request(Method::GET, "/openapi.json", None, None)).await,
        post(&f.app, &format!("/v1/cases/{}/events", f.north.case_id), key, &json!({"type": "x"})).await,
    ];
    for reply in &replies {
        assert!(
            reply.header("content-security-policy").contains("default-src 'none'"),
            "{:?}",
            reply.headers
        );
        assert!(reply.header("strict-transport-security").starts_with("max-age=31536000"));
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert_eq!(reply.header("referrer-policy"), "no-referrer");
        assert_eq!(reply.header("x-frame-options"), "DENY");
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    problem_of(&replies[2], StatusCode::NOT_FOUND);
    problem_of(&replies[3], StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let config = ApiConfig { max_body_bytes: 2048, ..ApiConfig::default() };
    let f = common::fixture_with(config).await;
    let body = json!({"type": "access_attempt", "outcome": "refused", "actor": "Ann", "evidence": {"note": "x".repeat(4096)}});
    let reply = post(&f.app, &format!("/v1/cases/{}/events", f.north.case_id), &f.north.key, &body).await;
    problem_of(&reply, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.header("x-frame-options"), "DENY");
}

#[tokio::test]
async fn the_sla_view_read_from_stored_deadlines_is_the_replayed_view_at_every_instant() {
    // Some five hundred reads of the view: more than a key's default rate allows.
    let mut config = ApiConfig::default();
    config.rate_limits.key_per_minute = 100_000;
    config.rate_limits.key_burst = 100_000;
    let mut f = common::fixture_with(config).await;
    let start = Utc::now();
    // Every three hours for four weeks, then two months and four months on.
    let instants: Vec<DateTime<Utc>> = (0..=8 * 28)
        .map(|i| i * 3)
        .chain([24 * 60, 24 * 120])
        .map(|h| start + chrono::Duration::hours(h))
        .collect();
    let sla_at = |t: DateTime<Utc>, key: String| {
        let app = dampwatch_api::router(f.state.clone().with_wall_clock(std::sync::Arc::new(move || t)));
        async move { get(&app, "/v1/sla", &key).await.json }
    };
    // No basis recorded yet: every case is replayed from its events.
    let mut replayed = Vec::new();
    for &t in &instants {
        for key in [&f.north.key, &f.south.key] {
            replayed.push(sla_at(t, key.clone()).await);
        }
    }
    let clock = common::clock();
    let refresh = dampwatch_alerts::projection::refresh(&mut f.db, &clock, start).await.expect("refresh");
    assert!(
        matches!(&refresh, dampwatch_alerts::projection::Refresh::Recomputed { cases, previous: None, .. } if *cases >= 3),
        "{refresh:?}"
    );
    let again = dampwatch_alerts::projection::refresh(&mut f.db, &clock, start).await.expect("refresh");
    assert!(matches!(again, dampwatch_alerts::projection::Refresh::Current { .. }), "{again:?}");
    // Read from the stored rows: the same answer, statuses and all, at every instant.
    let mut shown = replayed.iter();
    let mut statuses = std::collections::BTreeSet::new();
    for &t in &instants {
        for key in [&f.north.key, &f.south.key] {
            let stored = sla_at(t, key.clone()).await;
            assert_eq!(&stored, shown.next().unwrap(), "at {t}");
            for case in stored["cases"].as_array().unwrap() {
                for step in case["steps"].as_array().unwrap() {
                    statuses.insert(step["status"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    for status in ["on_track", "due_soon", "overdue"] {
        assert!(statuses.contains(status), "the instants cover {status}: {statuses:?}");
    }
    // The stored rows are what is read: steps said to be due soon from now on show so.
    let changed = f
        .db
        .execute(
            "UPDATE case_deadlines SET due_soon_from = $1
             WHERE landlord_id = 'north-homes' AND status = 'on_track' AND ends_at > $1::timestamptz + interval '1 hour'",
            &[&start],
        )
        .await
        .unwrap();
    assert!(changed >= 1, "the fixture has a step on track");
    let moved = sla_at(start + chrono::Duration::minutes(1), f.north.key.clone()).await;
    for case in moved["cases"].as_array().unwrap() {
        assert!(case["steps"].as_array().unwrap().iter().all(|s| s["status"] != "on_track"), "{case}");
    }
}

#[tokio::test]
async fn slow_requests_are_cut_off_with_503() {
    let config = ApiConfig { request_timeout: std::time::Duration::from_millis(1), ..ApiConfig::default() };
    let f = common::fixture_with(config).await;
    let reply = get(&f.app, "/v1/sla", &f.north.key).await;
    problem_of(&reply, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
}

/// The `investigate` step of a step list (the case view's or the deadline rows').
fn investigate(steps: &Value) -> &Value {
    steps.as_array().unwrap().iter().find(|s| s["step"] == "investigate").expect("investigate step")
}

#[tokio::test]
async fn an_event_recorded_after_its_deadline_but_dated_before_it_needs_a_reason_and_shows_as_recorded_late()
{
    let f = fixture().await;
    let key = &f.north.key;
    let case_id = f.north.overdue_case_id;
    let uri = format!("/v1/cases/{case_id}/events");
    let before = get(&f.app, &format!("/v1/cases/{case_id}"), key).await;
    let deadline: DateTime<Utc> =
        investigate(&before.json["deadlines"])["ends_at"].as_str().unwrap().parse().unwrap();
    assert!(deadline < Utc::now(), "the fixture's investigation is overdue");
    // Dated a day before the deadline (after the triage), recorded weeks after it.
    let at = deadline - chrono::Duration::days(1);
    let body = json!({"type": "investigation_concluded", "outcome": "hazard_found", "actor": "Surveyor Cy",
                      "at": at.to_rfc3339()});

    let refused = post(&f.app, &uri, key, &body).await;
    problem_of(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json["type"], "urn:dampwatch:problem:late-record-needs-reason");
    assert!(refused.json["detail"].as_str().unwrap().contains("late_reason"), "{}", refused.text);
    assert_eq!(refused.json["tolerance_seconds"], 86_400);
    let unchanged = get(&f.app, &format!("/v1/cases/{case_id}"), key).await;
    assert_eq!(unchanged.json["event_count"], before.json["event_count"]);
    assert_eq!(investigate(&unchanged.json["deadlines"])["status"], "overdue");

    let mut with_reason = body.clone();
    with_reason["late_reason"] = json!("the surveyor's report was found in the van");
    let recorded = post(&f.app, &uri, key, &with_reason).await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text);
    let check = |late: &Value| {
        assert_eq!(late["event"], "investigation_concluded", "{late}");
        let occurred: DateTime<Utc> = late["occurred_at"].as_str().unwrap().parse().unwrap();
        let recorded_at: DateTime<Utc> = late["recorded_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(occurred, at);
        assert!(recorded_at > deadline, "{late}");
        assert_eq!(late["reason"], "the surveyor's report was found in the van");
    };
    // The case view: met on time as dated, and recorded late, with both instants.
    let step = investigate(&recorded.json["view"]["steps"]).clone();
    assert_eq!(step["status"]["status"], "met", "{step}");
    assert_eq!(step["status"]["on_time"], true, "{step}");
    check(&step["recorded_late"]);
    // The deadline rows keep their status and say it too.
    let row = investigate(&recorded.json["deadlines"]).clone();
    assert_eq!(row["status"], "met", "{row}");
    check(&row["recorded_late"]);
    check(&row["detail"]["status"]["recorded_late"]);
    // The stored event keeps the reason with its evidence (part of the hash chain).
    let last = recorded.json["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["evidence"]["late_record"]["reason"], "the surveyor's report was found in the van");
    // A fresh read of the case shows the same.
    let shown = get(&f.app, &format!("/v1/cases/{case_id}"), key).await;
    check(&investigate(&shown.json["view"]["steps"])["recorded_late"]);
    check(&investigate(&shown.json["deadlines"])["recorded_late"]);
    // The SLA view counts it and shows it on the step.
    let sla = get(&f.app, "/v1/sla", key).await;
    assert_eq!(sla.status, StatusCode::OK, "{}", sla.text);
    assert_eq!(sla.json["counts"]["recorded_late"], 1, "{}", sla.text);
    let listed = sla.json["cases"].as_array().unwrap().iter().find(|c| c["id"] == case_id).unwrap().clone();
    check(&investigate(&listed["steps"])["recorded_late"]);
    // The case.updated webhook carries the case's view with the mark.
    let payload: Value =
        f.db.query_one(
            "SELECT payload FROM webhook_outbox WHERE case_id = $1 AND event_type = 'case.updated'
             ORDER BY id DESC LIMIT 1",
            &[&case_id],
        )
        .await
        .unwrap()
        .get(0);
    check(&investigate(&payload["case"]["view"]["steps"])["recorded_late"]);
    check(&investigate(&payload["deadlines"])["recorded_late"]);
    // The webhook is the document's WebhookEvent, and its case is the API's own case view.
    let contract = common::contract(&f.app).await;
    contract.check_component("WebhookEvent", &payload);
    contract.check_component("CaseDetail", &payload["case"]);
    let mut webhook_keys: Vec<&String> = payload["case"].as_object().unwrap().keys().collect();
    let mut api_keys: Vec<&String> = shown.json.as_object().unwrap().keys().collect();
    webhook_keys.sort();
    api_keys.sort();
    assert_eq!(webhook_keys, api_keys, "the same members in the webhook and in GET /v1/cases/{{id}}");
}

#[tokio::test]
async fn an_event_recorded_within_the_tolerance_needs_no_reason_and_is_not_marked() {
    let f = fixture().await;
    let key = &f.north.key;
    let case_id = f.north.overdue_case_id;
    // Concluded yesterday (after the deadline), recorded today: late, but honestly dated.
    let at = Utc::now() - chrono::Duration::hours(23);
    let recorded = post(
        &f.app,
        &format!("/v1/cases/{case_id}/events"),
        key,
        &json!({"type": "investigation_concluded", "outcome": "hazard_found", "actor": "Surveyor Cy",
                "at": at.to_rfc3339()}),
    )
    .await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text);
    let step = investigate(&recorded.json["view"]["steps"]).clone();
    assert_eq!(step["status"]["status"], "met", "{step}");
    assert_eq!(step["status"]["on_time"], false, "{step}");
    assert!(step.get("recorded_late").is_none(), "{step}");
    assert!(investigate(&recorded.json["deadlines"]).get("recorded_late").is_none());
    let last = recorded.json["events"].as_array().unwrap().last().unwrap().clone();
    assert!(last["evidence"].get("late_record").is_none(), "{last}");
    let sla = get(&f.app, "/v1/sla", key).await;
    assert_eq!(sla.json["counts"]["recorded_late"], 0, "{}", sla.text);
}
