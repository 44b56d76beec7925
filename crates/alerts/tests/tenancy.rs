//! A home's jurisdiction and tenure decide the law its cases run under; phase 2 of Awaab's
//! Law brings excess cold into the significant-hazard timetable only from its date of effect.

mod support;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use dampwatch_alerts::home::{set_home, HomeChange};
use dampwatch_alerts::HazardProcessor;
use dampwatch_clock::{Jurisdiction, Tenure};
use dampwatch_privacy::{MasterKeyFile, PrivacyError};
use support::{fast_config, series, Db, Sample};

/// A master key for the test, in a directory of its own.
fn master_key() -> (tempfile::TempDir, MasterKeyFile) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = MasterKeyFile::generate(&dir.path().join("master.key")).expect("master key");
    (dir, key)
}

/// Records `change` for landlord l's home `home` in one transaction, sealing any
/// vulnerabilities under `master`.
async fn record(db: &mut Db, master: Option<&MasterKeyFile>, home: &str, change: &HomeChange) {
    let tx = db.client.transaction().await.expect("begin");
    let master = master.map(|m| m as &dyn dampwatch_privacy::MasterKey);
    set_home(&tx, master, "l", home, change).await.expect("set home").expect("the home exists");
    tx.commit().await.expect("commit");
}

fn hours(h: i64) -> chrono::Duration {
    chrono::Duration::hours(h)
}

