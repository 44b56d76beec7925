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
    assert!(rotated.contains("1 tenancies re-sealed"), "{rotated}");
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
    assert!(erased.contains("1 tenancies can no longer be opened"), "{erased}");
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
