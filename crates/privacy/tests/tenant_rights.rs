//! A tenancy's rights against a real PostgreSQL: its subject access archive holds everything
//! about it (and only its period) as CSV and JSON; a share with a third party is refused
//! without a valid consent and never carries personal data; an erasure deletes the personal
//! data, ends its consents and says what is kept and why.

use std::io::Read as _;

use chrono::{Duration, NaiveDate, TimeZone as _, Utc};
use dampwatch_pg::PrivatePostgres;
use dampwatch_privacy::access::{export_tenancy, AccessSummary};
use dampwatch_privacy::consent::{self, NewConsent};
use dampwatch_privacy::erase::erase_tenancy;
use dampwatch_privacy::{
    add_tenancy, open_tenancy, MasterKeyFile, NewTenancy, Personal, PrivacyError, SecretsKey,
};

const NAME: &str = "Ada Quinlan-Okafor";
const PHONE: &str = "+44 7700 900123";

struct World {
    _pg: PrivatePostgres,
    db: tokio_postgres::Client,
    master: MasterKeyFile,
    /// The services' secrets key, under which case text keys are sealed.
    secrets: SecretsKey,
    dir: tempfile::TempDir,
    tenancy: i64,
    case_id: i64,
}

/// A home with a bedroom sensor reading every day of 2025 and 2026, a tenancy from 1 March 2025
/// to 28 February 2026, a case with two events and an audit entry about the tenancy.
/// What an officer wrote on the case: personal data, kept sealed.
const OFFICER_NOTE: &str = "wheezing child sleeps in the back bedroom";

async fn world() -> World {
    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let mut db = dampwatch_store::connect(&pg.url()).await.expect("connect");
    dampwatch_store::migrate(&mut db).await.expect("migrate");
    db.batch_execute(
        "INSERT INTO landlords (id) VALUES ('north');
         INSERT INTO dwellings (landlord_id, reference, address, unsealed_vulnerabilities, occupant_rules)
             VALUES ('north', 'N-1', '1 North Road', '{respiratory_condition}', '{cold.below_18c_vulnerable}');
         INSERT INTO rooms (dwelling_id, name) SELECT id, 'bedroom' FROM dwellings;
         INSERT INTO devices (id, landlord_id, room_id, signing_public_key)
         SELECT 'dev-1', 'north', id, '\\x0000000000000000000000000000000000000000000000000000000000000000' FROM rooms;
         INSERT INTO readings
         SELECT 'dev-1', 1, s, t, t, false, t, 1850, 7200, 1500, 900, 3000, 0, int8send(s)
         FROM generate_series(0, 729) s, LATERAL (SELECT '2025-01-01 12:00+00'::timestamptz + s * interval '1 day' AS t) x;",
    )
    .await
    .expect("home and readings");
    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKeyFile::generate(&dir.path().join("master.key")).expect("master key");
    let secrets = SecretsKey::open_or_create(&dir.path().join("sealing.key")).expect("secrets key");
    let tx = db.transaction().await.expect("tx");
    let personal = Personal {
        names: vec![NAME.to_owned()],
        phones: vec![PHONE.to_owned()],
        emails: vec!["ada@example.org".to_owned()],
        notes: vec!["asthma".to_owned()],
    };
    let tenancy = add_tenancy(
        &tx,
        &master,
        &NewTenancy {
            landlord_id: "north",
            dwelling_reference: "N-1",
            starts_on: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            ends_on: Some(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()),
            personal: &personal,
        },
    )
    .await
    .expect("tenancy");
    // The home's vulnerability was recorded in clear before sealing began (as the schema
    // upgrade leaves it): sealing it is the operator's first step after the upgrade.
    let sealed = dampwatch_privacy::occupants::seal_unsealed(&tx, &master, None).await.expect("seal");
    assert_eq!(sealed, 1);
    assert_eq!(dampwatch_privacy::occupants::seal_unsealed(&tx, &master, None).await.expect("again"), 0);
    let row = tx
        .query_one("SELECT occupants, unsealed_vulnerabilities, occupant_rules FROM dwellings", &[])
        .await
        .expect("home");
    assert!(!String::from_utf8_lossy(&row.get::<_, Vec<u8>>(0)).contains("respiratory"), "sealed");
    assert!(row.get::<_, Vec<String>>(1).is_empty(), "nothing left in clear");
    assert_eq!(row.get::<_, Vec<String>>(2), ["cold.below_18c_vulnerable"], "the rules' selection kept");
    tx.commit().await.expect("commit");
    let case_id: i64 = db
        .query_one(
            "INSERT INTO cases (landlord_id, room_key, room_id, hazard, opened_at, awareness_policy, case_policy, state,
                                view, view_at, calendar_version, rules_version, updated_at)
             SELECT 'north', 'room:' || id, id, 'damp_and_mould_growth', '2025-11-03 09:00+00', 'at_detection',
                    'open_on_detection', 'investigating', '{}', now(), 'v', 'v', now() FROM rooms
             RETURNING id",
            &[],
        )
        .await
        .expect("case")
        .get(0);
    // The second event's evidence is an officer's note, stored sealed as the API stores it.
    let note = dampwatch_privacy::case_texts::seal_evidence(
        &db,
        &secrets,
        dampwatch_privacy::case_texts::KeyAccess::Operator,
        "north",
        case_id,
        serde_json::json!({"note": OFFICER_NOTE}),
        &[],
    )
    .await
    .expect("seal the note");
    for (seq, evidence) in [(1, serde_json::json!({})), (2, note)] {
        db.execute(
            "INSERT INTO case_events (case_id, landlord_id, seq, kind, affects_clock, event, occurred_at, actor, evidence)
             VALUES ($1, 'north', $2, 'note', false, '{}', '2025-11-03 10:00+00', 'user:1', $3)",
            &[&case_id, &seq, &evidence],
        )
        .await
        .expect("event");
    }
    let event = dampwatch_audit_event(tenancy);
    db.execute(
        "SELECT audit_append($1, 'north', 'test', 'tenancy.view', $2, 'success', '{}')",
        &[&event.0, &event.1],
    )
    .await
    .expect("audit");
    World { _pg: pg, db, master, secrets, dir, tenancy, case_id }
}

