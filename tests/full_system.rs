//! The whole system: the simulator's homes (the real firmware core, signing and sending over
//! mutual-TLS MQTT) through the gateway and the collector into PostgreSQL, then this worker,
//! to the landlord's webhook receiver: a damp bedroom and a cold home each reach the landlord
//! as a signed alert with its case and deadlines (a cold home found after phase 2 of Awaab's
//! Law on its significant-hazard clock; one recording an occupant over 65 by the stricter
//! rule, saying why); an unplugged sensor reaches it as "device offline". Every body the
//! receiver gets is checked against the `WebhookEvent` schema of the API's OpenAPI document,
//! whose alert, case and deadlines are the API's own view types.

use std::time::Duration;

use chrono::Utc;
use dampwatch_alerts::home::{set_home, HomeChange};
use dampwatch_indicators::Vulnerability;
use dampwatch_privacy::MasterKeyFile;
use dampwatch_sim::{Scenario, SimArgs};
use dampwatch_testkit::{eventually, Received, Receiver};
use dampwatch_tests::{fast_alerts_config, signed_by};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "demo-landlord-webhook-secret";
const TEN_DAYS_S: f64 = 10.0 * 86_400.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simulated_damp_bedroom_reaches_the_landlord_as_a_signed_damp_alert_with_its_case() {
    let run = scenario_reaches_the_landlord(Scenario::DampBedroom, "damp_and_mould_growth", 0).await;
    run.assert_case_with_deadlines("damp_and_mould_growth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simulated_cold_home_reaches_a_failing_receiver_exactly_once_as_a_signed_cold_alert_on_the_phase_2_clock(
) {
    let run = scenario_reaches_the_landlord(Scenario::ColdHome, "excess_cold", 3).await;
    run.assert_case_with_deadlines("excess_cold");
    // Found after phase 2's date of effect (`awaab.toml`, 30 November 2026: the case's awareness
    // is its detection on the worker's clock), excess cold is a significant hazard: the case
    // runs the significant-hazard investigation in working days, in scope by phase 2, and
    // says which law version computed it. (Awareness before that date, which needs the
    // worker's clock set back, is shown in `crates/alerts/tests/tenancy.rs`.)
    let deadlines = run.raised["deadlines"].as_array().expect("deadlines");
    let investigate = deadlines
        .iter()
        .find(|d| d["track"] == "significant" && d["step"] == "investigate")
        .unwrap_or_else(|| panic!("a significant investigation: {deadlines:?}"));
    assert_ne!(investigate["status"], "not_required", "{investigate}");
    assert_eq!(investigate["basis"], "working_days", "{investigate}");
    assert_eq!(investigate["detail"]["status"]["scope"]["phase"], "phase_2", "{investigate}");
    let law = investigate["rules_version"].as_str().unwrap_or_default();
    assert!(law.starts_with("awaab-"), "the law version the clock used: {investigate}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simulated_cold_home_recording_an_occupant_over_65_is_judged_by_the_stricter_rule() {
    let over_65 = HomeChange {
        vulnerabilities: Some([Vulnerability::Over65].into_iter().collect()),
        ..HomeChange::default()
    };
    let run = scenario_in_a_home(Scenario::ColdHome, "excess_cold", 0, Some(over_65)).await;
    run.assert_case_with_deadlines("excess_cold");
    // The cold alert's findings over its life (raised, then updated as more rules hold): the
    // stricter rule among them, never the default it replaces.
    let findings: Vec<Value> = run
        .requests
        .iter()
        .map(|r| r.json())
        .filter(|b| b["alert"]["hazard"] == "excess_cold")
        .flat_map(|b| b["explanation"]["alert"]["findings"].as_array().cloned().unwrap_or_default())
        .collect();
    let ids: Vec<&str> = findings.iter().filter_map(|f| f["rule"]["id"].as_str()).collect();
    assert!(ids.contains(&"cold.below_18c_vulnerable"), "{ids:?}");
    assert!(!ids.contains(&"cold.below_16c"), "the default is replaced for this home: {ids:?}");
    let stricter = findings.iter().find(|f| f["rule"]["id"] == "cold.below_18c_vulnerable").unwrap();
    let basis = stricter["rule"]["basis"].as_str().unwrap_or_default();
    assert!(basis.contains("because the home records an occupant it protects"), "{basis}");
    assert!(
        !basis.contains("over_65"),
        "the landlord is told whom the rule protects, not which occupant: {basis}"
    );
    let version = stricter["rule"]["ruleset_version"].as_str().unwrap_or_default();
    assert!(
        version.ends_with("+occupants-2026-12:cold.below_18c_vulnerable,heat.above_24c_vulnerable"),
        "{version}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_simulated_unplugged_sensor_reaches_the_landlord_as_device_offline() {
    let run = scenario_reaches_the_landlord(Scenario::Offline, "device_offline", 0).await;
    let alert = &run.raised["alert"];
    assert!(run.raised["case"].is_null(), "offline is not a hazard to the tenant: no case");
    let finding = &run.raised["explanation"]["alert"]["findings"][0];
    assert_eq!(finding["rule"]["id"], "data.offline_48h", "{alert}");
    let silent = finding["evidence"]["hours_without_data"].as_f64().expect("hours without data");
    // Raised live by the wall-clock check or, when the backlog is processed first, by the gap
    // in sample times: either way at least the rule's 48 h.
    assert!(silent >= 48.0, "{silent} h without data");
    // The sensor came back: the alert was cleared, and the landlord told so.
    let cleared = run
        .requests
        .iter()
        .find(|r| {
            r.status == 200 && r.json()["type"] == "alert.cleared" && r.json()["alert"]["id"] == alert["id"]
        })
        .expect("the offline alert is cleared when readings resume");
    assert!(signed_by(cleared, SECRET), "valid signature");
}

/// What one scenario run delivered.
struct Run {
    /// The body of the `alert.raised` request for the scenario's hazard.
    raised: serde_json::Value,
    /// Every request the receiver saw.
    requests: Vec<Received>,
}

impl Run {
    fn assert_case_with_deadlines(&self, hazard: &str) {
        let body = &self.raised;
        assert_eq!(body["case"]["hazard"], hazard);
        assert_eq!(body["case"]["status"], "awaiting_triage");
        let deadlines = body["deadlines"].as_array().expect("deadlines");
        assert!(
            deadlines.iter().any(|d| d["step"] == "investigate" && d["basis"] == "working_days"),
            "{deadlines:?}"
        );
    }
}

/// Runs `scenario` through the whole system to a receiver that answers 500 to its first
/// `fail_first` requests, and checks the `hazard` alert arrives, signed, exactly once.
async fn scenario_reaches_the_landlord(scenario: Scenario, hazard: &str, fail_first: usize) -> Run {
    scenario_in_a_home(scenario, hazard, fail_first, None).await
}

/// [`scenario_reaches_the_landlord`] with the device placed in a home recorded with `home`
/// (when given) instead of watched as its own room.
async fn scenario_in_a_home(
    scenario: Scenario,
    hazard: &str,
    fail_first: usize,
    home: Option<HomeChange>,
) -> Run {
    let stack = dampwatch_tests::Stack::start().await.expect("gateway, collector and PostgreSQL");
    let url = stack.pg.url();
    let data = tempfile::tempdir().expect("tempdir");

    let mut args = SimArgs::default();
    args.devices = 1;
    args.scenario = scenario;
    args.duration = Duration::from_secs(30);
    args.speed = TEN_DAYS_S / args.duration.as_secs_f64();
    args.gateway = stack.gateway_addr().to_string();
    args.data_dir = data.path().to_path_buf();
    args.pki_dir = Some(stack.pki());
    args.bundles_dir = Some(stack.bundles());
    args.database_url = Some(url.clone());
    args.landlord = "demo".to_owned();

    // Register the device as installed before the simulated span, as `--provision` does.
    let ids = dampwatch_sim::fleet::device_ids(&args.device_prefix, args.devices).expect("ids");
    let installed = Utc::now() - chrono::Duration::days(11);
    dampwatch_sim::provision::provision(&stack.pki(), &stack.bundles(), &url, "demo", &ids, installed)
        .await
        .expect("provision");

    // The collector of the stack applied the whole schema (its own, this crate's and the API's)
    // and runs a hazard worker with the default configuration beside the one started below.
    let mut db = stack.db().await.expect("database");
    if let Some(change) = &home {
        dampwatch_store::registry::place_device(&db, &ids[0], "flat-1", "living room", None)
            .await
            .expect("place");
        // The vulnerabilities are sealed under the landlord's data key: a master key of the run's.
        let keys = tempfile::tempdir().expect("key directory");
        let master = MasterKeyFile::generate(&keys.path().join("master.key")).expect("master key");
        let tx = db.transaction().await.expect("begin");
        set_home(&tx, Some(&master), "demo", "flat-1", change)
            .await
            .expect("set home")
            .expect("the home exists");
        tx.commit().await.expect("commit");
    }
    let receiver = Receiver::start(fail_first).await;
    db.execute(
        "INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ('demo', $1, $2)",
        &[&receiver.url, &SECRET],
    )
    .await
    .expect("endpoint");
    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start(&url, fast_alerts_config(), stop.clone()).await.expect("worker");

    let mut out = Vec::new();
    let summary = dampwatch_sim::run(args, &mut out).await.expect("simulation");
    eprintln!("{}", String::from_utf8_lossy(&out));
    let _ = summary;

    let raised = eventually(Duration::from_secs(60), || async {
        receiver.requests().into_iter().find(|r| {
            let b = r.json();
            r.status == 200 && b["type"] == "alert.raised" && b["alert"]["hazard"] == hazard
        })
    })
    .await
    .unwrap_or_else(|| panic!("the {hazard} alert reaches the landlord"));
    // The alert can come from the first ranges consumed while later ones still wait: the
    // workers are stopped only once every committed range has been consumed.
    let consumed = eventually(Duration::from_secs(60), || async {
        let left: i64 = db.query_one("SELECT count(*) FROM hazard_inbox", &[]).await.ok()?.get(0);
        (left == 0).then_some(())
    })
    .await;
    assert!(consumed.is_some(), "every committed reading range consumed");
    // And every webhook those ranges queued delivered, so the receiver has the whole story.
    let delivered = eventually(Duration::from_secs(60), || async {
        let pending: i64 = db
            .query_one("SELECT count(*) FROM webhook_outbox WHERE state = 'pending'", &[])
            .await
            .ok()?
            .get(0);
        (pending == 0).then_some(())
    })
    .await;
    assert!(delivered.is_some(), "every queued webhook delivered");
    stop.cancel();
    worker.join().await.expect("join");

    assert!(signed_by(&raised, SECRET), "valid signature");
    let requests = receiver.requests();
    requests.iter().for_each(matches_the_documented_webhook);
    let key = raised.header("idempotency-key");
    let delivered = requests.iter().filter(|r| r.status == 200 && r.header("idempotency-key") == key).count();
    assert_eq!(delivered, 1, "the alert is delivered exactly once");
    assert_eq!(requests.iter().filter(|r| r.status != 200).count(), fail_first, "the failures were retried");
    let body = raised.json();
    if home.is_none() {
        // The simulated device has no room: it is watched as its own room.
        assert_eq!(body["alert"]["room"]["device_id"], ids[0].as_str());
        assert_eq!(body["alert"]["room"]["key"], format!("device:{}", ids[0]));
    } else {
        assert!(body["alert"]["room"]["key"].as_str().is_some_and(|k| k.starts_with("room:")), "{body}");
    }
    let stored: i64 = db
        .query_one("SELECT count(*) FROM readings WHERE device_id = $1", &[&ids[0]])
        .await
        .expect("readings")
        .get(0);
    assert!(stored > 500, "ten days of readings stored: {stored}");
    Run { raised: body, requests }
}

/// Fails unless `request`'s body is the `WebhookEvent` the API's OpenAPI document describes
/// (its references resolved within the document).
fn matches_the_documented_webhook(request: &Received) {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let doc = dampwatch_api::openapi::document(&dampwatch_api::ApiConfig::default());
        let schema = serde_json::json!({
            "$ref": "#/components/schemas/WebhookEvent",
            "components": doc["components"],
        });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .expect("the document's webhook schema compiles")
    });
    let body: Value = serde_json::from_slice(&request.body).expect("a JSON body");
    let errors: Vec<String> =
        validator.iter_errors(&body).map(|e| format!("{e} (at {})", e.instance_path())).collect();
    assert!(errors.is_empty(), "a webhook body does not match the document: {}\n{body}", errors.join("; "));
}
