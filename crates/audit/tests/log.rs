//! The chain as a verifier sees it: hashes the Rust code recomputes exactly as the database
//! made them, an export that verifies, and every kind of tampering with an export caught at
//! the first entry it touches.

mod common;

use common::{append_many, database, event, export_text, signer};
use dampwatch_audit::{append, checkpoint, entry_hash, verify, Break, Line, Outcome, Report};
use serde_json::{json, Value};

fn lines(export: &str) -> Vec<String> {
    export.lines().map(str::to_owned).collect()
}

fn verify_lines(lines: &[String], trusted: &[[u8; 32]]) -> Result<Report, Break> {
    verify(lines.join("\n").as_bytes(), trusted)
}

/// Changes one field of the entry on `line`, leaving its hashes as they were.
fn edit(line: &str, field: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(line).expect("JSON line");
    v["entry"][field] = value;
    v.to_string()
}

#[tokio::test]
async fn rust_computes_the_hash_the_database_stored() {
    let (_, db) = database().await;
    let awkward = [
        // Every optional field NULL.
        dampwatch_audit::Event {
            actor: "anonymous".into(),
            landlord_id: None,
            source: None,
            action: "session.login".into(),
            target: None,
            outcome: Outcome::Failure,
            details: json!({}),
        },
        // Non-ASCII text in every field (multi-byte UTF-8: lengths are bytes, not characters).
        dampwatch_audit::Event {
            actor: "cli:zoë".into(),
            landlord_id: Some("maison-hélène".into()),
            source: Some("東京 — 10.0.0.1".into()),
            action: "case.note".into(),
            target: Some("case:7 🏠".into()),
            outcome: Outcome::Refused,
            details: json!({"note": "mould behind the wardrobe — photographed", "z": [1, 2.5, null], "a": {"ünïcode": true}}),
        },
        // Empty strings (not NULLs) and nested JSON.
        dampwatch_audit::Event {
            actor: "system".into(),
            landlord_id: Some(String::new()),
            source: Some(String::new()),
            action: "api_key.create".into(),
            target: Some(String::new()),
            outcome: Outcome::Success,
            details: json!({"b": 1, "a": [{"c": "d"}], "quote": "\"\\\n"}),
        },
    ];
    for e in &awkward {
        append(&db, e).await.expect("append");
    }
    let export = export_text(&db).await;
    let entries: Vec<dampwatch_audit::Entry> = export
        .lines()
        .filter_map(|l| match serde_json::from_str(l).expect("line") {
            Line::Entry(e) => Some(e),
            Line::Checkpoint(_) => None,
        })
        .collect();
    assert_eq!(entries.len(), 3);
    for (entry, event) in entries.iter().zip(&awkward) {
        // The stored hash, read straight from the table, is what Rust computes.
        let stored: Vec<u8> = db
            .query_one("SELECT hash FROM audit_log WHERE seq = $1", &[&entry.seq])
            .await
            .expect("row")
            .get(0);
        assert_eq!(entry_hash(entry).as_slice(), stored.as_slice(), "seq {}", entry.seq);
        assert_eq!(entry.actor, event.actor);
        assert_eq!(entry.landlord_id, event.landlord_id);
        assert_eq!(entry.source, event.source);
        assert_eq!(serde_json::from_str::<Value>(&entry.details).expect("details JSON"), event.details);
    }
    assert_eq!(entries[0].prev_hash, [0; 32], "the first entry chains to the zero hash");
    assert_eq!(entries[1].prev_hash, entries[0].hash);
    assert_eq!(entries[2].prev_hash, entries[1].hash);
    // The details text is kept byte for byte as written.
    let details: String =
        db.query_one("SELECT details FROM audit_log WHERE seq = 3", &[]).await.expect("row").get(0);
    assert_eq!(details, serde_json::to_string(&awkward[2].details).expect("json"));
}

#[tokio::test]
async fn an_export_verifies_with_the_platform_key_and_counts_the_unsigned_tail() {
    let (_, db) = database().await;
    let key = signer(1);
    assert_eq!(checkpoint(&db, &key).await.expect("checkpoint"), None, "nothing to sign in an empty log");
    append_many(&db, 5).await;
    let signed = checkpoint(&db, &key).await.expect("checkpoint").expect("a new head");
    assert_eq!(signed.seq, 5);
    assert_eq!(checkpoint(&db, &key).await.expect("checkpoint"), None, "the head is signed once");
    append_many(&db, 2).await;

    let export = export_text(&db).await;
    let report = verify(export.as_bytes(), &[signer(9).public_key(), key.public_key()]).expect("intact");
    assert_eq!(
        report,
        Report {
            starts_after: 0,
            anchor_signed_at: None,
            entries: 7,
            checkpoints: 1,
            last_seq: 7,
            unsigned_tail: 2
        }
    );
    assert_eq!(report.to_string(), "7 entries, 1 checkpoints, 2 entries after the last checkpoint");
}

