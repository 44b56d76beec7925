//! Where webhooks may go. A URL is parsed and checked by rule (https, no user name, plain http
//! only to loopback in development); at every delivery the receiver's name is resolved, every
//! address checked, and only a checked address connected to; a refusal is a counted failure.
//! A receiver's error body never reaches the landlord's delivery log.

mod support;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dampwatch_alerts::address_policy::{AddressClass, AddressPolicy};
use dampwatch_alerts::cli::{run, WebhooksCommand};
use dampwatch_alerts::resolve::{Resolve, Resolving};
use dampwatch_alerts::webhook_url::{check_url, UrlRefusal};
use dampwatch_alerts::{AlertsConfig, Deliverer, FailureReason, WebhookStats};
use support::receiver::Receiver;
use support::{fast_config, Db};

/// What a careless receiver might put in an error page.
const SECRET_LOOKING_BODY: &str = "Traceback: db password=hunter2-internal-only token sk_live_51Hsecret";

/// A TCP listener on 127.0.0.1 that counts the connections it accepts.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, accepted)
}

/// Names that resolve to the addresses a test chooses; any other name does not resolve.
struct Names(HashMap<&'static str, Vec<IpAddr>>);

impl Names {
    fn new(entries: &[(&'static str, &[&str])]) -> Arc<Names> {
        Arc::new(Names(
            entries
                .iter()
                .map(|(name, ips)| (*name, ips.iter().map(|ip| ip.parse().expect("ip")).collect()))
                .collect(),
        ))
    }
}

impl Resolve for Names {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        let found =
            self.0.get(host).cloned().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"));
        Box::pin(async move { found })
    }
}

/// A queued webhook for `endpoint`, as the hazard worker writes it.
async fn queue(db: &Db, landlord: &str, endpoint: i64) -> i64 {
    db.client
        .query_one(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload)
             VALUES ($1, $2, 'alert.raised', $3) RETURNING id",
            &[&landlord, &endpoint, &support::bare_body(landlord)],
        )
        .await
        .expect("outbox")
        .get(0)
}

/// The logged error of the attempt on outbox row `id`.
async fn logged_error(db: &Db, id: i64) -> (Option<i32>, String) {
    let row = db
        .client
        .query_one("SELECT status_code, error FROM webhook_deliveries WHERE outbox_id = $1", &[&id])
        .await
        .expect("log");
    (row.get(0), row.get(1))
}

/// A configuration without the development flag, whose failed attempts wait an hour (so one
/// test's rounds do not take an earlier row again).
fn production_config() -> AlertsConfig {
    let mut c = fast_config();
    c.webhooks.dev_loopback_http = false;
    c.webhooks.backoff_initial = Duration::from_secs(3600);
    c.webhooks.backoff_max = Duration::from_secs(3600);
    c
}

#[test]
fn webhook_urls_are_accepted_only_as_the_rules_say() {
    use AddressClass::*;
    use UrlRefusal::*;
    let public = AddressPolicy::default();
    let dev = AddressPolicy { allow_loopback: true, ..AddressPolicy::default() };
    let opened = AddressPolicy {
        allowed_networks: vec!["10.20.0.0/16".parse().expect("net"), "169.254.0.0/16".parse().expect("net")],
        ..AddressPolicy::default()
    };
    let table: &[(&str, &AddressPolicy, Result<&str, UrlRefusal>)] = &[
        ("https://hooks.example.org/x", &public, Ok("https://hooks.example.org/x")),
        ("HTTPS://Hooks.Example.ORG:443/x#top", &public, Ok("https://hooks.example.org/x")),
        // The two prefix-check bypasses: a user name, and a domain that starts like an address.
        ("http://localhost@evil.example/", &public, Err(Userinfo)),
        ("http://localhost@evil.example/", &dev, Err(Userinfo)),
        ("https://localhost@evil.example/", &public, Err(Userinfo)),
        ("http://127.0.0.1.evil.example/", &public, Err(PlainHttp)),
        ("http://127.0.0.1.evil.example/", &dev, Err(PlainHttpBeyondLoopback)),
        ("https://user:pass@hooks.example.org/", &public, Err(Userinfo)),
        // Plain http: only with the development flag, and only to loopback.
        ("http://hooks.example.org/x", &public, Err(PlainHttp)),
        ("http://hooks.example.org/x", &dev, Err(PlainHttpBeyondLoopback)),
        ("http://127.0.0.1:18080/hook", &public, Err(PlainHttp)),
        ("http://127.0.0.1:18080/hook", &dev, Ok("http://127.0.0.1:18080/hook")),
        ("http://[::1]:18080/hook", &dev, Ok("http://[::1]:18080/hook")),
        ("http://localhost:18080/hook", &dev, Ok("http://localhost:18080/hook")),
        ("http://10.0.0.5/hook", &dev, Err(PlainHttpBeyondLoopback)),
        // Literal addresses, in every spelling a browser accepts.
        ("https://127.0.0.1/hook", &public, Err(Address(Loopback))),
        ("https://2130706433/hook", &public, Err(Address(Loopback))),
        ("https://0x7f.1/hook", &public, Err(Address(Loopback))),
        ("https://[::ffff:127.0.0.1]/hook", &public, Err(Address(Loopback))),
        ("https://169.254.169.254/latest/meta-data/", &public, Err(Address(Metadata))),
        ("https://169.254.169.254/latest/meta-data/", &opened, Err(Address(Metadata))),
        ("https://[::ffff:a9fe:a9fe]/", &public, Err(Address(Metadata))),
        ("https://169.254.10.1/", &public, Err(Address(LinkLocal))),
        ("https://169.254.10.1/", &opened, Ok("https://169.254.10.1/")),
        ("https://10.20.0.7/hook", &public, Err(Address(Private))),
        ("https://10.20.0.7/hook", &opened, Ok("https://10.20.0.7/hook")),
        ("https://10.21.0.7/hook", &opened, Err(Address(Private))),
        ("https://192.168.1.1/", &public, Err(Address(Private))),
        ("https://[fd00::1]/", &public, Err(Address(Private))),
        ("https://100.64.0.1/", &public, Err(Address(SharedAddressSpace))),
        ("https://[fe80::1]/", &public, Err(Address(LinkLocal))),
        ("https://0.0.0.0/", &public, Err(Address(Unspecified))),
        ("https://224.0.0.1/", &public, Err(Address(Multicast))),
        ("https://255.255.255.255/", &public, Err(Address(Broadcast))),
        ("https://192.0.2.10/", &public, Err(Address(Documentation))),
        ("https://198.18.0.1/", &public, Err(Address(Benchmarking))),
        ("https://93.184.215.14/hook", &public, Ok("https://93.184.215.14/hook")),
        // Not http(s), or not a URL.
        ("ftp://hooks.example.org/", &public, Err(Scheme)),
        ("file:///etc/passwd", &dev, Err(Scheme)),
        ("gopher://127.0.0.1:6379/_INFO", &dev, Err(Scheme)),
        ("hooks.example.org/x", &public, Err(Unparsable(url::ParseError::RelativeUrlWithoutBase))),
        ("https://", &public, Err(Unparsable(url::ParseError::EmptyHost))),
    ];
    for (raw, policy, expected) in table {
        let got = check_url(raw, policy);
        assert_eq!(
            got.as_ref().map(url::Url::as_str),
            expected.as_ref().map(|s| *s),
            "{raw} with {policy:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_resolves_to_loopback_is_refused_at_delivery_and_counted_before_any_connection() {
    let db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let (port, accepted) = counting_listener().await;
    // Written straight into the table (or registered under older rules): the sender checks again.
    let endpoint = db.endpoint("l", &format!("https://localhost:{port}/hook"), "secret-secret-secret").await;
    let id = queue(&db, "l", endpoint).await;

    let round = Deliverer::new(&production_config().webhooks)
        .expect("deliverer")
        .deliver_due(&db.client)
        .await
        .expect("round");
    assert_eq!((round.claimed, round.retrying), (1, 1), "{round:?}");
    assert_eq!(round.failures.get(FailureReason::RefusedAddress), 1, "{round:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing connected to the listener on loopback");
    let (status, error) = logged_error(&db, id).await;
    assert_eq!(status, None);
    assert_eq!(error, "refused: the host is a loopback address");
    // Counted for monitoring, under a label of a fixed set.
    let stats = WebhookStats::new();
    stats.add(&round);
    assert_eq!(stats.failed(FailureReason::RefusedAddress), 1);
    assert!(stats.render().contains("dampwatch_webhooks_failed_total{reason=\"refused_address\"} 1\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resolved_address_is_checked_and_only_a_checked_one_is_connected() {
    let db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let (port, accepted) = counting_listener().await;
    let names = Names::new(&[
        // One allowed address and one private: DNS answers can be chosen by the landlord.
        ("rebind.example", &["127.0.0.1", "10.0.0.1"]),
        ("metadata.example", &["169.254.169.254"]),
        ("inside.example", &["127.0.0.1"]),
    ]);
    let mut config = production_config();
    config.webhooks.allowed_networks =
        vec!["127.0.0.1/32".parse().expect("net"), "169.254.0.0/16".parse().expect("net")];
    let deliverer = Deliverer::with_resolver(&config.webhooks, names).expect("deliverer");

    let attempt = |host: &'static str| {
        let db = &db;
        let deliverer = &deliverer;
        async move {
            let endpoint =
                db.endpoint("l", &format!("https://{host}:{port}/hook"), "secret-secret-secret").await;
            let id = queue(db, "l", endpoint).await;
            let round = deliverer.deliver_due(&db.client).await.expect("round");
            assert_eq!(round.claimed, 1, "{host}: {round:?}");
            (round, logged_error(db, id).await.1)
        }
    };
    let (round, error) = attempt("rebind.example").await;
    assert_eq!(round.failures.get(FailureReason::RefusedAddress), 1, "{round:?}");
    assert_eq!(error, "refused: the host is a private address");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "not even the allowed address is tried");

    let (round, error) = attempt("metadata.example").await;
    assert_eq!(round.failures.get(FailureReason::RefusedAddress), 1, "{round:?}");
    assert_eq!(error, "refused: the host is a cloud metadata address");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "an opened network never opens the metadata service");

    // An opened network is reached, at the address the check saw (the listener is plain TCP,
    // so the TLS handshake then fails).
    let (round, error) = attempt("inside.example").await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "connected to the checked address");
    assert_eq!(round.failures.get(FailureReason::Tls), 1, "{round:?}: {error}");
    assert_eq!(error, "the TLS handshake with the receiver failed");

    // A name the resolver does not know is a DNS failure, not a lookup elsewhere.
    let (round, error) = attempt("unknown.example").await;
    assert_eq!(round.failures.get(FailureReason::Dns), 1, "{round:?}");
    assert_eq!(error, "the receiver's host name did not resolve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_at_delivery_without_the_development_flag() {
    let db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let receiver = Receiver::start(0).await;
    let endpoint = db.endpoint("l", &receiver.url, "secret-secret-secret").await;
    let id = queue(&db, "l", endpoint).await;

    let round = Deliverer::new(&production_config().webhooks)
        .expect("deliverer")
        .deliver_due(&db.client)
        .await
        .expect("round");
    assert_eq!(round.failures.get(FailureReason::RefusedUrl), 1, "{round:?}");
    assert!(receiver.requests().is_empty(), "no request reached the receiver");
    let (_, error) = logged_error(&db, id).await;
    assert!(error.starts_with("refused: plain http is not allowed"), "{error}");

    // With the flag, the same receiver is reached.
    let mut config = fast_config();
    config.webhooks.dev_loopback_http = true;
    db.client.execute("UPDATE webhook_outbox SET next_attempt_at = now()", &[]).await.expect("due");
    let round =
        Deliverer::new(&config.webhooks).expect("deliverer").deliver_due(&db.client).await.expect("round");
    assert_eq!(round.delivered, 1, "{round:?}");
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receivers_error_body_never_reaches_the_delivery_log() {
    let db = Db::new().await;
    db.landlord("l", "open_on_triage").await;
    let receiver = Receiver::failing_with_body(SECRET_LOOKING_BODY).await;
    let endpoint = db.endpoint("l", &receiver.url, "secret-secret-secret").await;
    queue(&db, "l", endpoint).await;
    let mut config = fast_config();
    config.webhooks.dev_loopback_http = true;
    config.webhooks.max_attempts = 1;

    let round =
        Deliverer::new(&config.webhooks).expect("deliverer").deliver_due(&db.client).await.expect("round");
    assert_eq!((round.claimed, round.dead), (1, 1), "{round:?}");
    assert_eq!(round.failures.get(FailureReason::HttpStatus), 1, "{round:?}");
    assert_eq!(receiver.requests().len(), 1, "the receiver was reached and answered 500");
    let row = db
        .client
        .query_one(
            "SELECT d.status_code, d.error, o.last_error
             FROM webhook_deliveries d JOIN webhook_outbox o ON o.id = d.outbox_id",
            &[],
        )
        .await
        .expect("log");
    assert_eq!(row.get::<_, Option<i32>>(0), Some(500));
    let (error, last_error): (String, String) = (row.get(1), row.get(2));
    assert_eq!(error, "HTTP 500 from the receiver");
    assert_eq!(last_error, error);
    let mut out = Vec::new();
    let no_key = std::path::Path::new("listing dead letters needs no secrets key");
    run(WebhooksCommand::Dead { landlord: None }, &db.client, no_key, &mut out).await.expect("dead");
    let dead = String::from_utf8(out).expect("utf8");
    assert!(dead.contains("HTTP 500 from the receiver"), "{dead}");
    for leak in ["hunter2", "sk_live", "Traceback"] {
        assert!(!dead.contains(leak), "{dead}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_rewrites_response_bodies_that_older_versions_logged() {
    let pg = tokio::task::spawn_blocking(dampwatch_pg::PrivatePostgres::temporary)
        .await
        .expect("join")
        .expect("postgres");
    let mut client = support::connect(&pg.url()).await;
    dampwatch_store::migrate_to(&mut client, 101).await.expect("older schema");
    // What an older sender logged: the start of the receiver's error page, and a connection error.
    client
        .batch_execute(&format!(
            "INSERT INTO landlords (id, name) VALUES ('l', 'l');
             INSERT INTO webhook_endpoints (id, landlord_id, url, secret)
                 VALUES (1, 'l', 'https://hooks.example.org/x', 'secret-secret-secret');
             INSERT INTO webhook_outbox (id, landlord_id, endpoint_id, event_type, payload, state, last_error)
                 VALUES (1, 'l', 1, 'alert.raised', '{{}}', 'dead', 'HTTP 500: {SECRET_LOOKING_BODY}'),
                        (2, 'l', 1, 'alert.raised', '{{}}', 'pending',
                         'client error (Connect): tcp connect error: Connection refused (os error 111)');
             INSERT INTO webhook_deliveries (outbox_id, landlord_id, endpoint_id, attempt, started_at,
                                             duration_ms, status_code, error, outcome)
                 VALUES (1, 'l', 1, 1, now(), 5, 500, 'HTTP 500: {SECRET_LOOKING_BODY}', 'dead'),
                        (2, 'l', 1, 1, now(), 5, NULL, 'client error (Connect): tcp connect error', 'failed'),
                        (2, 'l', 1, 2, now(), 5, NULL, 'the endpoint is deactivated', 'failed');"
        ))
        .await
        .expect("old log");

    dampwatch_store::migrate(&mut client).await.expect("upgrade");
    let errors: Vec<String> = client
        .query("SELECT error FROM webhook_deliveries ORDER BY outbox_id, attempt", &[])
        .await
        .expect("log")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        errors,
        ["HTTP 500 from the receiver", "could not reach the receiver", "the endpoint is deactivated"]
    );
    let last: Vec<String> = client
        .query("SELECT last_error FROM webhook_outbox ORDER BY id", &[])
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(last, ["HTTP 500 from the receiver", "could not reach the receiver"]);
}
