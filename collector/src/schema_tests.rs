//! The schema on plain PostgreSQL (a private cluster per test): migrations, the idempotent store with its hourly rollups,
//! and the retention job.

use crate::checks::check_uplink;
use crate::config::Config;
use crate::db::Layout;
use crate::retention;
use crate::store::{store_batch, Accepted};
use chrono::{DateTime, Duration as Age, TimeZone, Utc};
use dampwatch_pg::PrivatePostgres;
use dampwatch_proto::v1::{Reading, SignedUplink, Uplink};
use dampwatch_store::{migrate, migrate_to, MigrateError, MIGRATIONS};
use prost::Message;
use tokio_util::sync::CancellationToken;

async fn database() -> anyhow::Result<(PrivatePostgres, tokio_postgres::Client)> {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
    let client = dampwatch_store::connect(&pg.url()).await?;
    Ok((pg, client))
}

const SEED: [u8; 32] = [7; 32];

fn signed_uplink(device: &str, seqs: std::ops::RangeInclusive<u32>, start: DateTime<Utc>) -> Vec<u8> {
    let readings = seqs
        .map(|seq| Reading {
            seq,
            // One reading every 10 minutes, so a batch spans several hours.
            time_ms: (start.timestamp_millis() + i64::from(seq) * 600_000) as u64,
            temperature_centi_c: 1500 + (seq as i32 * 37) % 900,
            rh_centi_pct: 5000 + (seq * 53) % 4000,
            surface_temperature_centi_c: None,
            co2_ppm: None,
            battery_mv: 3000,
            status: 0,
        })
        .collect::<Vec<_>>();
    let up = Uplink {
        device_id: device.into(),
        boot: 1,
        floor_seq: readings.first().map_or(1, |r| r.seq),
        readings,
        dropped: None,
    };
    let payload = up.encode_to_vec();
    let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&SEED).expect("seed");
    let mut msg = vec![0u8; dampwatch_wire::signing::signing_message_len(device, payload.len())];
    dampwatch_wire::signing::signing_message(device, &payload, &mut msg).expect("message");
    let signature = kp.sign(&msg).as_ref().to_vec();
    SignedUplink { payload, signature, key_id: 1 }.encode_to_vec()
}

