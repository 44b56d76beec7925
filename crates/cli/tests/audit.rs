//! `dampwatch audit` as an operator and a verifier use it: sign the head, export, verify with
//! the platform's public key (PEM or hex), and a tampered export or a foreign key refused with
//! the first bad seq and a non-zero exit.

use std::path::Path;
use std::process::{Command, Output};

use dampwatch_audit::{append, Event, Outcome};
use dampwatch_pg::PrivatePostgres;

fn dampwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dampwatch")).args(args).output().expect("dampwatch runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn succeeds(args: &[&str]) -> String {
    let out = dampwatch(args);
    assert!(out.status.success(), "{args:?}: {}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    stdout(&out)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[tokio::test]
async fn export_verify_and_a_tampered_export() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (pki, other_pki) = (dir.path().join("pki"), dir.path().join("other-pki"));
    succeeds(&["pki", "init", "--dir", path(&pki)]);
    succeeds(&["pki", "init", "--dir", path(&other_pki)]);

    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let url = pg.url();
    let mut db = dampwatch_store::connect(&url).await.expect("connect");
    dampwatch_store::migrate(&mut db).await.expect("migrate");
    for i in 1..=5 {
        let event = Event {
            actor: format!("user:{i}"),
            landlord_id: Some("north-homes".into()),
            source: None,
            action: "session.login".into(),
            target: None,
            outcome: if i == 3 { Outcome::Failure } else { Outcome::Success },
            details: serde_json::json!({"attempt": i}),
        };
        append(&db, &event).await.expect("append");
    }

    let signed = succeeds(&["audit", "checkpoint", "--database-url", &url, "--pki-dir", path(&pki)]);
    assert_eq!(signed.trim(), "signed seq 5 with audit-key-1");
    let again = succeeds(&["audit", "checkpoint", "--database-url", &url, "--pki-dir", path(&pki)]);
    assert!(again.starts_with("nothing to sign"), "{again}");
    append(
        &db,
        &Event {
            actor: "system".into(),
            landlord_id: None,
            source: None,
            action: "platform.start".into(),
            target: None,
            outcome: Outcome::Success,
            details: serde_json::json!({}),
        },
    )
    .await
    .expect("append");

    let export = dir.path().join("audit.jsonl");
    let exported = succeeds(&["audit", "export", "--database-url", &url, "--out", path(&export)]);
    assert!(exported.starts_with("exported 6 entries and 1 checkpoints"), "{exported}");

    // The public key as `pki audit-keys` prints it (PEM), and as the hex file beside the key.
    let printed = succeeds(&["pki", "audit-keys", "--dir", path(&pki)]);
    let pem_start = printed.find("-----BEGIN PUBLIC KEY-----").expect("a PEM key");
    let pem = dir.path().join("audit-key-1.pem");
    std::fs::write(&pem, &printed[pem_start..]).expect("write the PEM");
    let hex = pki.join("audit/key-1.pub");
    for key in [&pem, &hex] {
        let ok = succeeds(&["audit", "verify", path(&export), "--public-key", path(key)]);
        assert_eq!(ok.trim(), "ok: 6 entries, 1 checkpoints, 1 entries after the last checkpoint");
    }

    // One field of seq 2 changed in the file.
    let text = std::fs::read_to_string(&export).expect("read");
    let tampered_text = text.replacen("\"actor\":\"user:2\"", "\"actor\":\"user:9\"", 1);
    assert_ne!(tampered_text, text);
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered, tampered_text).expect("write");
    let out = dampwatch(&["audit", "verify", path(&tampered), "--public-key", path(&pem)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).trim(), "TAMPERED: seq 2: hash does not match its contents");

    // The untouched export against another platform's key.
    let foreign = other_pki.join("audit/key-1.pub");
    let out = dampwatch(&["audit", "verify", path(&export), "--public-key", path(&foreign)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).trim(), "TAMPERED: seq 5: checkpoint at seq 5: signature not from a trusted key");
    // Both keys given: the platform's is among them.
    let ok = succeeds(&[
        "audit",
        "verify",
        path(&export),
        "--public-key",
        path(&foreign),
        "--public-key",
        path(&hex),
    ]);
    assert!(ok.starts_with("ok: 6 entries"), "{ok}");

    // Retention cuts the start at the checkpoint (seq 5); the export of what is left still
    // verifies, starting from that signed checkpoint, and says what was removed. (The owner
    // lowers the seven-year floor, so that entries made now can go.)
    db.execute("UPDATE retention_floors SET at_least = '1 microsecond' WHERE class = 'audit_logs'", &[])
        .await
        .expect("floor");
    let cut: i64 =
        db.query_one("SELECT audit_cut(now() + interval '1 day', NULL)", &[]).await.expect("cut").get(0);
    assert_eq!(cut, 5);
    let rest = dir.path().join("audit-after-retention.jsonl");
    let exported = succeeds(&["audit", "export", "--database-url", &url, "--out", path(&rest)]);
    assert!(exported.contains("seq 1 to 5 were removed by retention"), "{exported}");
    // Without the retention period it cannot be told from a truncation; with a period longer
    // than the anchor's age the cut came too early; with one it satisfies, it verifies.
    let out = dampwatch(&["audit", "verify", path(&rest), "--public-key", path(&hex)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("TAMPERED: the export starts after seq 5"), "{}", stdout(&out));
    let out =
        dampwatch(&["audit", "verify", path(&rest), "--public-key", path(&hex), "--retained-for", "7years"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("removed before their period ended"), "{}", stdout(&out));
    let ok = succeeds(&["audit", "verify", path(&rest), "--public-key", path(&hex), "--retained-for", "1us"]);
    assert!(ok.starts_with("ok: 1 entries, 1 checkpoints, 1 entries after the last checkpoint (seq 1 to 5 removed by retention"), "{ok}");
}
