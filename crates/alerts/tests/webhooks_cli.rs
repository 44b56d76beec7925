//! `dampwatch webhooks`: an operator registers a landlord's endpoint (the secret is shown once),
//! sees its queue, puts dead-lettered webhooks back after fixing the receiver, and sets how a
//! landlord's advisory alerts are sent.

mod support;

use dampwatch_alerts::cli::{run, WebhooksCommand};
use support::Db;

/// Where this process's tests keep the secrets key (made by the first `add`).
fn secrets_key() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir")).path().join("pki/secrets/sealing.key")
}

async fn cli(db: &Db, command: WebhooksCommand) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run(command, &db.client, &secrets_key(), &mut out).await?;
    Ok(String::from_utf8(out).expect("utf8"))
}

/// A webhook that failed every attempt, as the sender leaves it.
async fn dead_letter(db: &Db, landlord: &str, endpoint: i64) -> i64 {
    db.client
        .query_one(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload, state, attempts, dead_at,
                                         last_error)
             VALUES ($1, $2, 'alert.raised', '{}', 'dead', 8, now(), 'HTTP 500')
             RETURNING id",
            &[&landlord, &endpoint],
        )
        .await
        .expect("outbox")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_registers_endpoints_and_requeues_dead_letters() {
    let db = Db::new().await;
    db.landlord("north", "open_on_detection").await;
    db.landlord("south", "open_on_detection").await;

    let add = |landlord: &str, url: &str| WebhooksCommand::Add {
        landlord: landlord.into(),
        url: url.into(),
        description: "repairs system".into(),
        dev_loopback_http: false,
        allowed_networks: Vec::new(),
    };
    // A receiver on this machine over plain http: development only, said explicitly.
    let dev = |landlord: &str, url: &str| match add(landlord, url) {
        WebhooksCommand::Add { landlord, url, description, allowed_networks, .. } => {
            WebhooksCommand::Add { landlord, url, description, dev_loopback_http: true, allowed_networks }
        }
        other => other,
    };
    let out = cli(&db, add("north", "https://hooks.north.example/dampwatch")).await.expect("add");
    let secret = out.lines().next().expect("secret line");
    assert_eq!(secret.len(), 64, "{out}");
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()), "{out}");
    assert!(out.contains("not shown again"), "{out}");
    // At rest only sealed: the table alone holds no secret; with the key it is the one shown.
    let row = db
        .client
        .query_one("SELECT id, secret, secret_sealed FROM webhook_endpoints", &[])
        .await
        .expect("row");
    let (id, clear, sealed): (i64, Option<String>, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(clear, None);
    assert!(!sealed.windows(16).any(|w| w == &secret.as_bytes()[..16]), "no part of it in clear");
    let key = dampwatch_privacy::SecretsKey::open(&secrets_key()).expect("the key the command made");
    let stored = dampwatch_alerts::secrets::StoredSecret::Sealed(sealed);
    let opened = stored.open(Some(&key), "north", id).expect("opens");
    assert_eq!(
        opened.as_slice(),
        secret.as_bytes(),
        "the receiver's secret is the one the sender signs with"
    );
    assert!(stored.open(Some(&key), "south", id).is_err(), "bound to its landlord");
    assert!(stored.open(None, "north", id).is_err(), "nothing without the key");
    let south = cli(&db, dev("south", "http://127.0.0.1:9/hook")).await.expect("add");
    assert_ne!(south.lines().next(), Some(secret), "every endpoint its own secret");

    // Clear refusals.
    let err = cli(&db, add("nobody", "https://x.example/")).await.expect_err("unknown landlord");
    assert!(err.to_string().contains("no landlord \"nobody\""), "{err}");
    let err = cli(&db, add("north", "http://hooks.north.example/")).await.expect_err("plain http");
    assert!(err.to_string().contains("plain http is not allowed: use https"), "{err}");
    let err = cli(&db, add("south", "http://127.0.0.1:9/hook")).await.expect_err("no development flag");
    assert!(err.to_string().contains("plain http is not allowed"), "{err}");
    let err = cli(&db, add("north", "https://169.254.169.254/latest")).await.expect_err("metadata");
    assert!(err.to_string().contains("a cloud metadata address"), "{err}");

    let ids: Vec<i64> = db
        .client
        .query("SELECT id FROM webhook_endpoints ORDER BY id", &[])
        .await
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let north_dead = dead_letter(&db, "north", ids[0]).await;
    dead_letter(&db, "south", ids[1]).await;
    dead_letter(&db, "south", ids[1]).await;

    let list = cli(&db, WebhooksCommand::List { landlord: Some("south".into()) }).await.expect("list");
    assert_eq!(list.lines().count(), 2, "header and south's endpoint: {list}");
    assert!(list.contains("http://127.0.0.1:9/hook") && !list.contains("north"), "{list}");
    let dead = cli(&db, WebhooksCommand::Dead { landlord: None }).await.expect("dead");
    assert!(dead.contains("HTTP 500") && dead.ends_with("3 dead webhook(s)\n"), "{dead}");

    // One by id, then all of one landlord's.
    let one = WebhooksCommand::Requeue { id: Some(north_dead), all: false, landlord: None };
    assert_eq!(cli(&db, one).await.expect("requeue"), "requeued 1 dead webhook(s)\n");
    let south_all = WebhooksCommand::Requeue { id: None, all: true, landlord: Some("south".into()) };
    assert_eq!(cli(&db, south_all).await.expect("requeue"), "requeued 2 dead webhook(s)\n");
    let pending: i64 = db
        .client
        .query_one("SELECT count(*) FROM webhook_outbox WHERE state = 'pending' AND attempts = 0", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(pending, 3, "back in the queue for a fresh series of attempts");

    cli(&db, WebhooksCommand::Disable { id: ids[0] }).await.expect("disable");
    let active: bool = db
        .client
        .query_one("SELECT active FROM webhook_endpoints WHERE id = $1", &[&ids[0]])
        .await
        .expect("row")
        .get(0);
    assert!(!active);
    let err = cli(&db, WebhooksCommand::Disable { id: 999 }).await.expect_err("unknown");
    assert!(err.to_string().contains("no webhook endpoint 999"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sets_how_a_landlords_advisory_alerts_are_sent() {
    use dampwatch_alerts::advisory_delivery::{parse_batch_time, AdvisoryDelivery};
    let db = Db::new().await;
    db.landlord("north", "open_on_detection").await;
    let show = || WebhooksCommand::Advisory { landlord: "north".into(), delivery: None, at: None };
    assert_eq!(cli(&db, show()).await.expect("show"), "landlord north: advisory alerts are sent at once\n");
    let daily = WebhooksCommand::Advisory {
        landlord: "north".into(),
        delivery: Some(AdvisoryDelivery::Daily),
        at: Some(parse_batch_time("07:30").expect("time")),
    };
    let out = cli(&db, daily).await.expect("daily");
    assert!(out.contains("one batch per endpoint a day at 07:30 (Europe/London)"), "{out}");
    assert!(out.contains("alerts with a legal clock are sent at once"), "{out}");
    assert_eq!(cli(&db, show()).await.expect("show"), out, "the choice is kept");
    let err = cli(
        &db,
        WebhooksCommand::Advisory {
            landlord: "nobody".into(),
            delivery: Some(AdvisoryDelivery::Daily),
            at: None,
        },
    )
    .await
    .expect_err("unknown landlord");
    assert!(err.to_string().contains("no landlord \"nobody\""), "{err}");
    // The batch goes out at the next 07:30 in London: the same day before it, the next day after.
    let client = &db.client;
    let due = |at: &str| {
        let at: chrono::DateTime<chrono::Utc> = at.parse().expect("instant");
        async move {
            let due: chrono::DateTime<chrono::Utc> =
                client.query_one("SELECT advisory_batch_due('07:30', $1)", &[&at]).await.expect("due").get(0);
            due.to_rfc3339()
        }
    };
    // Winter (GMT) and summer (BST, UTC+1).
    assert_eq!(due("2026-12-01T06:00:00Z").await, "2026-12-01T07:30:00+00:00");
    assert_eq!(due("2026-12-01T07:30:00Z").await, "2026-12-02T07:30:00+00:00");
    assert_eq!(due("2026-07-01T06:00:00Z").await, "2026-07-01T06:30:00+00:00");
    assert_eq!(due("2026-07-01T06:45:00Z").await, "2026-07-02T06:30:00+00:00");
}