fn accept(device: &str, raw: Vec<u8>, public_key: &[u8]) -> Accepted {
    let entry = dampwatch_store::DeviceEntry {
        landlord: "acme".into(),
        key_id: 1,
        public_key: public_key.to_vec(),
        active: true,
        provisioned_at: Utc.timestamp_opt(0, 0).unwrap(),
    };
    let topic = format!("dw/v1/acme/{device}/up");
    let now = Utc::now();
    let uplink = check_uplink(&topic, &raw, now, Age::hours(1), |_| Some(&entry)).expect("valid uplink");
    Accepted { received_at: now, topic, raw, uplink }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_in_order_and_refuse_a_newer_schema() -> anyhow::Result<()> {
    let (_pg, mut db) = database().await?;
    // Version 1 alone first, with a reading in it, to check that version 2 rolls it up.
    assert_eq!(migrate_to(&mut db, 1).await?, 1);
    db.batch_execute(
        "INSERT INTO readings VALUES ('old-1', 1, 1, '2024-01-01 10:20:00+00', '2024-01-01 10:20:00+00', false,
             '2024-01-01 10:21:00+00', 20.5, 55, NULL, NULL, 3000, 0, '\\x00'),
                                    ('old-2', 1, 1, '2024-01-01 10:20:00+00', '2024-01-01 10:20:00+00', false,
             '2024-01-01 10:21:00+00', 21.37, 99.99, -3.01, NULL, 3000, 0, '\\x00');",
    )
    .await?;
    assert_eq!(migrate(&mut db).await?, MIGRATIONS.len() - 1);
    assert_eq!(migrate(&mut db).await?, 0, "nothing runs twice");
    let row = db
        .query_one(
            "SELECT readings, temperature_avg, hour FROM readings_hourly WHERE device_id = 'old-1'",
            &[],
        )
        .await?;
    assert_eq!(row.get::<_, i64>(0), 1, "readings stored before the rollups existed are rolled up");
    assert!((row.get::<_, f64>(1) - 20.5).abs() < 1e-9);
    assert_eq!(row.get::<_, DateTime<Utc>>(2), Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap());
    // Values stored as REAL by an older release come back as the device's hundredths, exactly
    // (21.37 as a REAL is 21.3700008…).
    let old = db
        .query_one(
            "SELECT temperature_centi_c, rh_centi_pct, surface_temperature_centi_c FROM readings
             WHERE device_id = 'old-2'",
            &[],
        )
        .await?;
    assert_eq!(
        (old.get::<_, Option<i32>>(0), old.get::<_, Option<i32>>(1), old.get::<_, Option<i32>>(2)),
        (Some(2137), Some(9999), Some(-301))
    );
    // Without TimescaleDB: the plain layout.
    assert_eq!(crate::store::prepare_session(&db).await?, Layout::Plain);
    // A schema from a newer release is refused, not written to.
    db.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_a_newer_release')", &[])
        .await?;
    match migrate(&mut db).await {
        Err(MigrateError::TooNew { found: 9999, .. }) => {}
        other => panic!("expected TooNew, got {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_readings_are_stored_and_rolled_up_once() -> anyhow::Result<()> {
    let (pg, _) = database().await?;
    dampwatch_store::prepare_database(&pg.url()).await?;
    let mut session = crate::db::open(&pg.url()).await?;
    let public_key = {
        use ring::signature::KeyPair;
        let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&SEED).expect("seed");
        key.public_key().as_ref().to_vec()
    };
    let start = Utc.with_ymd_and_hms(2025, 3, 1, 9, 55, 0).unwrap();
    let a = accept("roll-1", signed_uplink("roll-1", 1..=20, start), &public_key);
    let b = accept("roll-1", signed_uplink("roll-1", 15..=30, start), &public_key);
    let c = accept("roll-2", signed_uplink("roll-2", 1..=5, start), &public_key);

    let limits = Config::default().intake.device_limits();
    let first = store_batch(&mut session, limits, &[&a, &c], &[]).await?;
    assert_eq!((first.readings_stored, first.readings_duplicate), (25, 0));
    // The same uplink again (a redelivery) and an overlapping one (a resend after a timeout).
    let again = store_batch(&mut session, limits, &[&a, &b], &[]).await?;
    assert_eq!((again.readings_stored, again.readings_duplicate), (10, 26));
    let positions: Vec<(String, i64)> =
        again.positions.iter().map(|p| (p.device.clone(), p.committed_seq)).collect();
    assert_eq!(positions, vec![("roll-1".to_string(), 30)]);

    let db = &session.client;
    let total: i64 = db.query_one("SELECT count(*) FROM readings", &[]).await?.get(0);
    assert_eq!(total, 35);
    let mismatches: i64 = db
        .query_one(
            "WITH truth AS (
                 SELECT device_id, date_trunc('hour', sampled_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
                        count(*) AS readings, min(temperature_centi_c) / 100.0::float8 AS tmin,
                        max(temperature_centi_c) / 100.0::float8 AS tmax,
                        avg(temperature_centi_c) / 100.0::float8 AS tavg,
                        min(rh_centi_pct) / 100.0::float8 AS rmin, max(rh_centi_pct) / 100.0::float8 AS rmax,
                        avg(rh_centi_pct) / 100.0::float8 AS ravg
                 FROM readings GROUP BY 1, 2)
             SELECT count(*) FROM truth t FULL JOIN readings_hourly h USING (device_id, hour)
             WHERE t.readings IS DISTINCT FROM h.readings OR t.tmin IS DISTINCT FROM h.temperature_min
                OR t.tmax IS DISTINCT FROM h.temperature_max OR abs(t.tavg - h.temperature_avg) > 1e-6
                OR t.rmin IS DISTINCT FROM h.rh_min OR t.rmax IS DISTINCT FROM h.rh_max
                OR abs(t.ravg - h.rh_avg) > 1e-6 OR h.temperature_avg IS NULL",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(mismatches, 0, "the hourly rollups agree with the readings");
    let hours: i64 = db.query_one("SELECT count(*) FROM readings_hourly", &[]).await?.get(0);
    assert!(hours > 3, "30 readings ten minutes apart span several hours");
    let inbox: i64 = db.query_one("SELECT count(*) FROM hazard_inbox", &[]).await?.get(0);
    assert_eq!(inbox, 3, "one inbox row per device and batch");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_rows_in_chunks_and_keeps_the_rest() -> anyhow::Result<()> {
    let (pg, _) = database().await?;
    dampwatch_store::prepare_database(&pg.url()).await?;
    let session = crate::db::open(&pg.url()).await?;
    let db = &session.client;
    // Five readings (and their uplinks) seven years old, three recent; quarantine rows 100 days
    // and 1 day old; rollups two years and one hour old.
    db.batch_execute(
        "INSERT INTO readings
         SELECT 'ret-1', 1, s, t, t, false, t, 20, 50, NULL, NULL, 3000, 0, int8send(s)
         FROM generate_series(1, 8) s,
              LATERAL (SELECT CASE WHEN s <= 5 THEN now() - interval '7 years' ELSE now() END AS t) x;
         INSERT INTO uplinks
         SELECT int8send(s), 'ret-1', 1, '\\x00', '\\x00', CASE WHEN s <= 5 THEN now() - interval '7 years' ELSE now() END
         FROM generate_series(1, 8) s;
         INSERT INTO rejected_messages (received_at, reason, detail, topic, raw)
         VALUES (now() - interval '100 days', 'bad_signature', '', 't', '\\x01'),
                (now() - interval '1 day', 'bad_signature', '', 't', '\\x02');
         INSERT INTO readings_hourly_totals VALUES
             ('ret-1', date_trunc('hour', now() - interval '2 years'), 1, 1, 20, 20, 20, 1, 50, 50, 50),
             ('ret-1', date_trunc('hour', now()), 1, 1, 20, 20, 20, 1, 50, 50, 50);",
    )
    .await?;
    let mut cfg = Config::default().retention;
    cfg.rollups = Some(std::time::Duration::from_secs(365 * 86_400));
    cfg.chunk_rows = 2;
    let policy = retention::policy::Policy::builtin();
    let report =
        retention::run_once(db, session.layout, &policy, &cfg, Utc::now(), &CancellationToken::new()).await?;
    assert!(report.ran);
    assert_eq!(report.deleted_from("readings"), 5);
    assert_eq!(report.deleted_from("uplinks"), 5);
    assert_eq!(report.deleted_from("rejected_messages"), 1);
    assert_eq!(report.deleted_from("readings_hourly_totals"), 1);
    let left: Vec<i64> =
        db.query("SELECT seq FROM readings ORDER BY seq", &[]).await?.into_iter().map(|r| r.get(0)).collect();
    assert_eq!(left, vec![6, 7, 8]);
    let q: Vec<u8> = db.query_one("SELECT raw FROM rejected_messages", &[]).await?.get(0);
    assert_eq!(q, vec![2]);
    // A second round finds nothing; "0s" keeps for ever.
    cfg.readings = Some(std::time::Duration::ZERO);
    let again = retention::run_once(
        db,
        session.layout,
        &policy,
        &cfg,
        Utc::now() + Age::days(3650),
        &CancellationToken::new(),
    )
    .await?;
    assert_eq!(again.deleted_from("readings"), 0);
    assert_eq!(again.deleted_from("uplinks"), 0);
    Ok(())
}

/// Eight years of one reading, uplink and rollup a month from each of three homes' devices (one
/// home with an open case, one under a legal hold, one free), of rejected messages and of
/// webhook deliveries (delivered and failed in turn): the dry run says exactly what the policy
/// in force deletes, the real run deletes exactly that, and nothing of a held home goes until
/// its hold is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_over_eight_years_deletes_what_the_policy_says_and_nothing_held() -> anyhow::Result<()> {
    use retention::policy::{Class, Keep, Policy};
    let (pg, _) = database().await?;
    dampwatch_store::prepare_database(&pg.url()).await?;
    let session = crate::db::open(&pg.url()).await?;
    let db = &session.client;
    let now = Utc::now();
    const MONTHS: i64 = 96;
    db.batch_execute(
        "INSERT INTO landlords (id) VALUES ('acme');
         INSERT INTO dwellings (landlord_id, reference) VALUES ('acme', 'H-CASE'), ('acme', 'H-HOLD'), ('acme', 'H-FREE');
         INSERT INTO rooms (dwelling_id, name) SELECT id, 'bedroom' FROM dwellings;
         INSERT INTO devices (id, landlord_id, room_id, signing_public_key)
         SELECT 'dev-' || d.reference, 'acme', r.id, '\\x0000000000000000000000000000000000000000000000000000000000000000'
         FROM dwellings d JOIN rooms r ON r.dwelling_id = d.id;
         INSERT INTO cases (landlord_id, room_key, room_id, hazard, opened_at, awareness_policy, case_policy, state,
                            view, view_at, calendar_version, rules_version, updated_at)
         SELECT 'acme', 'room:' || r.id, r.id, 'damp_and_mould_growth', now(), 'at_detection', 'open_on_detection',
                'investigating', '{}', now(), 'v', 'v', now()
         FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE d.reference = 'H-CASE';
         INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ('acme', 'https://example.org/h', 'abcdefghijklmnopqrstu');
         INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload)
         SELECT 'acme', id, 'alert.raised', '{}' FROM webhook_endpoints;",
    )
    .await?;
    let hold = dampwatch_store::holds::open(db, "acme", "H-HOLD", "dispute", "Ombudsman ref 123", "cli:test")
        .await?;
    // Month k ago, k = 0..95.
    db.execute(
        "INSERT INTO readings
         SELECT d.id, 1, k, t, t, false, t, 2000, 5000, NULL, NULL, 3000, 0, sha256(convert_to(d.id || k, 'UTF8'))
         FROM devices d, generate_series(0, $1::int8 - 1) k, LATERAL (SELECT $2::timestamptz - k * interval '30 days' AS t) x",
        &[&MONTHS, &now],
    )
    .await?;
    db.batch_execute(
        "INSERT INTO uplinks SELECT uplink_digest, device_id, 1, '\\x00', '\\x00', received_at FROM readings;
         INSERT INTO readings_hourly_totals
         SELECT device_id, date_trunc('hour', received_at), 1, 1, 2000, 2000, 2000, 1, 5000, 5000, 5000 FROM readings;",
    )
    .await?;
    db.execute(
        "INSERT INTO rejected_messages (received_at, reason, detail, topic, raw)
         SELECT $2::timestamptz - k * interval '30 days', 'bad_signature', '', 't', '\\x01' FROM generate_series(0, $1::int8 - 1) k",
        &[&MONTHS, &now],
    )
    .await?;
    db.execute(
        "INSERT INTO webhook_deliveries (outbox_id, landlord_id, endpoint_id, attempt, started_at, duration_ms, outcome)
         SELECT o.id, 'acme', o.endpoint_id, k + 1, $2::timestamptz - k * interval '30 days', 10,
                CASE WHEN k % 2 = 0 THEN 'delivered' ELSE 'failed' END
         FROM webhook_outbox o, generate_series(0, $1::int8 - 1) k",
        &[&MONTHS, &now],
    )
    .await?;

    // A closed case in each home every month, closed k months ago; the oldest in the free
    // home with two events (its chain) and a queued webhook pointing at it.
    db.execute(
        "INSERT INTO cases (landlord_id, room_key, room_id, hazard, opened_at, awareness_policy, case_policy, state,
                            view, view_at, calendar_version, rules_version, updated_at)
         SELECT 'acme', 'room:' || r.id, r.id, 'damp_and_mould_growth', t, 'at_detection', 'open_on_detection',
                'closed', '{}', t, 'v', 'v', t
         FROM rooms r, generate_series(0, $1::int8 - 1) k,
              LATERAL (SELECT $2::timestamptz - k * interval '30 days' AS t) x",
        &[&MONTHS, &now],
    )
    .await?;
    // Closed k months ago as the database records it (the owner may set the record; no
    // writer can).
    db.batch_execute(
        "ALTER TABLE cases DISABLE TRIGGER cases_record_closure;
         UPDATE cases SET closed_at = updated_at WHERE state = 'closed';
         ALTER TABLE cases ENABLE TRIGGER cases_record_closure;",
    )
    .await?;
    let oldest_free: i64 = db
        .query_one(
            "SELECT c.id FROM cases c JOIN rooms r ON r.id = c.room_id JOIN dwellings d ON d.id = r.dwelling_id
             WHERE d.reference = 'H-FREE' AND c.state = 'closed' ORDER BY c.updated_at LIMIT 1",
            &[],
        )
        .await?
        .get(0);
    for seq in 1..=2 {
        db.execute(
            "INSERT INTO case_events (case_id, landlord_id, seq, kind, affects_clock, event, occurred_at, actor)
             VALUES ($1, 'acme', $2, 'note', false, '{}', now(), 'user:1')",
            &[&oldest_free, &seq],
        )
        .await?;
    }
    let head_hash: String = db
        .query_one(
            "SELECT encode(hash, 'hex') FROM case_events WHERE case_id = $1 AND seq = 2",
            &[&oldest_free],
        )
        .await?
        .get(0);
    db.execute("UPDATE webhook_outbox SET case_id = $1", &[&oldest_free]).await?;
    // What an officer wrote on it, sealed (the bytes are never opened here).
    db.batch_execute(
        "INSERT INTO landlord_text_keys (landlord_id, generation, wrapped_key, secrets_key_id)
         VALUES ('acme', 1, '\\x00', 'file:test')",
    )
    .await?;
    db.execute(
        "INSERT INTO case_event_texts (case_id, landlord_id, key_generation, sealed) VALUES ($1, 'acme', 1, '\\x01')",
        &[&oldest_free],
    )
    .await?;

    // The audit log over the same eight years, one entry a month, a signed checkpoint every
    // fourth (the database does not check signatures; the offline verifier does).
    let mut prev = vec![0u8; 32];
    for k in (0..MONTHS).rev() {
        let seq = MONTHS - k;
        let hash: Vec<u8> = db
            .query_one(
                "INSERT INTO audit_log (seq, at, actor, landlord_id, source, action, target, outcome, details,
                                        prev_hash, hash)
                 SELECT $1, t, 'user:1', 'acme', NULL, 'case.update', NULL, 'success', '{}', $3,
                        audit_entry_hash($1, t, $3, 'user:1', 'acme', NULL, 'case.update', NULL, 'success', '{}')
                 FROM (SELECT date_trunc('microseconds', $2::timestamptz - $4::int8 * interval '30 days') AS t) x
                 RETURNING hash",
                &[&seq, &now, &prev, &k],
            )
            .await?
            .get(0);
        if seq % 4 == 0 {
            db.execute(
                "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)
                 SELECT $1, $2, at, 'k', $3 FROM audit_log WHERE seq = $1",
                &[&seq, &hash, &vec![0u8; 64]],
            )
            .await?;
        }
        prev = hash;
    }

    // What the policy says, counted here from its periods alone.
    let policy = Policy::builtin();
    let version = policy.in_force(now.date_naive());
    let older = |class: Class, keep_k: &dyn Fn(i64) -> bool| -> i64 {
        let Keep::For(period) = version.rule(class).keep else { return 0 };
        let cutoff = now - chrono::Duration::from_std(period).expect("period");
        (0..MONTHS).filter(|k| keep_k(*k) && now - Age::days(30 * k) < cutoff).count() as i64
    };
    let old_readings = older(Class::Readings, &|_| true);
    let old_rejected = older(Class::RejectedMessages, &|_| true);
    let old_delivered = older(Class::OperationalLogs, &|k| k % 2 == 0);
    let old_failed = older(Class::ErrorLogs, &|k| k % 2 == 1);
    assert!(old_readings > 0 && old_readings < MONTHS, "eight years span the six-year period");
    // Audit entries go up to the newest checkpoint (every fourth seq) among those older than
    // seven years; the older ones after it wait for the next checkpoint.
    let old_audit = older(Class::AuditLogs, &|_| true);
    let audit_cut = old_audit / 4 * 4;
    assert!(audit_cut > 0 && audit_cut < old_audit, "the test covers both: {old_audit}");
    let old_closed = older(Class::ClosedCases, &|_| true);

    let cfg = Config::default().retention;
    let plan = retention::plan::plan(db, session.layout, &policy, &cfg, now).await?;
    assert_eq!(plan.delete_from("readings"), old_readings, "{plan}");
    assert_eq!(plan.held_in("readings"), 2 * old_readings, "the case's home and the held home: {plan}");
    assert_eq!(plan.delete_from("uplinks"), old_readings, "{plan}");
    assert_eq!(plan.delete_from("readings_hourly_totals"), old_readings, "{plan}");
    assert_eq!(plan.delete_from("rejected_messages"), old_rejected, "{plan}");
    assert_eq!(plan.delete_from("webhook_deliveries"), old_delivered + old_failed, "{plan}");
    assert_eq!(plan.delete_from("audit_log"), audit_cut, "{plan}");
    let audit_line = plan.lines.iter().find(|l| l.table == "audit_log").expect("audit line");
    assert_eq!(audit_line.kept, old_audit - audit_cut, "{plan}");
    assert_eq!(plan.delete_from("cases"), old_closed, "the free home's: {plan}");
    assert_eq!(plan.held_in("cases"), 2 * old_closed, "the case's home and the held home: {plan}");
    let text = plan.to_string();
    assert!(text.contains("dry run: nothing deleted") && text.contains("audit_logs"), "{text}");
    let before: i64 = db.query_one("SELECT count(*) FROM readings", &[]).await?.get(0);
    assert_eq!(before, 3 * MONTHS, "the dry run deleted nothing");

    let report =
        retention::run_once(db, session.layout, &policy, &cfg, now, &CancellationToken::new()).await?;
    for table in [
        "readings",
        "uplinks",
        "readings_hourly_totals",
        "rejected_messages",
        "webhook_deliveries",
        "audit_log",
    ] {
        assert_eq!(
            report.deleted_from(table) as i64,
            plan.delete_from(table),
            "{table}: the run did what the plan said"
        );
    }
    let per_device: Vec<(String, i64)> = db
        .query("SELECT device_id, count(*) FROM readings GROUP BY 1 ORDER BY 1", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        per_device,
        vec![
            ("dev-H-CASE".to_owned(), MONTHS),
            ("dev-H-FREE".to_owned(), MONTHS - old_readings),
            ("dev-H-HOLD".to_owned(), MONTHS),
        ]
    );
    let left: Vec<String> =
        db.query("SELECT outcome FROM webhook_deliveries", &[]).await?.iter().map(|r| r.get(0)).collect();
    assert_eq!(left.len() as i64, MONTHS - old_delivered - old_failed);
    let first_audit: i64 = db.query_one("SELECT min(seq) FROM audit_log", &[]).await?.get(0);
    assert_eq!(first_audit, audit_cut + 1, "the log starts after the anchor checkpoint");
    // The oldest free case went whole, its chain's head anchored in the audit log first; the
    // webhook that pointed at it stays, without the link.
    let gone: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM cases WHERE id = $1) + (SELECT count(*) FROM case_events WHERE case_id = $1)
                  + (SELECT count(*) FROM webhook_outbox WHERE case_id = $1)
                  + (SELECT count(*) FROM case_event_texts WHERE case_id = $1)",
            &[&oldest_free],
        )
        .await?
        .get(0);
    assert_eq!(gone, 0);
    assert_eq!(db.query_one("SELECT count(*) FROM webhook_outbox", &[]).await?.get::<_, i64>(0), 1);
    let anchor: String = db
        .query_one(
            "SELECT details FROM audit_log WHERE action = 'retention.case_deleted' AND target = $1",
            &[&format!("case:{oldest_free}")],
        )
        .await?
        .get(0);
    let anchor: serde_json::Value = serde_json::from_str(&anchor)?;
    assert_eq!(anchor["events"], 2);
    assert_eq!(anchor["head_hash"], head_hash.as_str());
    let closed_left: i64 =
        db.query_one("SELECT count(*) FROM cases WHERE state = 'closed'", &[]).await?.get(0);
    assert_eq!(closed_left, 3 * MONTHS - old_closed);

    // The hold released, the next round takes that home's old evidence; the open case's stays.
    dampwatch_store::holds::release(db, hold, "cli:test").await?;
    let after =
        retention::run_once(db, session.layout, &policy, &cfg, now, &CancellationToken::new()).await?;
    assert_eq!(after.deleted_from("readings") as i64, old_readings);
    assert_eq!(after.deleted_from("cases") as i64, old_closed, "the held home's closed cases go too");
    let held: i64 =
        db.query_one("SELECT count(*) FROM readings WHERE device_id = 'dev-H-CASE'", &[]).await?.get(0);
    assert_eq!(held, MONTHS);
    Ok(())
}