fn dampwatch_audit_event(tenancy: i64) -> (String, String) {
    ("user:1".to_owned(), format!("tenancy:{tenancy}"))
}

/// The archive's files and their text.
fn files(path: &std::path::Path) -> Vec<(String, String)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).expect("archive"));
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let mut e = e.expect("entry");
            let name = e.path().expect("name").to_string_lossy().into_owned();
            let mut text = String::new();
            e.read_to_string(&mut text).expect("text");
            (name, text)
        })
        .collect()
}

fn file<'a>(files: &'a [(String, String)], name: &str) -> &'a str {
    &files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name}")).1
}

/// Days of the tenancy: 1 March 2025 to 28 February 2026 inclusive.
fn tenancy_days() -> u64 {
    let from = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    (to - from).num_days() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_access_export_holds_everything_about_the_tenancy_as_csv_and_json() {
    let mut w = world().await;
    let out = w.dir.path().join("access.tar");
    let summary: AccessSummary =
        export_tenancy(&mut w.db, &w.master, Some(&w.secrets), w.tenancy, &out).await.expect("export");
    assert_eq!(summary.rows_of("readings"), tenancy_days(), "only the tenancy's period");
    assert_eq!(summary.rows_of("cases"), 1);
    assert_eq!(summary.rows_of("case_events"), 2);
    assert_eq!(summary.rows_of("audit"), 1);
    let files = files(&out);
    let tenancy = file(&files, "tenancy.json");
    assert!(tenancy.contains(NAME) && tenancy.contains(PHONE), "{tenancy}");
    assert!(file(&files, "home.json").contains("respiratory_condition"));
    let csv = file(&files, "readings.csv");
    assert!(csv.starts_with("device_id,room,sampled_at,received_at,temperature_c,rh_pct,"), "{csv}");
    assert_eq!(csv.lines().count() as u64, tenancy_days() + 1, "a header and one line per reading");
    assert!(csv.lines().nth(1).unwrap().contains("2025-03-01 12:00:00+00"), "UTC, from the first day");
    let jsonl = file(&files, "readings.jsonl");
    assert_eq!(jsonl.lines().count() as u64, tenancy_days());
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).expect("JSON");
    assert_eq!(first["temperature_c"], serde_json::json!(18.5));
    assert!(file(&files, "case_events.csv").lines().count() == 3);
    assert!(file(&files, "README.txt").contains("readings     365 rows"));
    // What the officer wrote: sealed in the database, opened for the tenants.
    assert_eq!(summary.rows_of("case_event_texts"), 1);
    assert!(!file(&files, "case_events.csv").contains("wheezing"));
    let texts: serde_json::Value = serde_json::from_str(file(&files, "case_event_texts.json")).expect("JSON");
    assert_eq!(texts[0]["evidence"]["note"], OFFICER_NOTE, "{texts}");
    assert_eq!(texts[0]["case_id"], w.case_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_needs_a_valid_consent_and_never_carries_personal_data() {
    let mut w = world().await;
    let out = w.dir.path().join("share.tar");
    let refused = consent::share(&mut w.db, w.tenancy, "Acme Insurance", "claim 77", &out).await;
    assert!(matches!(refused, Err(PrivacyError::NoConsent { .. })), "{refused:?}");
    assert!(!out.exists());

    let given = consent::give(
        &w.db,
        &NewConsent {
            tenancy_id: w.tenancy,
            recipient: "Acme Insurance",
            purpose: "claim 77",
            evidence: "signed form CF-2025-114",
            given_at: Utc::now() - Duration::days(1),
            expires_at: Some(Utc::now() + Duration::days(30)),
            recorded_by: "user:1",
        },
    )
    .await
    .expect("consent");
    // Another purpose or recipient is not covered.
    let other = consent::share(&mut w.db, w.tenancy, "Acme Insurance", "marketing", &out).await;
    assert!(matches!(other, Err(PrivacyError::NoConsent { .. })));

    let (relied_on, summary) =
        consent::share(&mut w.db, w.tenancy, "Acme Insurance", "claim 77", &out).await.expect("share");
    assert_eq!(relied_on.id, given);
    assert_eq!(summary.rows_of("readings"), tenancy_days());
    let files = files(&out);
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for private in
        [NAME, PHONE, "ada@example.org", "asthma", "1 North Road", "respiratory_condition", OFFICER_NOTE]
    {
        assert!(!all.contains(private), "{private} shared");
    }
    assert!(files.iter().all(|(n, _)| !n.starts_with("audit")), "the audit log is not shared");

    consent::withdraw(&w.db, given, "user:1").await.expect("withdraw");
    let after = consent::share(&mut w.db, w.tenancy, "Acme Insurance", "claim 77", &out).await;
    assert!(matches!(after, Err(PrivacyError::NoConsent { .. })), "withdrawn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_deletes_the_personal_data_ends_consents_and_says_what_is_kept() {
    let mut w = world().await;
    consent::give(
        &w.db,
        &NewConsent {
            tenancy_id: w.tenancy,
            recipient: "Acme Insurance",
            purpose: "claim 77",
            evidence: "",
            given_at: Utc::now() - Duration::days(1),
            expires_at: None,
            recorded_by: "user:1",
        },
    )
    .await
    .expect("consent");
    let tx = w.db.transaction().await.expect("tx");
    let erased = erase_tenancy(&tx, w.tenancy, "user:2").await.expect("erase");
    tx.commit().await.expect("commit");
    assert_eq!(erased.consents_withdrawn, 1);
    assert!(erased.kept.iter().any(|(what, why)| what.contains("readings") && why.contains("Art. 17(3)(e)")));
    assert!(open_tenancy(&w.db, &w.master, w.tenancy).await.expect("open").is_none());
    let sealed: i64 = w.db.query_one("SELECT count(*) FROM tenancies", &[]).await.unwrap().get(0);
    assert_eq!(sealed, 0, "no ciphertext left either");
    let consent_row =
        w.db.query_one("SELECT tenancy_id, withdrawn_at IS NOT NULL FROM sharing_consents", &[])
            .await
            .unwrap();
    assert_eq!((consent_row.get::<_, Option<i64>>(0), consent_row.get::<_, bool>(1)), (None, true));
    let kept: i64 = w.db.query_one("SELECT count(*) FROM readings", &[]).await.unwrap().get(0);
    assert_eq!(kept, 730, "the home's readings are kept under the retention policy");
    let case_events: i64 =
        w.db.query_one("SELECT count(*) FROM case_events WHERE case_id = $1", &[&w.case_id])
            .await
            .unwrap()
            .get(0);
    assert_eq!(case_events, 2);
    let export =
        export_tenancy(&mut w.db, &w.master, Some(&w.secrets), w.tenancy, &w.dir.path().join("x.tar")).await;
    assert!(matches!(export, Err(PrivacyError::UnknownTenancy(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_landlord_s_export_carries_everything_it_owns_and_no_secret() {
    let mut w = world().await;
    w.db.batch_execute(
        "INSERT INTO users (landlord_id, email, display_name, role, password_hash)
             VALUES ('north', 'officer@north.example', 'Olu Officer', 'housing_officer', '$argon2id$v=19$secret-hash');
         INSERT INTO webhook_endpoints (landlord_id, url, secret)
             VALUES ('north', 'https://hooks.north.example/in', 'webhook-signing-secret-xyz');
         INSERT INTO landlords (id) VALUES ('south');
         INSERT INTO dwellings (landlord_id, reference, address) VALUES ('south', 'S-1', '9 South Street');",
    )
    .await
    .expect("people, a webhook, another landlord");
    let out = w.dir.path().join("north.tar");
    let summary = dampwatch_privacy::portability::export_landlord(
        &mut w.db,
        &w.master,
        Some(&w.secrets),
        "north",
        &out,
    )
    .await
    .expect("export");
    assert_eq!(summary.rows_of("readings"), 730, "every reading, not only a tenancy's");
    assert_eq!(summary.rows_of("tenancies"), 1);
    assert_eq!(summary.rows_of("case_events"), 2);
    assert_eq!(summary.rows_of("people"), 1);
    let files = files(&out);
    assert!(file(&files, "tenancies.json").contains(NAME), "the landlord's tenancies, opened");
    assert_eq!(summary.rows_of("case_event_texts"), 1);
    assert!(file(&files, "case_event_texts.json").contains(OFFICER_NOTE), "what officers wrote, opened");
    assert_eq!(summary.rows_of("homes_occupants"), 1);
    assert!(
        file(&files, "homes_occupants.json").contains("respiratory_condition"),
        "its homes' records, opened"
    );
    assert!(
        !file(&files, "homes.csv").contains("respiratory"),
        "homes.csv carries only the rules' selection"
    );
    assert!(file(&files, "homes.csv").contains("cold.below_18c_vulnerable"));
    assert!(file(&files, "webhook_endpoints.csv").contains("https://hooks.north.example/in"));
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for secret in ["secret-hash", "webhook-signing-secret-xyz", "9 South Street", "S-1"] {
        assert!(!all.contains(secret), "{secret} exported");
    }
    let missing = dampwatch_privacy::portability::export_landlord(
        &mut w.db,
        &w.master,
        Some(&w.secrets),
        "nobody",
        &out,
    )
    .await;
    assert!(matches!(missing, Err(PrivacyError::UnknownLandlord(_))));
}
