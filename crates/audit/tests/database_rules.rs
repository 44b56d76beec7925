//! What the database itself enforces, whoever connects: the log and its checkpoints are
//! append-only even for the role that owns them, a row that does not continue the chain is
//! refused, and a landlord's request writes and reads only its own landlord's entries.

mod common;

use common::{append_many, database, event, signer};
use dampwatch_audit::{append, checkpoint, AuditError};
use tokio_postgres::Client;

/// The error text of a statement that must fail.
async fn refused(db: &Client, sql: &str) -> String {
    message(&db.batch_execute(sql).await.expect_err(sql))
}

fn message(err: &tokio_postgres::Error) -> String {
    err.as_db_error().map_or_else(|| err.to_string(), |e| e.message().to_owned())
}

#[tokio::test]
async fn the_owner_cannot_update_delete_or_truncate_the_log_or_its_checkpoints() {
    let (_, db) = database().await;
    append_many(&db, 3).await;
    checkpoint(&db, &signer(1)).await.expect("checkpoint").expect("signed");
    // The connection is the tables' owner (it ran the migrations).
    let owner: String = db
        .query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_log'", &[])
        .await
        .expect("owner")
        .get(0);
    assert_eq!(owner, common::SERVICE_ROLE);
    for (sql, table, op) in [
        ("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2", "audit_log", "UPDATE"),
        ("DELETE FROM audit_log WHERE seq = 3", "audit_log", "DELETE"),
        ("TRUNCATE audit_log CASCADE", "audit_log", "TRUNCATE"),
        ("UPDATE audit_checkpoints SET key_id = 'x'", "audit_checkpoints", "UPDATE"),
        ("DELETE FROM audit_checkpoints", "audit_checkpoints", "DELETE"),
        ("TRUNCATE audit_checkpoints", "audit_checkpoints", "TRUNCATE"),
    ] {
        let message = refused(&db, sql).await;
        assert!(message.contains(&format!("{table} is append-only: {op} refused")), "{sql}: {message}");
    }
    let count: i64 = db.query_one("SELECT count(*) FROM audit_log", &[]).await.expect("count").get(0);
    assert_eq!(count, 3);
}

#[tokio::test]
async fn a_direct_insert_that_does_not_continue_the_chain_is_refused() {
    let (_, db) = database().await;
    append_many(&db, 2).await;
    let copy = "INSERT INTO audit_log (seq, at, actor, landlord_id, source, action, target, outcome, details, prev_hash, hash)
                SELECT {seq}, at, actor, landlord_id, source, action, target, outcome, details, {prev}, {hash}
                FROM audit_log WHERE seq = 2";
    let insert = |seq: &str, prev: &str, hash: &str| {
        copy.replace("{seq}", seq).replace("{prev}", prev).replace("{hash}", hash)
    };
    // A second seq 2 (a fork), a gap, a wrong predecessor, a hash that is not its contents'.
    let fork = refused(&db, &insert("2", "prev_hash", "hash")).await;
    assert!(fork.contains("does not continue the chain"), "{fork}");
    let gap = refused(&db, &insert("4", "hash", "hash")).await;
    assert!(gap.contains("does not continue the chain"), "{gap}");
    let wrong_prev = refused(&db, &insert("3", "prev_hash", "hash")).await;
    assert!(wrong_prev.contains("prev_hash is not the hash of seq 2"), "{wrong_prev}");
    let wrong_hash = refused(&db, &insert("3", "hash", "hash")).await;
    assert!(wrong_hash.contains("hash does not match its contents"), "{wrong_hash}");
    // Time in order (retention goes by it): not before the head, not in the future.
    for shift in ["- interval '1 day'", "+ interval '1 day'"] {
        let dated = refused(
            &db,
            &format!(
                "INSERT INTO audit_log (seq, at, actor, landlord_id, source, action, target, outcome, details,
                                        prev_hash, hash)
                 SELECT 3, at {shift}, actor, landlord_id, source, action, target, outcome, details, hash,
                        audit_entry_hash(3, at {shift}, hash, actor, landlord_id, source, action, target, outcome,
                                         details)
                 FROM audit_log WHERE seq = 2"
            ),
        )
        .await;
        assert!(dated.contains("is before seq 2's or in the future"), "{shift}: {dated}");
    }
    // A checkpoint must name an entry's real hash.
    let bad_checkpoint = refused(
        &db,
        "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)
         SELECT 1, hash, now(), 'k', decode(repeat('00', 64), 'hex') FROM audit_log WHERE seq = 2",
    )
    .await;
    assert!(bad_checkpoint.contains("hash is not that entry's"), "{bad_checkpoint}");
}

