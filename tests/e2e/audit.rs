//! The collector signs the audit log with the platform's key from the PKI `dampwatch pki init`
//! made, and an export of it verifies with that key's public half.

use std::time::Duration;

use dampwatch_audit::{append, Event, Outcome};
use dampwatch_testkit::eventually_true;

#[tokio::test]
async fn the_collector_signs_new_audit_entries_with_the_platform_key() -> anyhow::Result<()> {
    let stack = dampwatch_tests::Stack::builder()
        .collector_config(|c| c.audit.checkpoint_every = Duration::from_millis(200))
        .start()
        .await?;
    let db = stack.db().await?;
    let event = Event {
        actor: "cli:operator".into(),
        landlord_id: None,
        source: None,
        action: "api_key.create".into(),
        target: Some("landlord:north-homes".into()),
        outcome: Outcome::Success,
        details: serde_json::json!({"label": "tests"}),
    };
    let seq = append(&db, &event).await?;
    let signed = eventually_true(Duration::from_secs(30), || async {
        db.query_opt("SELECT 1 FROM audit_checkpoints WHERE seq = $1", &[&seq]).await.ok().flatten().is_some()
    })
    .await;
    assert!(signed, "the collector signs the new head at its next round");

    let mut export = Vec::new();
    dampwatch_audit::export(&db, &mut export).await?;
    let trusted: Vec<[u8; 32]> =
        dampwatch_pki::audit_keys(&stack.pki())?.iter().map(|k| k.public_key).collect();
    let report = dampwatch_audit::verify(export.as_slice(), &trusted)?;
    assert_eq!((report.entries, report.checkpoints, report.unsigned_tail), (1, 1, 0));
    stack.shutdown().await;
    Ok(())
}
