//! `dampwatch privacy`, `dampwatch tenancies` and `dampwatch landlords erase` as an operator
//! uses them: a master key made, a tenancy recorded and shown, the landlord's key rotated, the
//! master key replaced, then the landlord erased, after which its tenancies no longer open.

use std::path::Path;
use std::process::{Command, Output};

use dampwatch_pg::PrivatePostgres;

fn dampwatch(master_key: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .env("DAMPWATCH_MASTER_KEY_FILE", master_key)
        .args(args)
        .output()
        .expect("dampwatch runs")
}

fn succeeds(master_key: &Path, args: &[&str]) -> String {
    let out = dampwatch(master_key, args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn fails(master_key: &Path, args: &[&str]) -> String {
    let out = dampwatch(master_key, args);
    assert!(!out.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn an_operator_seals_shows_rotates_rewraps_and_erases_a_landlord_s_tenancies() {
    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let url = pg.url();
    let mut db = dampwatch_store::connect(&url).await.expect("connect");
    dampwatch_store::migrate(&mut db).await.expect("migrate");
    db.batch_execute(
        "INSERT INTO landlords (id) VALUES ('north-homes');
         INSERT INTO dwellings (landlord_id, reference) VALUES ('north-homes', 'N-1');",
    )
    .await
    .expect("a landlord and a home");

    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("master.key");
    let key_arg = key.to_str().expect("utf-8 path");
    let generated = succeeds(&key, &["privacy", "master-key", "generate", "--out", key_arg]);
    assert!(generated.contains("mode 0600"), "{generated}");
    fails(&key, &["privacy", "master-key", "generate", "--out", key_arg]);

    let added = succeeds(
        &key,
        &[
            "tenancies",
            "add",
            "--database-url",
            &url,
            "--landlord",
            "north-homes",
            "--dwelling-ref",
            "N-1",
            "--starts",
            "2026-04-01",
            "--name",
            "Ada Quinlan",
            "--name",
            "Bo Quinlan",
            "--phone",
            "+44 7700 900123",
            "--email",
            "ada@example.org",
            "--note",
            "asthma",
        ],
    );
    assert!(added.contains("added tenancy"), "{added}");
    let show =
        ["tenancies", "show", "--database-url", &url, "--landlord", "north-homes", "--dwelling-ref", "N-1"];
    let shown = succeeds(&key, &show);
    for expected in
        ["name: Ada Quinlan", "name: Bo Quinlan", "phone: +44 7700 900123", "note: asthma", "generation 1"]
    {
        assert!(shown.contains(expected), "{expected:?} not in {shown}");
    }
    let sealed: Vec<u8> = db.query_one("SELECT personal FROM tenancies", &[]).await.unwrap().get(0);
    assert!(!sealed.windows(7).any(|w| w == b"Quinlan"));

    let rotated = succeeds(&key, &["privacy", "rotate", "--database-url", &url, "--landlord", "north-homes"]);
    assert!(
        rotated.contains("1 tenancies and 0 homes' occupant records re-sealed")
            && rotated.contains("no case text key yet"),
        "{rotated}"
    );
    assert!(succeeds(&key, &show).contains("generation 2"));

    let new_key = dir.path().join("new.key");
    succeeds(&key, &["privacy", "master-key", "generate", "--out", new_key.to_str().unwrap()]);
    let rewrapped = succeeds(
        &key,
        &["privacy", "rewrap", "--database-url", &url, "--new-master-key", new_key.to_str().unwrap()],
    );
    assert!(rewrapped.contains("1 data keys re-wrapped"), "{rewrapped}");
    assert!(fails(&key, &show).contains("is wrapped under master key"));
    assert!(succeeds(&new_key, &show).contains("Ada Quinlan"));

    let unconfirmed =
        fails(&new_key, &["landlords", "--database-url", &url, "erase", "north-homes", "--confirm", "x"]);
    assert!(unconfirmed.contains("--confirm north-homes"), "{unconfirmed}");
    let erased = succeeds(
        &new_key,
        &["landlords", "--database-url", &url, "erase", "north-homes", "--confirm", "north-homes"],
    );
    assert!(
        erased.contains("1 tenancies, 0 homes' occupant records and 0 case texts can no longer be opened"),
        "{erased}"
    );
    assert!(fails(&new_key, &show).contains("erased"));

    let actions: Vec<String> = db
        .query("SELECT action FROM audit_log ORDER BY seq", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    for action in ["tenancy.create", "tenancy.read", "privacy.rotate_key", "privacy.rewrap", "landlord.erase"]
    {
        assert!(actions.iter().any(|a| a == action), "{action} not audited: {actions:?}");
    }
}

/// A tenant's rights through the commands: a subject access export, a share refused without
/// consent and made with it, the consent withdrawn, an erasure that says what it keeps; a
/// landlord under a legal hold cannot be erased; each step audited.
#[tokio::test]
async fn an_officer_answers_a_subject_access_request_shares_with_consent_and_erases() {
    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let url = pg.url();
    let mut db = dampwatch_store::connect(&url).await.expect("connect");
    dampwatch_store::migrate(&mut db).await.expect("migrate");
    db.batch_execute(
        "INSERT INTO landlords (id) VALUES ('north-homes');
         INSERT INTO dwellings (landlord_id, reference) VALUES ('north-homes', 'N-1');
         INSERT INTO rooms (dwelling_id, name) SELECT id, 'bedroom' FROM dwellings;
         INSERT INTO devices (id, landlord_id, room_id, signing_public_key)
         SELECT 'dev-1', 'north-homes', id, '\\x0000000000000000000000000000000000000000000000000000000000000000' FROM rooms;
         INSERT INTO readings
         SELECT 'dev-1', 1, s, t, t, false, t, 1850, 7200, NULL, NULL, 3000, 0, int8send(s)
         FROM generate_series(1, 48) s, LATERAL (SELECT '2026-01-10 00:00+00'::timestamptz + s * interval '1 hour' AS t) x;",
    )
    .await
    .expect("a home with readings");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("master.key");
    succeeds(&key, &["privacy", "master-key", "generate", "--out", key.to_str().unwrap()]);
    let added = succeeds(
        &key,
        &[
            "tenancies",
            "add",
            "--database-url",
            &url,
            "--landlord",
            "north-homes",
            "--dwelling-ref",
            "N-1",
            "--starts",
            "2026-01-01",
            "--name",
            "Ada Quinlan",
            "--phone",
            "+44 7700 900123",
        ],
    );
    assert!(added.starts_with("added tenancy 1 "), "{added}");

    let archive = dir.path().join("sar.tar");
    let exported = succeeds(
        &key,
        &["tenancies", "export", "--database-url", &url, "1", "--out", archive.to_str().unwrap()],
    );
    assert!(exported.contains("readings: 48 rows (CSV and JSON Lines)"), "{exported}");
    let bytes = std::fs::read(&archive).expect("archive");
    assert!(bytes.windows(11).any(|w| w == b"Ada Quinlan"), "the tenants' own data is in their export");

    let shared = dir.path().join("share.tar");
    let share = [
        "tenancies",
        "share",
        "--database-url",
        &url,
        "1",
        "--to",
        "Acme Insurance",
        "--purpose",
        "claim 77",
        "--out",
        shared.to_str().unwrap(),
    ];
    let refused = fails(&key, &share);
    assert!(refused.contains("no consent in force"), "{refused}");
    let given = succeeds(
        &key,
        &[
            "tenancies",
            "consent",
            "give",
            "--database-url",
            &url,
            "--tenancy",
            "1",
            "--to",
            "Acme Insurance",
            "--purpose",
            "claim 77",
            "--evidence",
            "form CF-114",
        ],
    );
    assert!(given.starts_with("consent 1: "), "{given}");
    let made = succeeds(&key, &share);
    assert!(made.contains("under consent 1: 48 readings, no personal data"), "{made}");
    let bytes = std::fs::read(&shared).expect("shared archive");
    assert!(!bytes.windows(11).any(|w| w == b"Ada Quinlan"), "no names leave with a share");
    succeeds(&key, &["tenancies", "consent", "withdraw", "--database-url", &url, "1"]);
    fails(&key, &share);

    let whole = dir.path().join("north.tar");
    let exported = succeeds(
        &key,
        &["landlords", "--database-url", &url, "export", "north-homes", "--out", whole.to_str().unwrap()],
    );
    assert!(exported.contains("readings: 48 rows") && exported.contains("tenancies: 1 rows"), "{exported}");
    succeeds(
        &key,
        &[
            "holds",
            "open",
            "--database-url",
            &url,
            "--landlord",
            "north-homes",
            "--home",
            "N-1",
            "--reason",
            "claim",
        ],
    );
    let held = fails(
        &key,
        &["landlords", "--database-url", &url, "erase", "north-homes", "--confirm", "north-homes"],
    );
    assert!(held.contains("1 open legal holds"), "{held}");

    fails(&key, &["tenancies", "erase", "--database-url", &url, "1", "--confirm", "2"]);
    let erased = succeeds(&key, &["tenancies", "erase", "--database-url", &url, "1", "--confirm", "1"]);
    assert!(erased.contains("personal data erased; 0 consents withdrawn. Kept:"), "{erased}");
    assert!(erased.contains("Art. 17(3)(e)"), "{erased}");
    let left: i64 = db.query_one("SELECT count(*) FROM tenancies", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);

    let actions: Vec<(String, String)> = db
        .query("SELECT action, outcome FROM audit_log ORDER BY seq", &[])
        .await
        .expect("audit")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let has = |action: &str, outcome: &str| actions.iter().any(|(a, o)| a == action && o == outcome);
    assert!(has("tenancy.subject_access_export", "success"), "{actions:?}");
    assert!(has("tenancy.share", "refused") && has("tenancy.share", "success"), "{actions:?}");
    assert!(has("consent.give", "success") && has("consent.withdraw", "success"), "{actions:?}");
    assert!(has("tenancy.erase", "success") && has("landlord.export", "success"), "{actions:?}");
}
