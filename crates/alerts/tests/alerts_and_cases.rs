//! Alerts are updated, not duplicated; flagged readings stay out of the rules; case events
//! are append-only and checked against the case; webhooks dead-letter after the last attempt.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_alerts::cases::{append_event, SYSTEM_ACTOR};
use dampwatch_alerts::{endpoints, AlertsError, Deliverer, HazardProcessor};
use dampwatch_clock::case::TriageCategory;
use dampwatch_clock::CaseEvent;
use serde_json::{json, Value};
use support::receiver::Receiver;
use support::{fast_config, series, Db, Sample};

fn hours(h: i64) -> chrono::Duration {
    chrono::Duration::hours(h)
}

fn at_temperature(c: f32) -> impl Fn(DateTime<Utc>) -> Sample {
    move |t| Sample::air(t, c, 50.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_updated_in_place_and_a_raise_after_the_quiet_period_is_a_new_alert() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "home", "lounge").await;
    db.device("dev", "l", Some(room)).await;
    db.endpoint("l", "http://127.0.0.1:9/unused", "secret-secret-secret").await;
    // No quiet period: any recurrence is a new alert (tests/alert_stories.rs has the default).
    let mut config = fast_config();
    config.stories.quiet_period = Duration::ZERO;
    let processor = HazardProcessor::new(&config, None).expect("processor");
    let step = Duration::from_secs(600);
    let t0 = Utc::now() - hours(30);
    // 8 h at 14 °C (amber), 4 h at 8 °C (red), 3 h at 20 °C (clears), 8 h at 14 °C (again).
    let phases = [(0, 8, 14.0), (8, 12, 8.0), (12, 15, 20.0), (15, 23, 14.0)];
    let mut kinds = Vec::new();
    for (from, to, c) in phases {
        db.store("dev", &series(t0 + hours(from), t0 + hours(to), step, at_temperature(c))).await;
        db.drain(&processor, Utc::now()).await;
        let open = db
            .count("SELECT count(*) FROM alerts WHERE hazard = 'excess_cold' AND status = 'open'", &[])
            .await;
        assert!(open <= 1, "never two open alerts for one room and hazard");
        kinds.push(open);
    }
    assert_eq!(kinds, [1, 1, 0, 1]);
    let rows = db
        .client
        .query("SELECT id, status, severity, revision, case_id FROM alerts WHERE hazard = 'excess_cold' ORDER BY id", &[])
        .await
        .expect("alerts");
    assert_eq!(rows.len(), 2, "the first alert was updated in place, then cleared; the second is new");
    let first: (i64, String, String, i32) = (rows[0].get(0), rows[0].get(1), rows[0].get(2), rows[0].get(3));
    assert_eq!((first.1.as_str(), first.2.as_str()), ("cleared", "red"));
    assert!(first.3 >= 3, "raised, updated to red, cleared: revision {}", first.3);
    assert_eq!(rows[1].get::<_, String>(1), "open");
    // The second alert joins the case still awaiting triage instead of opening another.
    assert_eq!(rows[0].get::<_, Option<i64>>(4), rows[1].get::<_, Option<i64>>(4));
    assert_eq!(db.count("SELECT count(*) FROM cases", &[]).await, 1);
    let events: Vec<String> = db
        .client
        .query("SELECT kind FROM case_events ORDER BY seq", &[])
        .await
        .expect("events")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events[0], "potential_issue_detected");
    assert!(events.contains(&"alert_updated".to_owned()) && events.contains(&"alert_cleared".to_owned()));
    assert_eq!(events.last().map(String::as_str), Some("alert_raised"));
    let types: Vec<String> = db
        .client
        .query("SELECT event_type FROM webhook_outbox ORDER BY id", &[])
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("alert.raised"));
    assert!(types.contains(&"alert.updated".to_owned()) && types.contains(&"alert.cleared".to_owned()));

    // The schema itself refuses a second open alert for the room and hazard.
    let dup = db
        .client
        .execute(
            "INSERT INTO alerts (landlord_id, room_key, room_id, hazard, status, severity, since, raised_at,
                 updated_at, rule_ids, ruleset_version, summary, explanation, triage)
             SELECT landlord_id, room_key, room_id, hazard, 'open', severity, since, raised_at, updated_at,
                 rule_ids, ruleset_version, summary, explanation, triage FROM alerts WHERE status = 'open'",
            &[],
        )
        .await;
    assert!(dup.is_err(), "partial unique index on open alerts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_corrected_and_out_of_range_readings_stay_out_of_the_rules() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    db.device("dev", "l", None).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let end = Utc::now();
    let flagged = |status: i32| move |t| Sample { status, ..Sample::air(t, 5.0, 50.0) };
    db.store("dev", &series(end - hours(10), end - hours(5), Duration::from_secs(600), flagged(1 << 16)))
        .await;
    db.store("dev", &series(end - hours(5), end, Duration::from_secs(600), flagged(1 << 17))).await;
    let outcome = db.drain(&processor, end).await;
    assert_eq!(outcome.readings, 0);
    assert_eq!(outcome.skipped, 60);
    assert_eq!(db.count("SELECT count(*) FROM alerts", &[]).await, 0, "flagged 5 °C readings raise nothing");
}