#[tokio::test]
async fn tampered_exports_fail_at_the_first_bad_entry() {
    let (_, db) = database().await;
    let key = signer(1);
    append_many(&db, 6).await;
    checkpoint(&db, &key).await.expect("checkpoint").expect("signed");
    let original = lines(&export_text(&db).await);
    let trusted = [key.public_key()];
    verify_lines(&original, &trusted).expect("the untouched export verifies");

    // One field of seq 3 edited.
    let mut edited = original.clone();
    edited[2] = edit(&edited[2], "outcome", json!("refused"));
    let broken = verify_lines(&edited, &trusted).expect_err("edited");
    assert_eq!((broken.seq, broken.reason.as_str()), (Some(3), "hash does not match its contents"));
    assert_eq!(broken.to_string(), "seq 3: hash does not match its contents");

    // The details edited, even only in their spacing.
    let mut edited = original.clone();
    edited[3] = edit(&edited[3], "details", json!("{ }"));
    assert_eq!(verify_lines(&edited, &trusted).expect_err("edited").seq, Some(4));

    // Seq 3 removed.
    let mut removed = original.clone();
    removed.remove(2);
    let broken = verify_lines(&removed, &trusted).expect_err("removed");
    assert_eq!(broken.seq, Some(3));
    assert_eq!(broken.to_string(), "seq 3: missing: the entry after seq 2 is seq 4");

    // Seq 3 and 4 swapped.
    let mut swapped = original.clone();
    swapped.swap(2, 3);
    let broken = verify_lines(&swapped, &trusted).expect_err("swapped");
    assert_eq!(broken.seq, Some(3), "{broken}");

    // Seq 3 and 4 swapped and renumbered: their chain links no longer fit.
    let mut renumbered = swapped.clone();
    renumbered[2] = edit(&renumbered[2], "seq", json!(3));
    renumbered[3] = edit(&renumbered[3], "seq", json!(4));
    let broken = verify_lines(&renumbered, &trusted).expect_err("renumbered");
    assert_eq!(broken.to_string(), "seq 3: prev_hash does not continue seq 2");

    // Seq 2 rewritten with every hash after it recomputed: the chain holds, the signed
    // checkpoint does not.
    let mut rewritten: Vec<dampwatch_audit::Entry> = original[..6]
        .iter()
        .map(|l| match serde_json::from_str(l).expect("line") {
            Line::Entry(e) => e,
            Line::Checkpoint(_) => panic!("entries come first"),
        })
        .collect();
    rewritten[1].actor = "user:innocent".into();
    for i in 1..rewritten.len() {
        rewritten[i].prev_hash = rewritten[i - 1].hash;
        rewritten[i].hash = entry_hash(&rewritten[i]);
    }
    let mut forged: Vec<String> =
        rewritten.into_iter().map(|e| serde_json::to_string(&Line::Entry(e)).expect("json")).collect();
    forged.extend_from_slice(&original[6..]);
    let broken = verify_lines(&forged, &trusted).expect_err("forged");
    assert_eq!(broken.to_string(), "seq 6: checkpoint at seq 6: its hash is not the entry's");

    // The checkpoint dropped as well: the chain alone cannot tell, and the report says so.
    let report = verify_lines(&forged[..6], &trusted).expect("a consistent chain");
    assert_eq!((report.checkpoints, report.unsigned_tail), (0, 6));
}

#[tokio::test]
async fn a_checkpoint_fails_against_a_key_the_verifier_does_not_trust() {
    let (_, db) = database().await;
    append_many(&db, 3).await;
    checkpoint(&db, &signer(1)).await.expect("checkpoint").expect("signed");
    let export = export_text(&db).await;
    let broken = verify(export.as_bytes(), &[signer(2).public_key()]).expect_err("wrong key");
    assert_eq!(broken.to_string(), "seq 3: checkpoint at seq 3: signature not from a trusted key");
    let broken = verify(export.as_bytes(), &[]).expect_err("no key at all");
    assert_eq!(broken.seq, Some(3));
}

#[tokio::test]
async fn concurrent_appenders_make_one_contiguous_chain() {
    let (url, db) = database().await;
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = common::connect(&url).await;
            let mut seqs = Vec::new();
            for i in 0..EACH {
                // Half in transactions that do other work first, as callers will.
                let e = event(&format!("user:{w}"), Some("north-homes"), &format!("write.{i}"));
                if i % 2 == 0 {
                    let tx = client.transaction().await.expect("begin");
                    tx.execute("SELECT 1", &[]).await.expect("work");
                    seqs.push(append(&tx, &e).await.expect("append"));
                    tx.commit().await.expect("commit");
                } else {
                    seqs.push(append(&client, &e).await.expect("append"));
                }
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.expect("writer"));
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=(WRITERS * EACH) as i64).collect::<Vec<_>>(), "every seq once, no gaps");
    let key = signer(1);
    checkpoint(&db, &key).await.expect("checkpoint").expect("signed");
    let report = verify(export_text(&db).await.as_bytes(), &[key.public_key()]).expect("intact");
    assert_eq!(report.entries, (WRITERS * EACH) as u64);
    assert_eq!(report.unsigned_tail, 0);
}
