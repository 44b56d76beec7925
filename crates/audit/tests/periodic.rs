//! The checkpoint task a service runs: it signs the head at start and again after new entries,
//! and stops when told.

mod common;

use std::time::Duration;

use common::{append_many, database, signer};
use dampwatch_testkit::eventually_true;
use tokio_util::sync::CancellationToken;

async fn signed_heads(db: &tokio_postgres::Client) -> Vec<i64> {
    db.query("SELECT seq FROM audit_checkpoints ORDER BY seq", &[])
        .await
        .expect("checkpoints")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn the_task_signs_each_new_head_until_stopped() {
    let (url, db) = database().await;
    append_many(&db, 2).await;
    let pool = dampwatch_audit::pool(&url, Duration::from_secs(10)).expect("pool");
    let stop = CancellationToken::new();
    let task = tokio::spawn(dampwatch_audit::run_checkpoints(
        pool,
        signer(1),
        Duration::from_millis(100),
        stop.clone(),
    ));
    assert!(
        eventually_true(Duration::from_secs(30), || async { signed_heads(&db).await == [2] }).await,
        "the head is signed at start"
    );
    append_many(&db, 3).await;
    assert!(
        eventually_true(Duration::from_secs(30), || async { signed_heads(&db).await == [2, 5] }).await,
        "the new head is signed at the next round"
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), task).await.expect("stops when told").expect("no panic");
}