#[tokio::test]
async fn details_must_be_json() {
    let (_, db) = database().await;
    let message =
        refused(&db, "SELECT audit_append('system', NULL, NULL, 'x', NULL, 'success', '{not json')").await;
    assert!(message.contains("json"), "{message}");
    let message = refused(&db, "SELECT audit_append('system', NULL, NULL, 'x', NULL, 'maybe', '{}')").await;
    assert!(message.contains("audit_log_outcome_check"), "{message}");
}

/// A request's transaction as the API opens it (`crates/api/src/tenant.rs`).
async fn tenant<'a>(client: &'a mut Client, landlord: &str) -> tokio_postgres::Transaction<'a> {
    let tx = client.transaction().await.expect("begin");
    tx.execute(
        "SELECT set_config('dampwatch.landlord', $1, true), set_config('role', 'dampwatch_api_tenant', true)",
        &[&landlord],
    )
    .await
    .expect("become the tenant");
    tx
}

#[tokio::test]
async fn a_landlords_request_appends_and_reads_only_its_own_entries() {
    let (url, db) = database().await;
    append(&db, &event("system", None, "platform.start")).await.expect("platform entry");
    append(&db, &event("user:2", Some("south-homes"), "session.login")).await.expect("south entry");

    let mut client = common::connect(&url).await;
    let tx = tenant(&mut client, "north-homes").await;
    let seq = append(&tx, &event("key:3", Some("north-homes"), "case.update")).await.expect("own entry");
    assert_eq!(seq, 3, "the tenant's entry continues the one chain");
    let seqs: Vec<i64> = tx
        .query("SELECT seq FROM audit_log ORDER BY seq", &[])
        .await
        .expect("read")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, [3], "neither the platform's nor south-homes' entries are visible");
    tx.commit().await.expect("commit");
    let tx = tenant(&mut client, "north-homes").await;
    let checkpoints = message(&tx.query("SELECT * FROM audit_checkpoints", &[]).await.expect_err("no grant"));
    assert!(checkpoints.contains("permission denied"), "{checkpoints}");
    tx.rollback().await.expect("rollback");

    // Another landlord's entry, or the platform's, is refused and leaves nothing behind.
    for landlord in [Some("south-homes"), None] {
        let tx = tenant(&mut client, "north-homes").await;
        let err = append(&tx, &event("key:3", landlord, "case.update")).await.expect_err("other landlord");
        assert!(matches!(err, AuditError::OtherLandlord(_)), "{err}");
        tx.rollback().await.expect("rollback");
    }
    // Nor can it write the table directly, around the function.
    let tx = tenant(&mut client, "north-homes").await;
    let err = tx
        .batch_execute(
            "INSERT INTO audit_log (seq, at, actor, action, outcome, details, prev_hash, hash)
             VALUES (4, now(), 'key:3', 'x', 'success', '{}', '\\x00', '\\x00')",
        )
        .await
        .expect_err("no insert grant");
    assert!(message(&err).contains("permission denied"), "{err}");
    tx.rollback().await.expect("rollback");

    let count: i64 = db.query_one("SELECT count(*) FROM audit_log", &[]).await.expect("count").get(0);
    assert_eq!(count, 3);
}