/// The stored hashes of a case's events, in order, as (prev_hash, hash).
async fn chain(db: &Db, case_id: i64) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    db.client
        .query("SELECT prev_hash, hash FROM case_events WHERE case_id = $1 ORDER BY seq", &[&case_id])
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_log_is_hash_chained_and_a_rewrite_shows() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    db.device("dev", "l", None).await;
    // Nothing listens there; only the queued body matters here.
    db.endpoint("l", "http://127.0.0.1:9/hook", "secret-secret-secret").await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let end = Utc::now();
    db.store("dev", &series(end - hours(8), end, Duration::from_secs(600), at_temperature(14.0))).await;
    db.drain(&processor, end).await;
    let case_id: i64 = db.client.query_one("SELECT id FROM cases", &[]).await.expect("case").get(0);
    let tx = db.client.transaction().await.expect("begin");
    let triaged = end + chrono::Duration::minutes(30);
    let event = CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None };
    append_event(
        &tx,
        processor.clock(),
        case_id,
        Some(1),
        "user:officer-7",
        triaged,
        &event,
        &json!({}),
        triaged,
    )
    .await
    .expect("triage");
    tx.commit().await.expect("commit");

    let links = chain(&db, case_id).await;
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].0, None, "the first event chains to nothing");
    assert_eq!(links[1].0.as_ref(), Some(&links[0].1), "each event chains to the one before");
    assert!(links.iter().all(|(_, h)| h.len() == 32), "SHA-256");
    let broken = "SELECT count(*) FROM case_events_broken_links";
    assert_eq!(db.count(broken, &[]).await, 0, "an intact log");
    // The landlord is sent the head of the chain with the case.
    let head: Value = db
        .client
        .query_one(
            "SELECT payload->'case'->'log_head' FROM webhook_outbox WHERE event_type = 'case.updated'
             ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .expect("case.updated")
        .get(0);
    assert_eq!(head, json!({"seq": 2, "hash": hex::encode(&links[1].1)}));

    // A rewrite past the append-only guard (only a database owner can) breaks the chain.
    db.client
        .batch_execute(
            "ALTER TABLE case_events DISABLE TRIGGER case_events_append_only;
             UPDATE case_events SET occurred_at = occurred_at - interval '1 day' WHERE seq = 2;
             ALTER TABLE case_events ENABLE TRIGGER case_events_append_only;",
        )
        .await
        .expect("tamper");
    let seqs: Vec<i32> = db
        .client
        .query("SELECT seq FROM case_events_broken_links WHERE case_id = $1", &[&case_id])
        .await
        .expect("view")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, [2], "the rewritten event no longer matches its hash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_events_are_append_only_and_checked_against_the_case() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "home", "bedroom").await;
    db.device("dev", "l", Some(room)).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let end = Utc::now();
    db.store("dev", &series(end - hours(8), end, Duration::from_secs(600), at_temperature(14.0))).await;
    db.drain(&processor, end).await;
    let case_id: i64 = db.client.query_one("SELECT id FROM cases", &[]).await.expect("case").get(0);

    for sql in [
        "UPDATE case_events SET actor = 'someone'",
        "DELETE FROM case_events",
        "TRUNCATE case_events CASCADE",
    ] {
        let err = db.client.execute(sql, &[]).await.expect_err(sql);
        assert!(
            err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"),
            "{err:?}"
        );
    }

    // A person triages it as an emergency: the deadlines become the emergency track's (excess
    // cold is in scope for emergencies from phase 1).
    let clock = processor.clock();
    let tx = db.client.transaction().await.expect("begin");
    let triaged = end + chrono::Duration::minutes(30);
    let event = CaseEvent::TriageDecided { category: TriageCategory::Emergency, hazard: None };
    let view = append_event(
        &tx,
        clock,
        case_id,
        Some(1),
        "user:officer-7",
        triaged,
        &event,
        &json!({"note": "photos"}),
        triaged,
    )
    .await
    .expect("triage accepted");
    tx.commit().await.expect("commit");
    assert_eq!(view.state.as_str(), "investigating");
    let tracks: Vec<(String, bool)> = db
        .client
        .query(
            "SELECT DISTINCT track, provisional FROM case_deadlines WHERE case_id = $1 ORDER BY 1",
            &[&case_id],
        )
        .await
        .expect("deadlines")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(tracks, [("emergency".to_owned(), false), ("triage".to_owned(), false)]);
    let row = db
        .client
        .query_one("SELECT state, track, event_count FROM cases WHERE id = $1", &[&case_id])
        .await
        .expect("case");
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, Option<String>>(1), row.get::<_, i32>(2)),
        ("investigating".into(), Some("emergency".into()), 2)
    );

    // An event the case does not accept is refused and nothing is written.
    let tx = db.client.transaction().await.expect("begin");
    let err = append_event(
        &tx,
        clock,
        case_id,
        None,
        SYSTEM_ACTOR,
        triaged,
        &CaseEvent::Closed,
        &Value::Null,
        triaged,
    )
    .await
    .expect_err("closing an investigating case is refused");
    assert!(matches!(err, AlertsError::Transition { .. }), "{err:?}");
    drop(tx);
    // A stale writer is refused too.
    let tx = db.client.transaction().await.expect("begin");
    let err = append_event(
        &tx,
        clock,
        case_id,
        Some(1),
        "user:x",
        triaged,
        &CaseEvent::SafetyWorkDone,
        &Value::Null,
        triaged,
    )
    .await
    .expect_err("stale");
    assert!(matches!(err, AlertsError::CaseChanged { expected: 1, found: 2, .. }), "{err:?}");
    drop(tx);
    assert_eq!(db.count("SELECT count(*) FROM case_events WHERE case_id = $1", &[&case_id]).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_dead_lettered_after_the_last_attempt_and_the_log_shows_every_one() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let room = db.room("l", "home", "bedroom").await;
    db.device("dev", "l", Some(room)).await;
    let receiver = Receiver::start(usize::MAX).await;
    db.endpoint("l", &receiver.url, "secret-secret-secret").await;
    let mut config = fast_config();
    config.webhooks.max_attempts = 3;
    config.webhooks.backoff_initial = Duration::from_millis(1);
    config.webhooks.backoff_max = Duration::from_millis(1);
    let processor = HazardProcessor::new(&config, None).expect("processor");
    let end = Utc::now();
    db.store("dev", &series(end - hours(8), end, Duration::from_secs(600), at_temperature(14.0))).await;
    db.drain(&processor, end).await;

    let deliverer = Deliverer::new(&config.webhooks).expect("deliverer");
    let mut rounds = Vec::new();
    for _ in 0..20 {
        let round = deliverer.deliver_due(&db.client).await.expect("round");
        if round.claimed > 0 {
            rounds.push(round);
        }
        if round.dead > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rounds.iter().map(|r| r.retrying).sum::<usize>(), 2);
    assert_eq!(rounds.iter().map(|r| r.dead).sum::<usize>(), 1);
    let row = db
        .client
        .query_one("SELECT state, attempts, dead_at IS NOT NULL, last_error FROM webhook_outbox", &[])
        .await
        .expect("outbox");
    assert_eq!(row.get::<_, String>(0), "dead");
    assert_eq!(row.get::<_, i32>(1), 3);
    assert!(row.get::<_, bool>(2));
    assert!(row.get::<_, String>(3).contains("HTTP 500"));
    let outcomes: Vec<String> = db
        .client
        .query("SELECT outcome FROM webhook_deliveries ORDER BY attempt", &[])
        .await
        .expect("log")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(outcomes, ["failed", "failed", "dead"]);
    assert_eq!(receiver.requests().len(), 3);
    // A dead letter is not retried, until an operator puts it back in the queue.
    assert_eq!(deliverer.deliver_due(&db.client).await.expect("round").claimed, 0);
    let id: i64 = db.client.query_one("SELECT id FROM webhook_outbox", &[]).await.expect("id").get(0);
    assert_eq!(endpoints::requeue_dead(&db.client, Some(id), None).await.expect("requeue"), 1);
    assert_eq!(
        endpoints::requeue_dead(&db.client, Some(id), None).await.expect("requeue"),
        0,
        "only a dead row is requeued"
    );
    assert_eq!(deliverer.deliver_due(&db.client).await.expect("round").claimed, 1);
    assert_eq!(receiver.requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_a_failed_attempt_with_the_error_logged() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    db.device("dev", "l", None).await;
    // Bind and drop a listener: nothing listens on that port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    db.endpoint("l", &format!("http://127.0.0.1:{port}/hook"), "secret-secret-secret").await;
    let config = fast_config();
    let processor = HazardProcessor::new(&config, None).expect("processor");
    let end = Utc::now();
    db.store("dev", &series(end - hours(8), end, Duration::from_secs(600), at_temperature(14.0))).await;
    db.drain(&processor, end).await;
    let round =
        Deliverer::new(&config.webhooks).expect("deliverer").deliver_due(&db.client).await.expect("round");
    assert_eq!((round.claimed, round.retrying), (1, 1));
    let row = db
        .client
        .query_one("SELECT status_code, error, outcome FROM webhook_deliveries", &[])
        .await
        .expect("log");
    assert_eq!(row.get::<_, Option<i32>>(0), None);
    assert!(row.get::<_, String>(1).to_lowercase().contains("connect"), "{}", row.get::<_, String>(1));
    assert_eq!(row.get::<_, String>(2), "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_registered_in_another_landlords_room_is_kept_out_of_it() {
    let mut db = Db::new().await;
    db.landlord("a", "open_on_detection").await;
    db.landlord("b", "open_on_detection").await;
    let room_of_a = db.room("a", "home", "bedroom").await;
    db.device("dev-b", "b", Some(room_of_a)).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let end = Utc::now();
    db.store("dev-b", &series(end - hours(8), end, Duration::from_secs(600), at_temperature(14.0))).await;
    db.drain(&processor, end).await;
    let row =
        db.client.query_one("SELECT landlord_id, room_key, room_id FROM alerts", &[]).await.expect("alert");
    assert_eq!(row.get::<_, String>(0), "b");
    assert_eq!(row.get::<_, String>(1), "device:dev-b");
    assert_eq!(row.get::<_, Option<i64>>(2), None);
    assert_eq!(db.count("SELECT count(*) FROM room_hazard_state WHERE landlord_id = 'a'", &[]).await, 0);
}
