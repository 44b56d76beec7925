//! Retention cuts the log's start only at a signed checkpoint (migration 0464): what is left
//! exports with that checkpoint as its anchor and still verifies offline, and an export that
//! lost or forged its anchor does not.

mod common;

use common::{append_many, database, export_text, signer};
use dampwatch_audit::{checkpoint, verify};
use tokio_postgres::Client;

/// The owner lowers the floor below which no cut goes (seven years) so that entries made now
/// can be cut.
async fn floor_lowered(db: &Client) {
    db.execute("UPDATE retention_floors SET at_least = '1 microsecond' WHERE class = 'audit_logs'", &[])
        .await
        .expect("the owner sets the floor");
}

/// Cuts the entries older than a day from now (all of them) at most `limit` at a time.
async fn cut(db: &Client, limit: Option<i64>) -> i64 {
    db.query_one("SELECT audit_cut(now() + interval '1 day', $1)", &[&limit]).await.expect("cut").get(0)
}

async fn seqs(db: &Client) -> (i64, i64) {
    let row = db.query_one("SELECT min(seq), max(seq) FROM audit_log", &[]).await.expect("bounds");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_log_cut_at_a_checkpoint_exports_and_verifies_from_it() {
    let (_, db) = database().await;
    let key = signer(1);
    append_many(&db, 5).await;
    checkpoint(&db, &key).await.expect("checkpoint").expect("seq 5 signed");
    append_many(&db, 3).await;
    checkpoint(&db, &key).await.expect("checkpoint").expect("seq 8 signed");
    append_many(&db, 2).await;
    assert_eq!(cut(&db, None).await, 0, "nothing younger than seven years is cut, whatever is asked");
    floor_lowered(&db).await;

    // At most five at a time: the first cut ends at the checkpoint at 5, the next at 8; the
    // head (10) and what follows the last checkpoint stay.
    assert_eq!(cut(&db, Some(5)).await, 5);
    assert_eq!(seqs(&db).await, (6, 10));
    assert_eq!(cut(&db, Some(5)).await, 3);
    assert_eq!(cut(&db, Some(5)).await, 0);
    assert_eq!(seqs(&db).await, (9, 10));
    let cuts: Vec<(i64, i64)> = db
        .query("SELECT anchor_seq, removed FROM audit_log_cuts ORDER BY anchor_seq", &[])
        .await
        .expect("cuts")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(cuts, [(5, 5), (8, 3)]);

    // The chain goes on from the head.
    append_many(&db, 1).await;
    let export = export_text(&db).await;
    let lines: Vec<&str> = export.lines().collect();
    assert!(lines[0].starts_with(r#"{"checkpoint":{"seq":8,"#), "the anchor comes first: {}", lines[0]);
    let trusted = [key.public_key()];
    let report = verify(export.as_bytes(), &trusted).expect("what is left verifies");
    assert_eq!(
        (report.starts_after, report.entries, report.checkpoints, report.last_seq, report.unsigned_tail),
        (8, 3, 1, 11, 3)
    );
    let text = report.to_string();
    assert!(text.contains("seq 1 to 8 removed by retention, all written before"), "{text}");

    // Without its anchor the export says where it starts.
    let without: String = lines[1..].join("\n");
    let broken = verify(without.as_bytes(), &trusted).expect_err("no anchor");
    assert_eq!(broken.to_string(), "seq 1: missing: the export starts at seq 9");
    // An anchor signed by a key the verifier does not trust.
    let forged = verify(export.as_bytes(), &[signer(2).public_key()]).expect_err("untrusted");
    assert_eq!(forged.to_string(), "seq 8: anchor checkpoint at seq 8: signature not from a trusted key");
    // An anchor for another hash: its signature no longer covers it.
    let mut v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    v["checkpoint"]["hash"] = serde_json::json!("00".repeat(32));
    let edited =
        std::iter::once(v.to_string()).chain(lines[1..].iter().map(|l| l.to_string())).collect::<Vec<_>>();
    let broken = verify(edited.join("\n").as_bytes(), &trusted).expect_err("edited anchor");
    assert!(broken.to_string().starts_with("seq 8: anchor checkpoint"), "{broken}");
}

#[tokio::test]
async fn the_cut_removes_only_entries_older_than_asked_and_never_the_head() {
    let (_, db) = database().await;
    let key = signer(1);
    floor_lowered(&db).await;
    append_many(&db, 3).await;
    assert_eq!(cut(&db, None).await, 0, "no checkpoint yet: nothing can be cut");
    checkpoint(&db, &key).await.expect("checkpoint").expect("seq 3 signed");
    // The head is the newest checkpointed entry: it stays, so nothing is cut.
    assert_eq!(cut(&db, None).await, 0);
    append_many(&db, 1).await;
    // Entries written after the cutoff are not cut, checkpoint or no checkpoint.
    let before_all: i64 =
        db.query_one("SELECT audit_cut(now() - interval '1 day', NULL)", &[]).await.expect("cut").get(0);
    assert_eq!(before_all, 0);
    assert_eq!(cut(&db, None).await, 3);
    assert_eq!(seqs(&db).await, (4, 4));
    // The owner still cannot delete an entry itself.
    let err = db.batch_execute("DELETE FROM audit_log").await.expect_err("append-only");
    assert!(err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"), "{err:?}");
}
