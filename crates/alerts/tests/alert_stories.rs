//! One story per room and hazard: a condition that comes back within the quiet period opens the
//! same alert again with a new episode (and joins its case), one that comes back later is a new
//! alert. Advisory alerts of a landlord with daily batches wait for the batch, gathered into
//! one delivery per endpoint in one transaction: a gathering that never commits loses nothing,
//! and no event goes out twice; alerts with a legal clock never wait.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_alerts::advisory_delivery::{self, AdvisoryDelivery};
use dampwatch_alerts::{batch, Deliverer, HazardProcessor};
use support::receiver::Receiver;
use support::{eventually, fast_config, series, Db, Sample, SignedBy};

const SECRET: &str = "stories-webhook-secret";

fn hours(h: i64) -> chrono::Duration {
    chrono::Duration::hours(h)
}

fn at_temperature(c: f32) -> impl Fn(DateTime<Utc>) -> Sample {
    move |t| Sample::air(t, c, 50.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_spell_that_comes_back_within_the_quiet_period_is_the_same_alert_with_a_new_episode() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "home", "lounge").await;
    db.device("dev", "l", Some(room)).await;
    db.endpoint("l", "http://127.0.0.1:9/unused", SECRET).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let step = Duration::from_secs(600);
    let t0 = Utc::now() - hours(24 * 12);
    // Cold, warm for two days, cold again (within 7 days: the same alert), warm for eight days,
    // cold again (after the quiet period: a new alert).
    let phases = [(0, 8, 13.0), (8, 56, 20.0), (56, 64, 13.0), (64, 256, 20.0), (256, 264, 13.0)];
    for (from, to, c) in phases {
        db.store("dev", &series(t0 + hours(from), t0 + hours(to), step, at_temperature(c))).await;
        db.drain(&processor, Utc::now()).await;
    }
    let alerts = db
        .client
        .query(
            "SELECT id, status, episodes, revision, case_id FROM alerts WHERE hazard = 'excess_cold' ORDER BY id",
            &[],
        )
        .await
        .expect("alerts");
    assert_eq!(alerts.len(), 2, "one story for the spells a week apart, a new one after the quiet period");
    let (first, second): (i64, i64) = (alerts[0].get(0), alerts[1].get(0));
    assert_eq!(alerts[0].get::<_, String>(1), "cleared");
    assert_eq!(alerts[0].get::<_, i32>(2), 2, "two episodes");
    assert_eq!(alerts[1].get::<_, i32>(2), 1);
    let episodes = db
        .client
        .query(
            "SELECT episode, since, cleared_at FROM alert_episodes WHERE alert_id = $1 ORDER BY episode",
            &[&first],
        )
        .await
        .expect("episodes");
    let spans: Vec<(i32, DateTime<Utc>, Option<DateTime<Utc>>)> =
        episodes.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans[0].1 < t0 + hours(8) && spans[0].2.is_some_and(|c| c < t0 + hours(10)), "{spans:?}");
    assert!(spans[1].1 > t0 + hours(56) && spans[1].2.is_some_and(|c| c < t0 + hours(66)), "{spans:?}");
    // The API's view of the alert carries them.
    let view =
        dampwatch_store::read_model::alert::find(&db.client, first).await.expect("find").expect("alert");
    assert_eq!(view.episode, 2);
    assert_eq!(view.episodes.as_ref().map(Vec::len), Some(2));
    assert_eq!(view.duty, dampwatch_store::read_model::AlertDuty::LegalClock);

    // The re-opened alert told its case and the landlord so; the new alert joined the case
    // still awaiting triage, as a later alert always has.
    let case: i64 = alerts[0].get(4);
    assert_eq!(alerts[1].get::<_, Option<i64>>(4), Some(case));
    let kinds: Vec<String> = db
        .client
        .query("SELECT kind FROM case_events WHERE case_id = $1 ORDER BY seq", &[&case])
        .await
        .expect("events")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(kinds.contains(&"alert_reopened".to_owned()), "{kinds:?}");
    let events: Vec<(String, Option<i64>)> = db
        .client
        .query("SELECT event_type, alert_id FROM webhook_outbox ORDER BY id", &[])
        .await
        .expect("outbox")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let about =
        |alert: i64, kind: &str| events.iter().filter(|(k, a)| k == kind && *a == Some(alert)).count();
    assert_eq!((about(first, "alert.raised"), about(first, "alert.reopened")), (1, 1), "{events:?}");
    assert_eq!(about(first, "alert.cleared"), 2, "each episode's end: {events:?}");
    assert_eq!(about(second, "alert.raised"), 1, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advisory_alerts_wait_for_the_daily_batch_which_loses_and_repeats_nothing() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    db.device("dev", "l", None).await;
    let receiver = Receiver::start(0).await;
    db.endpoint("l", &receiver.url, SECRET).await;
    let chosen = advisory_delivery::set(&db.client, "l", AdvisoryDelivery::Daily, None).await.expect("set");
    assert_eq!(chosen.delivery, AdvisoryDelivery::Daily);
    let config = fast_config();
    let processor = HazardProcessor::new(&config, None).expect("processor");
    let step = Duration::from_secs(600);
    let t0 = Utc::now() - hours(80);
    // Readings, then an unplugged sensor for 60 h (raised and cleared as "device offline",
    // advisory, when the next reading comes), then a cold spell (a legal clock).
    db.store("dev", &series(t0, t0 + hours(2), step, at_temperature(20.0))).await;
    db.store("dev", &series(t0 + hours(62), t0 + hours(72), step, at_temperature(13.0))).await;
    let now = Utc::now();
    let outcome = db.drain(&processor, now).await;
    assert!(outcome.batched >= 2, "the offline alert's raise and clear wait: {outcome:?}");
    let immediate: Vec<String> = db
        .client
        .query("SELECT DISTINCT event_type FROM webhook_outbox o JOIN alerts a ON a.id = o.alert_id WHERE a.duty = 'advisory'", &[])
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(immediate.is_empty(), "no advisory event goes at once: {immediate:?}");
    let cold = db
        .count(
            "SELECT count(*) FROM webhook_outbox o JOIN alerts a ON a.id = o.alert_id WHERE a.hazard = 'excess_cold'",
            &[],
        )
        .await;
    assert!(cold >= 1, "the cold alert goes at once");
    let waiting = db.count("SELECT count(*) FROM webhook_batch_items WHERE outbox_id IS NULL", &[]).await;
    let due: DateTime<Utc> =
        db.client.query_one("SELECT min(due_at) FROM webhook_batch_items", &[]).await.expect("due").get(0);
    assert!(due > now && due <= now + hours(24), "the next 08:00 in London: {due}");

    // Not due yet: nothing is released.
    assert_eq!(batch::release_due(&mut db.client, now).await.expect("release").batches, 0);
    // A gathering that never commits (a sender that dies mid-way) leaves every item waiting;
    // while it holds them, another sender skips them rather than sending them twice.
    let mut other = support::connect(&db.url).await;
    let stalled = other.transaction().await.expect("begin");
    stalled
        .execute("SELECT id FROM webhook_batch_items WHERE outbox_id IS NULL FOR UPDATE", &[])
        .await
        .expect("lock");
    stalled
        .execute(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload)
             SELECT landlord_id, endpoint_id, 'alert.batch', '{}' FROM webhook_batch_items LIMIT 1",
            &[],
        )
        .await
        .expect("half a batch");
    let later = due + hours(1);
    assert_eq!(
        batch::release_due(&mut db.client, later).await.expect("release").batches,
        0,
        "held elsewhere"
    );
    // It never commits: what a sender that dies mid-way leaves behind.
    stalled.rollback().await.expect("rollback");
    let released = batch::release_due(&mut db.client, later).await.expect("release");
    assert_eq!((released.batches, released.items), (1, u64::try_from(waiting).expect("count")));
    assert_eq!(batch::release_due(&mut db.client, later).await.expect("again").batches, 0);
    assert_eq!(
        db.count("SELECT count(*) FROM webhook_outbox WHERE event_type = 'alert.batch'", &[]).await,
        1
    );

    // Delivered like any webhook: signed, once, every event in it with its own id.
    let deliverer = Deliverer::new(&config.webhooks).expect("deliverer");
    let batch = eventually(Duration::from_secs(30), || async {
        deliverer.deliver_due(&db.client).await.expect("round");
        receiver.requests().into_iter().find(|r| r.header("dampwatch-event") == "alert.batch")
    })
    .await
    .expect("the batch is delivered");
    assert!(batch.signed_by(SECRET));
    let body = batch.json();
    assert_eq!(body["schema"], "dampwatch-webhook-batch/1");
    let events = body["events"].as_array().expect("events");
    assert_eq!(events.len(), usize::try_from(waiting).expect("count"));
    assert!(events
        .iter()
        .all(|e| e["alert"]["hazard"] == "device_offline" && e["alert"]["duty"] == "advisory"));
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["alert.raised", "alert.cleared"], "oldest first");
}
