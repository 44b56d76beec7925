//! The evidence pack of a whole-system case: the simulator's damp bedroom (the real firmware
//! core signing its readings, over mutual-TLS MQTT, through the gateway and the collector into
//! PostgreSQL), the hazard worker's alert and case with its deadlines; then `dampwatch evidence
//! export` and `evidence verify` as an operator and a third party run them: the pack verifies
//! with the platform's public key, and a byte flipped in it is refused naming the file.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use chrono::Utc;
use dampwatch_sim::{Scenario, SimArgs};
use dampwatch_testkit::eventually;

const TEN_DAYS_S: f64 = 10.0 * 86_400.0;
/// What the officer wrote at triage.
const NOTE: &str = "black mould behind the wardrobe, tenant coughing";

fn dampwatch(args: &[&str]) -> Output {
    let bin = dampwatch_tests::binary("dampwatch", "dampwatch").expect("the dampwatch binary");
    Command::new(bin).args(args).output().expect("dampwatch runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_evidence_pack_of_a_simulated_damp_bedroom_verifies_and_a_flipped_byte_is_named() {
    let stack = dampwatch_tests::Stack::start().await.expect("gateway, collector and PostgreSQL");
    let url = stack.pg.url();
    let data = tempfile::tempdir().expect("tempdir");
    let mut args = SimArgs::default();
    args.devices = 1;
    args.scenario = Scenario::DampBedroom;
    args.duration = Duration::from_secs(30);
    args.speed = TEN_DAYS_S / args.duration.as_secs_f64();
    args.gateway = stack.gateway_addr().to_string();
    args.data_dir = data.path().to_path_buf();
    args.pki_dir = Some(stack.pki());
    args.bundles_dir = Some(stack.bundles());
    args.database_url = Some(url.clone());
    args.landlord = "demo".to_owned();
    let ids = dampwatch_sim::fleet::device_ids(&args.device_prefix, args.devices).expect("ids");
    dampwatch_sim::provision::provision(
        &stack.pki(),
        &stack.bundles(),
        &url,
        "demo",
        &ids,
        Utc::now() - chrono::Duration::days(11),
    )
    .await
    .expect("provision");
    let mut out = Vec::new();
    dampwatch_sim::run(args, &mut out).await.expect("simulation");

    // The collector's hazard worker opens the case; every committed range is consumed before
    // the pack is made, so its deadlines are final.
    let db = stack.db().await.expect("database");
    let case_id: i64 = eventually(Duration::from_secs(60), || async {
        let left: i64 = db.query_one("SELECT count(*) FROM hazard_inbox", &[]).await.ok()?.get(0);
        let row = db
            .query_opt("SELECT id FROM cases WHERE hazard = 'damp_and_mould_growth' ORDER BY id LIMIT 1", &[])
            .await
            .ok()??;
        (left == 0).then(|| row.get(0))
    })
    .await
    .expect("the damp bedroom opens a case");

    let dir = tempfile::tempdir().expect("tempdir");
    let pack = dir.path().join("case.tar");
    let pki = stack.pki();

    // An officer triages the case through the API with a note, which is stored sealed under the
    // landlord's case text key, itself sealed under the services' secrets key beside the PKI: the
    // operator's export, given the PKI directory, opens it.
    let secrets_key = std::sync::Arc::new(
        dampwatch_privacy::SecretsKey::open_or_create(&pki.join(dampwatch_privacy::secrets_key::KEY_FILE))
            .expect("the services' secrets key"),
    );
    let api_key = dampwatch_api::create_api_key(&db, "demo", "evidence download").await.expect("key");
    let clock = dampwatch_clock::Clock::from_config(&Default::default(), None).expect("clock");
    let state = dampwatch_api::ApiState::connect(&url, clock, dampwatch_api::ApiConfig::default())
        .expect("API state")
        .with_evidence(dampwatch_api::state::EvidenceSource {
            pki_dir: pki.clone(),
            clock: Default::default(),
        })
        .with_secrets_key(secrets_key);
    let app = dampwatch_api::router(state);
    let triage = serde_json::json!({"type": "triage_decided", "category": "significant", "actor": "Ann Officer",
                                    "evidence": {"note": NOTE}});
    let request = axum::http::Request::post(format!("/v1/cases/{case_id}/events"))
        .header("authorization", format!("Bearer {api_key}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(triage.to_string()))
        .expect("request");
    let response = tower::ServiceExt::oneshot(app.clone(), request).await.expect("answer");
    assert_eq!(response.status(), 201);

    let exported = dampwatch(&[
        "evidence",
        "export",
        "--database-url",
        &url,
        "--pki-dir",
        path(&pki),
        "--case",
        &case_id.to_string(),
        "--out",
        path(&pack),
    ]);
    assert!(exported.status.success(), "{}{}", stdout(&exported), String::from_utf8_lossy(&exported.stderr));
    assert!(stdout(&exported).starts_with(&format!("exported case {case_id}: ")), "{}", stdout(&exported));
    assert!(
        stdout(&exported).contains("(1 with their officers' text, 0 with its digest only)"),
        "{}",
        stdout(&exported)
    );
    assert!(String::from_utf8_lossy(&std::fs::read(&pack).expect("pack")).contains(NOTE), "the note, opened");

    let key = pki.join("audit/key-1.pub");
    let verified = dampwatch(&["evidence", "verify", path(&pack), "--public-key", path(&key)]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    let report = stdout(&verified);
    assert!(report.starts_with(&format!("ok: case {case_id} of demo: ")), "{report}");
    assert!(report.contains("from 1 devices (1 certificates) verified"), "{report}");
    assert!(!report.contains(" 0 readings"), "the readings of the window: {report}");

    // The same pack through the API (what the case page's download link serves): sealed with
    // the same key, verifying the same way, and recorded in the audit log.
    let request = axum::http::Request::get(format!("/v1/cases/{case_id}/evidence"))
        .header("authorization", format!("Bearer {api_key}"))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(app, request).await.expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-tar");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"case-{case_id}-evidence.tar\"").as_str()
    );
    let body = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    let downloaded = dir.path().join("downloaded.tar");
    std::fs::write(&downloaded, &body).expect("write");
    assert!(String::from_utf8_lossy(&body).contains(NOTE), "the API's pack carries the note, opened");
    let verified = dampwatch(&["evidence", "verify", path(&downloaded), "--public-key", path(&key)]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    assert!(stdout(&verified).starts_with(&format!("ok: case {case_id} of demo: ")), "{}", stdout(&verified));
    let audited: i64 = db
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'case.evidence_export' AND target = $1",
            &[&format!("case:{case_id}")],
        )
        .await
        .expect("audit log")
        .get(0);
    assert_eq!(audited, 1, "the download is in the audit log");

    // One byte of a signed payload flipped in the archive.
    let mut bytes = std::fs::read(&pack).expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text.find("\"payload\":\"").expect("an uplink") + 16;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let tampered = dir.path().join("tampered.tar");
    std::fs::write(&tampered, bytes).expect("write");
    let refused = dampwatch(&["evidence", "verify", path(&tampered), "--public-key", path(&key)]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stdout(&refused), "TAMPERED: uplinks.jsonl: SHA-256 does not match the manifest");
    stack.shutdown().await;
}
