//! The inbox is consumed exactly once: by several workers in parallel, and across a worker
//! that dies mid-transaction.

mod support;

use std::time::Duration;

use chrono::Utc;
use dampwatch_alerts::{BatchOutcome, HazardProcessor};
use dampwatch_indicators::{RoomReading, RoomState};
use dampwatch_store::Prepared;
use support::{connect, fast_config, series, Db, Sample};
use tokio_postgres::types::Json;

const DEVICES: usize = 40;
const BATCHES: usize = 5;
const PER_BATCH: usize = 12;

async fn run_worker(url: String, processor: HazardProcessor) -> BatchOutcome {
    let mut client = connect(&url).await;
    let mut prepared = Prepared::default();
    let mut total = BatchOutcome::default();
    loop {
        // Small batches so the two workers interleave; deadlocks between them are resolved
        // by PostgreSQL aborting one transaction, which is then simply retried.
        match processor.process_inbox(&mut client, &mut prepared, 3, Utc::now()).await {
            Ok(o) if o.inbox_rows == 0 => return total,
            Ok(o) => {
                total.inbox_rows += o.inbox_rows;
                total.readings += o.readings;
                total.skipped += o.skipped;
                total.transitions += o.transitions;
                total.webhooks += o.webhooks;
            }
            Err(e) => {
                eprintln!("batch rolled back, retrying: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_in_parallel_consume_every_inbox_row_exactly_once() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    db.endpoint("l", "http://127.0.0.1:9/unused", "secret-secret-secret").await;
    let end = Utc::now();
    let start = end - chrono::Duration::minutes(10 * (BATCHES * PER_BATCH) as i64);
    let all = series(start, end, Duration::from_secs(600), |t| Sample::air(t, 14.0, 50.0));
    assert_eq!(all.len(), BATCHES * PER_BATCH);
    let mut rooms = Vec::new();
    for d in 0..DEVICES {
        let room = db.room("l", &format!("home-{d}"), "living").await;
        db.device(&format!("dev-{d}"), "l", Some(room)).await;
        rooms.push(room);
    }
    // Interleave devices the way concurrent uplinks are committed.
    for batch in all.chunks(PER_BATCH) {
        for d in 0..DEVICES {
            db.store(&format!("dev-{d}"), batch).await;
        }
    }
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let a = tokio::spawn(run_worker(db.url.clone(), processor.clone()));
    let b = tokio::spawn(run_worker(db.url.clone(), processor));
    let (a, b) = (a.await.expect("worker a"), b.await.expect("worker b"));

    assert!(a.inbox_rows > 0 && b.inbox_rows > 0, "both workers took part: {a:?} {b:?}");
    assert_eq!(a.inbox_rows + b.inbox_rows, DEVICES * BATCHES, "every inbox row consumed once");
    assert_eq!(a.readings + b.readings, DEVICES * BATCHES * PER_BATCH, "every reading folded once");
    assert_eq!(a.skipped + b.skipped, 0, "no reading arrived out of order");
    assert_eq!(db.count("SELECT count(*) FROM hazard_inbox", &[]).await, 0);
    // Ten hours at 14 °C: each room raises exactly one cold alert, with one case and one
    // queued webhook, whichever worker saw which readings.
    assert_eq!(a.transitions + b.transitions, DEVICES);
    assert_eq!(
        db.count("SELECT count(*) FROM alerts WHERE hazard = 'excess_cold'", &[]).await,
        DEVICES as i64
    );
    assert_eq!(db.count("SELECT count(DISTINCT room_id) FROM alerts", &[]).await, DEVICES as i64);
    assert_eq!(db.count("SELECT count(*) FROM cases", &[]).await, DEVICES as i64);
    assert_eq!(db.count("SELECT count(*) FROM webhook_outbox", &[]).await, DEVICES as i64);
    let newest = db
        .count(
            "SELECT count(*) FROM room_hazard_state WHERE last_reading_at = $1",
            &[&all.last().expect("readings").at],
        )
        .await;
    assert_eq!(newest, DEVICES as i64, "every room state reached the newest reading");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_mid_transaction_leaves_its_inbox_rows_to_the_next() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "home", "bedroom").await;
    db.device("dev", "l", Some(room)).await;
    let end = Utc::now();
    db.store(
        "dev",
        &series(end - chrono::Duration::hours(8), end, Duration::from_secs(600), |t| {
            Sample::air(t, 14.0, 50.0)
        }),
    )
    .await;

    // A worker takes the rows and writes part of its work, then its connection dies before
    // committing (the process crashed).
    let doomed_pid: i32 = {
        let mut doomed = connect(&db.url).await;
        let pid: i32 = doomed.query_one("SELECT pg_backend_pid()", &[]).await.expect("pid").get(0);
        let tx = doomed.transaction().await.expect("begin");
        let taken = dampwatch_alerts::inbox::take(&tx, &mut Prepared::default(), 10).await.expect("take");
        assert_eq!(taken.len(), 1);
        tx.execute("UPDATE alerts SET summary = 'never'", &[]).await.expect("partial work");
        drop(tx);
        drop(doomed);
        pid
    };
    // The server notices the closed connection and rolls back; wait until that backend is gone.
    support::eventually(Duration::from_secs(10), || async {
        let alive = db.count("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&doomed_pid]).await;
        (alive == 0).then_some(())
    })
    .await
    .expect("the crashed worker's session ends");
    assert_eq!(db.count("SELECT count(*) FROM hazard_inbox", &[]).await, 1, "the rows came back");

    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let outcome = db.drain(&processor, Utc::now()).await;
    assert_eq!(outcome.inbox_rows, 1);
    assert_eq!(outcome.transitions, 1);
    assert_eq!(db.count("SELECT count(*) FROM alerts", &[]).await, 1);
    // Running again finds nothing: nothing is processed twice.
    let again = db.drain(&processor, Utc::now()).await;
    assert_eq!(again.inbox_rows, 0);
    assert_eq!(db.count("SELECT count(*) FROM alerts", &[]).await, 1);
}

/// Another loop holds a device's middle range (it took it, then rolls back). A loop that takes
/// the ranges on either side of it must wait for that loop and then fold all three in order:
/// folding the newest before the middle one would apply the device's readings out of order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_held_by_another_loop_between_two_taken_ones_is_waited_for_and_kept_in_order() {
    let db = Db::new().await;
    let mut ids = Vec::new();
    for seq in [1i64, 2, 3] {
        let id: i64 = db
            .client
            .query_one(
                "INSERT INTO hazard_inbox (device_id, boot, min_seq, max_seq) VALUES ('dev-1', 1, $1, $1) RETURNING id",
                &[&seq],
            )
            .await
            .expect("inbox row")
            .get(0);
        ids.push(id);
    }
    // The other loop: holds the middle range.
    let mut other = connect(&db.url).await;
    let other_tx = other.transaction().await.expect("begin");
    other_tx
        .query_one("SELECT id FROM hazard_inbox WHERE id = $1 FOR UPDATE", &[&ids[1]])
        .await
        .expect("lock");
    let other_pid: i32 = other_tx.query_one("SELECT pg_backend_pid()", &[]).await.expect("pid").get(0);

    // This loop takes what is free, the first and the last, and must then wait for the middle.
    let url = db.url.clone();
    let taking = tokio::spawn(async move {
        let mut client = connect(&url).await;
        let tx = client.transaction().await.expect("begin");
        let taken = dampwatch_alerts::inbox::take(&tx, &mut Prepared::default(), 10).await.expect("take");
        tx.commit().await.expect("commit");
        taken.iter().map(|r| r.id).collect::<Vec<i64>>()
    });
    let waiting = dampwatch_testkit::eventually_true(Duration::from_secs(20), || async {
        db.client
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> $1 AND pid <> pg_backend_pid()",
                &[&other_pid],
            )
            .await
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    })
    .await;
    assert!(waiting, "the loop that took the ranges around the held one never waited for it");
    // The other loop gives its range back.
    other_tx.rollback().await.expect("rollback");
    let taken = taking.await.expect("join");
    assert_eq!(taken, ids, "all three ranges, in order");
}

/// A landlord's room with one device, the hazard processor, and two hours of the device's
/// readings every ten minutes up to now, split at the hour: where the tests of a stored room
/// state start.
struct TwoHours {
    room: i64,
    processor: HazardProcessor,
    first: Vec<Sample>,
    second: Vec<Sample>,
}

async fn two_hours(db: &Db) -> TwoHours {
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "home-1", "living").await;
    db.device("dev-1", "l", Some(room)).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    let start = Utc::now() - chrono::Duration::hours(2);
    let hour = start + chrono::Duration::hours(1);
    let every_ten_minutes =
        |from, to| series(from, to, Duration::from_secs(600), |t| Sample::air(t, 20.0, 50.0));
    TwoHours {
        room,
        processor,
        first: every_ten_minutes(start, hour),
        second: every_ten_minutes(hour, Utc::now()),
    }
}

/// A room state stored as `jsonb` before the upgrade that stores states as the text the worker
/// writes (migration 0470) is carried over: the room goes on from it rather than starting again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_state_stored_before_the_upgrade_goes_on_after_it() {
    let mut db = Db::at_version(Some(469)).await;
    let TwoHours { room, processor, first, second } = two_hours(&db).await;
    // What the earlier release wrote: the room's state after its first hour, as jsonb.
    let mut state = RoomState::new();
    for s in &first {
        let reading = RoomReading {
            time: s.at,
            temperature_c: 20.0,
            rh_pct: 50.0,
            surface_temperature_c: None,
            co2_ppm: None,
            outdoor_temperature_c: None,
        };
        processor.engine().ingest(&mut state, &reading, s.at).expect("fold");
    }
    db.client
        .execute(
            "INSERT INTO room_hazard_state (room_key, landlord_id, room_id, state, ruleset_version, evaluated_at,
                 last_reading_at)
             VALUES ($1, 'l', $2, $3, $4, now(), $5)",
            &[&format!("room:{room}"), &room, &Json(&state), &processor.ruleset_version(), &state.last_reading_at()],
        )
        .await
        .expect("an earlier release's state");

    dampwatch_store::migrate(&mut db.client).await.expect("upgrade");
    db.store("dev-1", &second).await;
    db.drain(&processor, Utc::now()).await;
    let coverage: serde_json::Value = db
        .client
        .query_one("SELECT coverage FROM room_hazard_state WHERE room_id = $1", &[&room])
        .await
        .expect("coverage")
        .get(0);
    assert_eq!(
        coverage["readings"],
        serde_json::json!(first.len() + second.len()),
        "the room went on from the state stored before the upgrade: {coverage}"
    );
}

/// A stored room state this version cannot read (left by an incompatible version) restarts
/// that room from empty: the unit of work goes on, the room is folded again from the new
/// readings, and the state written back is readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_room_state_restarts_the_room_instead_of_stopping_the_inbox() {
    let mut db = Db::new().await;
    let TwoHours { processor, first, second, .. } = two_hours(&db).await;
    db.store("dev-1", &first).await;
    db.drain(&processor, Utc::now()).await;
    // Valid JSON, but not a room state.
    let changed = db
        .client
        .execute("UPDATE room_hazard_state SET state = '{\"from\": \"another version\"}'::jsonb", &[])
        .await
        .expect("spoil the state");
    assert_eq!(changed, 1);
    db.store("dev-1", &second).await;
    let outcome = db.drain(&processor, Utc::now()).await;
    assert_eq!(outcome.inbox_rows, 1);
    assert_eq!(outcome.readings, second.len());
    let readable: bool = db
        .client
        .query_one(
            "SELECT state::jsonb <> '{\"from\": \"another version\"}'::jsonb FROM room_hazard_state",
            &[],
        )
        .await
        .expect("state")
        .get(0);
    assert!(readable, "the state written back replaced the unreadable one");
}
