//! Endpoints' signing secrets at rest: registered sealed under the secrets key, opened by the
//! sender only to sign; a secret stored in clear by an older release is sealed when the worker
//! starts; without the key that sealed it nothing is sent, and the attempt says why.

mod support;

use std::sync::Arc;
use std::time::Duration;

use dampwatch_alerts::address_policy::AddressPolicy;
use dampwatch_alerts::endpoints::add_endpoint;
use dampwatch_alerts::{Deliverer, FailureReason};
use dampwatch_privacy::SecretsKey;
use support::receiver::Receiver;
use support::{fast_config, Db, SignedBy};

/// A queued webhook for `endpoint`, as the hazard worker writes it.
async fn queue(db: &Db, landlord: &str, endpoint: i64) {
    db.client
        .execute(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload)
             VALUES ($1, $2, 'alert.raised', $3)",
            &[&landlord, &endpoint, &support::bare_body(landlord)],
        )
        .await
        .expect("outbox");
}

fn loopback() -> AddressPolicy {
    AddressPolicy { allowed_networks: Vec::new(), allow_loopback: true }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_signs_the_webhook_and_without_its_key_nothing_is_sent() {
    let db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(SecretsKey::open_or_create(&dir.path().join("sealing.key")).unwrap());
    let receiver = Receiver::start(0).await;
    let endpoint = add_endpoint(&db.client, "l", &receiver.url, "", &loopback(), &key).await.expect("add");
    queue(&db, "l", endpoint.id).await;

    // Without a key, and with another installation's: refused before anything is sent.
    let config = fast_config();
    let other = Arc::new(SecretsKey::open_or_create(&dir.path().join("other.key")).unwrap());
    for deliverer in [
        Deliverer::new(&config.webhooks).unwrap(),
        Deliverer::new(&config.webhooks).unwrap().with_secrets_key(other),
    ] {
        let round = deliverer.deliver_due(&db.client).await.expect("round");
        assert_eq!((round.claimed, round.retrying), (1, 1));
        assert_eq!(round.failures.get(FailureReason::Secret), 1);
        db.client.execute("UPDATE webhook_outbox SET next_attempt_at = now()", &[]).await.unwrap();
    }
    assert!(receiver.requests().is_empty(), "nothing unsigned, nothing signed with another secret");
    let logged: Vec<String> = db
        .client
        .query("SELECT error FROM webhook_deliveries ORDER BY attempt", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(logged, vec!["the endpoint's signing secret cannot be read by this sender"; 2]);

    // With the key that sealed it: delivered, signed with the secret shown at registration.
    let deliverer = Deliverer::new(&config.webhooks).unwrap().with_secrets_key(key);
    let round = deliverer.deliver_due(&db.client).await.expect("round");
    assert_eq!(round.delivered, 1, "{round:?}");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].signed_by(&endpoint.secret), "signed with the registered secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_stored_in_clear_is_sealed_when_the_worker_starts_and_still_signs() {
    let db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let receiver = Receiver::start(0).await;
    // As an older release stored it.
    let clear = "an-older-release-stored-this-in-clear";
    let id = db.endpoint("l", &receiver.url, clear).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config();
    config.webhooks.secrets_key = dir.path().join("pki/secrets/sealing.key");
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = dampwatch_alerts::start(&db.url, config, stop.clone()).await.expect("start");

    let row = db
        .client
        .query_one("SELECT secret, secret_sealed FROM webhook_endpoints WHERE id = $1", &[&id])
        .await
        .unwrap();
    let (left, sealed): (Option<String>, Option<Vec<u8>>) = (row.get(0), row.get(1));
    assert_eq!(left, None, "no longer in clear");
    let sealed = sealed.expect("sealed");
    assert!(!sealed.windows(clear.len()).any(|w| w == clear.as_bytes()));

    // The running worker (polling every 100 ms) sends with it, signed as before.
    queue(&db, "l", id).await;
    let sent = support::eventually(Duration::from_secs(20), || async {
        let requests = receiver.requests();
        (!requests.is_empty()).then_some(requests)
    })
    .await
    .expect("delivered");
    assert!(sent[0].signed_by(clear));
    stop.cancel();
    worker.join().await.expect("join");
}