/// (track, step, status, rules_version, calendar_version) of every provisional row of the
/// room's one case.
async fn provisional_rows(db: &Db) -> Vec<(String, String, String, String, String)> {
    db.client
        .query(
            "SELECT track, step, status, rules_version, calendar_version FROM case_deadlines
             WHERE provisional ORDER BY track, step",
            &[],
        )
        .await
        .expect("deadlines")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// Stores `hours` of readings at `c` °C and `rh` % from `from` and lets the worker judge them
/// as of just after the last one.
async fn conditions(db: &mut Db, processor: &HazardProcessor, from: DateTime<Utc>, h: i64, c: f32, rh: f32) {
    let step = Duration::from_secs(600);
    db.store("dev", &series(from, from + hours(h), step, move |t| Sample::air(t, c, rh))).await;
    db.drain(processor, from + hours(h) + chrono::Duration::minutes(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damp_home_in_scotland_runs_its_case_under_scottish_law() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "flat-1", "bedroom").await;
    db.device("dev", "l", Some(room)).await;
    let change = HomeChange {
        jurisdiction: Some(Jurisdiction::Scotland),
        tenure: Some(Tenure::PrivateRented),
        vulnerabilities: None,
        area: None,
    };
    record(&mut db, None, "flat-1", &change).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    // 30 h above 70 % RH raises the sustained-damp alert, which opens a case at detection.
    conditions(&mut db, &processor, Utc::now() - hours(31), 30, 20.0, 85.0).await;

    let case = db
        .client
        .query_one(
            "SELECT jurisdiction, tenure, rules_version FROM cases WHERE hazard = 'damp_and_mould_growth'",
            &[],
        )
        .await
        .expect("one damp case");
    assert_eq!(
        (case.get::<_, String>(0).as_str(), case.get::<_, String>(1).as_str()),
        ("scotland", "private_rented")
    );
    let rules_version: String = case.get(2);
    assert!(rules_version.starts_with("scotland"), "Scottish law's version recorded: {rules_version}");

    let rows = provisional_rows(&db).await;
    assert!(!rows.is_empty(), "the clock runs from detection");
    // Scotland's regulations have one timetable: no emergency track, no 24-hour steps.
    assert!(rows.iter().all(|(track, ..)| track == "significant"), "{rows:?}");
    assert!(rows.iter().any(|(_, step, ..)| step == "investigate"), "{rows:?}");
    assert!(
        rows.iter().all(|(.., rules, calendar)| rules.starts_with("scotland") && calendar.starts_with("sc")),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_home_keeps_awaabs_law_and_both_tracks() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_detection").await;
    let room = db.room("l", "flat-2", "bedroom").await;
    db.device("dev", "l", Some(room)).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    conditions(&mut db, &processor, Utc::now() - hours(31), 30, 20.0, 85.0).await;
    let case = db.client.query_one("SELECT jurisdiction, tenure FROM cases", &[]).await.expect("one case");
    assert_eq!((case.get::<_, String>(0).as_str(), case.get::<_, String>(1).as_str()), ("england", "social"));
    let rows = provisional_rows(&db).await;
    assert!(rows.iter().any(|(track, ..)| track == "emergency"), "{rows:?}");
    assert!(rows.iter().any(|(track, ..)| track == "significant"), "{rows:?}");
    assert!(rows.iter().all(|(.., rules, _)| rules.starts_with("awaab")), "{rows:?}");
}

/// The status of the provisional significant-track investigation of the one cold case.
async fn significant_investigation(db: &Db) -> (String, String) {
    let row = db
        .client
        .query_one(
            "SELECT status, rules_version FROM case_deadlines
             WHERE provisional AND track = 'significant' AND step = 'investigate'",
            &[],
        )
        .await
        .expect("the significant investigation row");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_home_is_a_significant_hazard_only_from_phase_2() {
    let phase_2 = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    for (label, start, expect_required) in
        [("before", phase_2 - hours(24 * 5), false), ("after", phase_2 + hours(24 * 2), true)]
    {
        let mut db = Db::new().await;
        db.landlord("l", "open_on_detection").await;
        let room = db.room("l", "house", "lounge").await;
        db.device("dev", "l", Some(room)).await;
        let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
        // 10 h at 14 °C: the sustained cold alert (below 16 °C for 6 h) opens a case.
        conditions(&mut db, &processor, start, 10, 14.0, 50.0).await;
        assert_eq!(
            db.count("SELECT count(*) FROM cases WHERE hazard = 'excess_cold'", &[]).await,
            1,
            "{label}"
        );
        let (status, rules_version) = significant_investigation(&db).await;
        if expect_required {
            assert_ne!(status, "not_required", "{label} phase 2: excess cold is a significant hazard");
        } else {
            assert_eq!(
                status, "not_required",
                "{label} phase 2: excess cold is not yet a significant hazard"
            );
        }
        assert!(rules_version.starts_with("awaab"), "{label}: {rules_version}");
    }
}

/// (rule ids, rule set version, explanation) of the open cold alert in `room`, if any.
async fn open_cold_alert(db: &Db, room: i64) -> Option<(Vec<String>, String, String)> {
    db.client
        .query_opt(
            "SELECT rule_ids, ruleset_version, explanation::text FROM alerts
             WHERE room_id = $1 AND hazard = 'excess_cold' AND status = 'open'",
            &[&room],
        )
        .await
        .expect("alerts")
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

async fn room_ruleset_version(db: &Db, room: i64) -> String {
    db.client
        .query_one("SELECT ruleset_version FROM room_hazard_state WHERE room_id = $1", &[&room])
        .await
        .expect("the room's state")
        .get(0)
}

/// The rule set version's end for a home whose occupants select both stricter rules.
const STRICTER_VERSION: &str = "+occupants-2026-12:cold.below_18c_vulnerable,heat.above_24c_vulnerable";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homes_vulnerabilities_are_kept_only_sealed_and_need_the_master_key() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    db.room("l", "flat-1", "lounge").await;
    let over_65 = HomeChange {
        vulnerabilities: Some([dampwatch_indicators::Vulnerability::Over65].into_iter().collect()),
        ..HomeChange::default()
    };
    let tx = db.client.transaction().await.expect("begin");
    let refused = set_home(&tx, None, "l", "flat-1", &over_65).await;
    assert!(
        matches!(refused, Err(dampwatch_alerts::AlertsError::Sealed(PrivacyError::MasterKeyNeeded(_)))),
        "{refused:?}"
    );
    drop(tx);

    let (_dir, master) = master_key();
    record(&mut db, Some(&master), "flat-1", &over_65).await;
    let row = db
        .client
        .query_one(
            "SELECT occupants, occupants_key_generation, occupant_rules, unsealed_vulnerabilities, id
             FROM dwellings WHERE reference = 'flat-1'",
            &[],
        )
        .await
        .expect("the home");
    let sealed: Vec<u8> = row.get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("over_65"), "no vulnerability in clear");
    assert_eq!(row.get::<_, i32>(1), 1, "sealed under the landlord's first data key");
    assert_eq!(row.get::<_, Vec<String>>(2), ["cold.below_18c_vulnerable", "heat.above_24c_vulnerable"]);
    assert!(row.get::<_, Vec<String>>(3).is_empty());
    let opened = dampwatch_privacy::occupants::open_occupants(&db.client, &master, "l", row.get(4))
        .await
        .expect("opens with the master key");
    assert_eq!(opened.names(), ["over_65"]);
    assert_eq!(format!("{opened:?}"), "Categories { 1 recorded }", "Debug never says which");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_recording_an_occupant_over_65_is_judged_by_the_stricter_cold_rule() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let older = db.room("l", "flat-older", "lounge").await;
    let younger = db.room("l", "flat-younger", "lounge").await;
    db.device("dev-older", "l", Some(older)).await;
    db.device("dev-younger", "l", Some(younger)).await;
    let over_65 = HomeChange {
        vulnerabilities: Some([dampwatch_indicators::Vulnerability::Over65].into_iter().collect()),
        ..HomeChange::default()
    };
    let (_dir, master) = master_key();
    record(&mut db, Some(&master), "flat-older", &over_65).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");

    // 10 h at 17 °C in both homes: above the default rule's 16 °C, below the stricter 18 °C.
    let from = Utc::now() - hours(22);
    let step = Duration::from_secs(600);
    for dev in ["dev-older", "dev-younger"] {
        db.store(dev, &series(from, from + hours(10), step, |t| Sample::air(t, 17.0, 50.0))).await;
    }
    db.drain(&processor, from + hours(10) + chrono::Duration::minutes(5)).await;

    let (rules, version, explanation) =
        open_cold_alert(&db, older).await.expect("a cold alert in the older home");
    assert_eq!(rules, ["cold.below_18c_vulnerable"]);
    assert!(version.ends_with(STRICTER_VERSION), "{version}");
    assert!(explanation.contains("because the home records an occupant it protects"), "{explanation}");
    assert!(!explanation.contains("over_65"), "the alert never says which vulnerability: {explanation}");
    assert!(room_ruleset_version(&db, older).await.ends_with(STRICTER_VERSION));
    assert_eq!(open_cold_alert(&db, younger).await, None, "17 °C is no hazard under the default rule");
    assert_eq!(room_ruleset_version(&db, younger).await, processor.ruleset_version());

    // The record corrected (no such occupant): the next readings face the default rules again,
    // under which 17 °C raises nothing, and the stricter rule's alert clears.
    let none = HomeChange { vulnerabilities: Some(Default::default()), ..HomeChange::default() };
    record(&mut db, None, "flat-older", &none).await;
    let later = from + hours(10);
    db.store("dev-older", &series(later, later + hours(4), step, |t| Sample::air(t, 17.0, 50.0))).await;
    db.drain(&processor, later + hours(4) + chrono::Duration::minutes(5)).await;
    assert_eq!(open_cold_alert(&db, older).await, None, "no rule in force holds it open");
    assert_eq!(room_ruleset_version(&db, older).await, processor.ruleset_version());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_an_occupant_over_65_in_a_cold_home_keeps_its_alert_open_under_the_stricter_rule() {
    let mut db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let room = db.room("l", "flat-1", "lounge").await;
    db.device("dev", "l", Some(room)).await;
    let processor = HazardProcessor::new(&fast_config(), None).expect("processor");
    // 10 h at 15 °C: the default cold rule (below 16 °C for 6 h) raises.
    let from = Utc::now() - hours(30);
    let step = Duration::from_secs(600);
    db.store("dev", &series(from, from + hours(10), step, |t| Sample::air(t, 15.0, 50.0))).await;
    db.drain(&processor, from + hours(10) + chrono::Duration::minutes(5)).await;
    let (rules, ..) = open_cold_alert(&db, room).await.expect("a cold alert");
    assert_eq!(rules, ["cold.below_16c"]);

    // An occupant over 65 recorded while the home stays at 15 °C: the stricter rule has been
    // following the readings all along, so the same alert goes on under it, never cleared.
    let over_65 = HomeChange {
        vulnerabilities: Some([dampwatch_indicators::Vulnerability::Over65].into_iter().collect()),
        ..HomeChange::default()
    };
    let (_dir, master) = master_key();
    record(&mut db, Some(&master), "flat-1", &over_65).await;
    let later = from + hours(10);
    db.store("dev", &series(later, later + hours(2), step, |t| Sample::air(t, 15.0, 50.0))).await;
    db.drain(&processor, later + hours(2) + chrono::Duration::minutes(5)).await;
    let (rules, version, _) = open_cold_alert(&db, room).await.expect("still open");
    assert_eq!(rules, ["cold.below_18c_vulnerable"]);
    assert!(version.ends_with(STRICTER_VERSION), "{version}");
    let cold_alerts = db.count("SELECT count(*) FROM alerts WHERE hazard = 'excess_cold'", &[]).await;
    assert_eq!(cold_alerts, 1, "one alert, revised, not a clear and a new raise");
    let cleared = db
        .count("SELECT count(*) FROM alerts WHERE hazard = 'excess_cold' AND cleared_at IS NOT NULL", &[])
        .await;
    assert_eq!(cleared, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_occupants_says_which_stricter_rules_will_judge_the_home() {
    use dampwatch_alerts::home_cli::{run, HomesCommand};
    let mut db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    db.room("l", "flat-1", "lounge").await;
    let (dir, _) = master_key();
    let key_path = dir.path().join("master.key");
    let set = |vulnerable: Option<std::collections::BTreeSet<dampwatch_indicators::Vulnerability>>| {
        HomesCommand::Set {
            landlord: "l".into(),
            dwelling: "flat-1".into(),
            jurisdiction: None,
            tenure: None,
            vulnerable,
            master_key: Some(key_path.clone()),
            area: None,
        }
    };
    let mut out = Vec::new();
    let over_65 = [dampwatch_indicators::Vulnerability::Over65].into_iter().collect();
    run(set(Some(over_65)), &mut db.client, &mut out).await.expect("homes set");
    let said = String::from_utf8(out).unwrap();
    assert!(said.contains("vulnerabilities: over_65 (sealed)"), "{said}");
    assert!(
        said.contains("cold.below_18c_vulnerable instead of cold.below_16c, heat.above_24c_vulnerable instead of heat.above_25c"),
        "{said}"
    );
    assert!(said.contains("occupants-2026-12"), "{said}");

    let mut out = Vec::new();
    run(set(Some(Default::default())), &mut db.client, &mut out).await.expect("homes set");
    let said = String::from_utf8(out).unwrap();
    assert!(said.contains("vulnerabilities: none") && !said.contains("stricter"), "{said}");

    let mut out = Vec::new();
    run(HomesCommand::List { landlord: None }, &mut db.client, &mut out).await.expect("homes list");
    let listed = String::from_utf8(out).unwrap();
    assert!(listed.contains("STRICTER RULES") && !listed.contains("over_65"), "{listed}");
}
