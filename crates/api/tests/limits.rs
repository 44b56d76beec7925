//! What a slow, guessing or greedy client can cost the API, over real sockets on loopback:
//! slow bodies hold no database connection, wrong keys never reach the tenant pool and are
//! soon answered 429, each key and each address has its rate, a revoked key stops within the
//! key cache's TTL, and slow headers or bodies are cut off.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{check_http, contract, fixture_with, Contract, Fixture};
use dampwatch_api::{revoke_api_key, spawn_server, ApiConfig, ServerOptions, Transport};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

/// The fixture's router served on a loopback port, the way `dampwatch_api::serve` serves it.
struct Served {
    f: Fixture,
    addr: SocketAddr,
    stop: CancellationToken,
    /// The document the router serves: every answer is checked against it.
    contract: std::sync::Arc<Contract>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn served(config: ApiConfig) -> Served {
    // Plain HTTP: what these tests measure happens after the transport (the HTTPS listener is
    // tested with the collector that serves it).
    let options = ServerOptions::new(Transport::Plain, &config);
    let f = fixture_with(config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    spawn_server(listener, f.app.clone(), options, stop.clone());
    let contract = contract(&f.app).await;
    Served { f, addr, stop, contract }
}

/// A connection from `source` (any address in 127.0.0.0/8 is this machine's).
async fn connect_from(addr: SocketAddr, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).expect("bind the source address");
    socket.connect(addr).await.expect("connect")
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    json: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Parses an answer to `method` and `path`, after checking it against the served document.
fn parse(s: &Served, method: &str, path: &str, text: &str) -> Answer {
    check_http(&s.contract, method, path, text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, head: head.to_owned(), json: serde_json::from_str(body).unwrap_or(Value::Null) }
}

/// One request on its own connection from `source`; the whole answer.
async fn request(
    s: &Served,
    source: &str,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
) -> Answer {
    let mut stream = connect_from(s.addr, source).await;
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    parse(s, method, path, &response)
}

async fn get(s: &Served, path: &str, key: &str) -> Answer {
    request(s, "127.0.0.1", "GET", path, Some(key), "").await
}

/// Polls `check` until it holds, failing after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tenant_connections_in_use(f: &Fixture) -> usize {
    let status = f.state.pool().status();
    status.size - status.available
}

#[tokio::test]
async fn slow_bodies_hold_no_connection_and_do_not_keep_others_waiting() {
    const POOL: usize = 2;
    const SLOW_CLIENTS: usize = 4;
    let config = ApiConfig {
        pool_size: POOL,
        // Long enough that, if the slow requests held connections, the GET below would have to
        // wait for them far beyond its deadline.
        request_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(60),
        ..ApiConfig::default()
    };
    let s = served(config).await;
    let path = format!("/v1/cases/{}/events", s.f.north.case_id);
    let done = CancellationToken::new();
    let mut trickles = Vec::new();
    for _ in 0..SLOW_CLIENTS {
        let mut stream = connect_from(s.addr, "127.0.0.1").await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{{",
            s.f.north.key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let done = done.clone();
        // One byte of whitespace every 100 ms: at most 60 s, and stopped once the test is done.
        trickles.push(tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(100));
            for _ in 0..600 {
                tokio::select! {
                    _ = pace.tick() => {
                        if stream.write_all(b" ").await.is_err() {
                            return;
                        }
                    }
                    () = done.cancelled() => return,
                }
            }
        }));
    }
    let stats = s.f.state.stats();
    eventually(Duration::from_secs(10), "every slow body is being received", || async {
        stats.snapshot().bodies_in_progress == SLOW_CLIENTS as i64
    })
    .await;
    assert_eq!(tenant_connections_in_use(&s.f), 0, "a body being received holds no connection");

    let started = Instant::now();
    let answer = timeout(Duration::from_secs(5), get(&s, "/v1/alerts", &s.f.south.key))
        .await
        .expect("an ordinary request answers promptly while slow bodies trickle in");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        stats.snapshot().bodies_in_progress,
        SLOW_CLIENTS as i64,
        "the slow clients are still sending"
    );
    done.cancel();
    for t in trickles {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408_without_a_connection() {
    let config = ApiConfig { body_timeout: Duration::from_millis(300), ..ApiConfig::default() };
    let s = served(config).await;
    let mut stream = connect_from(s.addr, "127.0.0.1").await;
    let head = format!(
        "POST /v1/cases/{}/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"type\":",
        s.f.north.case_id, s.f.north.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    timeout(Duration::from_secs(10), stream.read_to_string(&mut response))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = parse(&s, "POST", &format!("/v1/cases/{}/events", s.f.north.case_id), &response);
    assert_eq!(answer.status, 408, "{response}");
    assert_eq!(answer.header("content-type"), Some("application/problem+json"));
    assert_eq!(answer.json["type"], "urn:dampwatch:problem:body-timeout");
    assert_eq!(s.f.state.stats().snapshot().body_timeouts, 1);
    assert_eq!(s.f.state.pool().status().size, 0, "the request never took a tenant connection");
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_headers_is_disconnected() {
    let config = ApiConfig { header_read_timeout: Duration::from_millis(300), ..ApiConfig::default() };
    let s = served(config).await;
    let mut stream = connect_from(s.addr, "127.0.0.1").await;
    stream.write_all(b"GET /v1/alerts HTTP/1.1\r\nHost: local").await.unwrap();
    let mut rest = Vec::new();
    let read = timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the server closes a connection whose headers do not arrive");
}

#[tokio::test]
async fn wrong_keys_get_401_then_429_and_never_a_tenant_connection() {
    let mut config = ApiConfig::default();
    config.rate_limits.failed_auth_burst = 5;
    // One attempt back per minute: none comes back during the test.
    config.rate_limits.failed_auth_per_minute = 1;
    let s = served(config).await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        let key = format!("dwk_guess{n:039}");
        let answer = request(&s, "127.0.0.2", "GET", "/v1/alerts", Some(&key), "").await;
        statuses.push(answer.status);
        match answer.status {
            401 => assert!(answer.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer"))),
            429 => {
                let retry: u64 =
                    answer.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
                assert!((1..=60).contains(&retry), "{retry}");
                assert_eq!(answer.header("content-type"), Some("application/problem+json"));
                assert_eq!(answer.json["type"], "urn:dampwatch:problem:rate-limited");
                assert_eq!(answer.json["limit"], "failed_auth");
            }
            other => panic!("{other}: {answer:?}"),
        }
    }
    assert_eq!(statuses, [[401; 5].as_slice(), [429; 7].as_slice()].concat());
    let no_key = request(&s, "127.0.0.2", "GET", "/v1/alerts", None, "").await;
    assert_eq!(no_key.status, 429, "the address is blocked, with or without a key");
    let valid = request(&s, "127.0.0.2", "GET", "/v1/alerts", Some(&s.f.north.key), "").await;
    assert_eq!(valid.status, 429, "even a valid key is not looked up for a blocked address");

    let stats = s.f.state.stats().snapshot();
    // The sixth guess emptied the bucket; after it the address's keys are not looked up.
    assert_eq!(stats.key_lookups, 6, "{stats:?}");
    assert_eq!(stats.invalid_keys, 6);
    assert_eq!(stats.rate_limited_failed_auth, 9);
    assert_eq!(s.f.state.pool().status().size, 0, "no tenant connection was ever opened");
    let metrics = s.f.state.render_metrics();
    assert!(metrics.contains("dampwatch_api_rate_limited_total{limit=\"failed_auth\"} 9"), "{metrics}");
    assert!(metrics.contains("dampwatch_api_unauthenticated_total{reason=\"invalid\"} 6"), "{metrics}");

    let elsewhere = get(&s, "/v1/alerts", &s.f.north.key).await;
    assert_eq!(elsewhere.status, 200, "another address is not affected: {elsewhere:?}");
}

#[tokio::test]
async fn valid_keys_never_spend_the_failed_authentication_bucket() {
    let mut config = ApiConfig { key_cache_ttl: Duration::ZERO, ..ApiConfig::default() };
    config.rate_limits.failed_auth_burst = 1;
    config.rate_limits.failed_auth_per_minute = 1;
    let s = served(config).await;
    // Every request looks its key up (no cache): none of them is a failure.
    for _ in 0..5 {
        assert_eq!(request(&s, "127.0.0.5", "GET", "/v1/sla", Some(&s.f.north.key), "").await.status, 200);
    }
    assert_eq!(s.f.state.stats().snapshot().key_lookups, 5);
    assert_eq!(request(&s, "127.0.0.5", "GET", "/v1/sla", Some("dwk_wrong"), "").await.status, 401);
    assert_eq!(request(&s, "127.0.0.5", "GET", "/v1/sla", Some("dwk_wrong"), "").await.status, 429);
}

#[tokio::test]
async fn each_key_has_its_rate_and_is_told_when_to_retry() {
    let mut config = ApiConfig::default();
    config.rate_limits.key_burst = 3;
    // One request back every ten seconds.
    config.rate_limits.key_per_minute = 6;
    let s = served(config).await;
    for _ in 0..3 {
        assert_eq!(get(&s, "/v1/devices", &s.f.north.key).await.status, 200);
    }
    let limited = get(&s, "/v1/devices", &s.f.north.key).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    let retry: u64 = limited.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(limited.header("content-type"), Some("application/problem+json"));
    assert_eq!(limited.json["status"], 429);
    assert_eq!(limited.json["limit"], "key");
    assert_eq!(limited.json["retry_after"], retry);
    assert!(limited.header("x-content-type-options").is_some(), "security headers as on every response");

    assert_eq!(get(&s, "/v1/devices", &s.f.south.key).await.status, 200, "other keys have their own");
    let doc = request(&s, "127.0.0.1", "GET", "/openapi.json", None, "").await;
    let documented = &doc.json["paths"]["/v1/devices"]["get"]["responses"]["429"];
    assert!(documented["headers"]["Retry-After"].is_object(), "{documented}");
    assert_eq!(s.f.state.stats().snapshot().rate_limited_key, 1);
    assert!(s.f.state.render_metrics().contains("dampwatch_api_rate_limited_total{limit=\"key\"} 1"));
}

#[tokio::test]
async fn each_address_has_its_rate() {
    let mut config = ApiConfig::default();
    config.rate_limits.source_burst = 4;
    config.rate_limits.source_per_minute = 1;
    let s = served(config).await;
    for _ in 0..4 {
        assert_eq!(request(&s, "127.0.0.3", "GET", "/openapi.json", None, "").await.status, 200);
    }
    let limited = request(&s, "127.0.0.3", "GET", "/openapi.json", None, "").await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(limited.json["limit"], "source");
    assert!(limited.header("retry-after").is_some());
    let other = request(&s, "127.0.0.4", "GET", "/openapi.json", None, "").await;
    assert_eq!(other.status, 200, "another address has its own bucket");
}

#[tokio::test]
async fn keys_resolve_from_memory_and_a_revoked_key_stops_within_the_ttl() {
    const TTL: Duration = Duration::from_secs(2);
    let config = ApiConfig { key_cache_ttl: TTL, ..ApiConfig::default() };
    let s = served(config).await;
    let key = dampwatch_api::create_api_key(&s.f.db, "north-homes", "to be revoked").await.unwrap();
    let id: i64 = s.f.db.query_one("SELECT max(id) FROM api_keys", &[]).await.unwrap().get(0);
    let before = s.f.state.stats().snapshot();
    assert_eq!(get(&s, "/v1/devices", &key).await.status, 200);
    assert_eq!(get(&s, "/v1/devices", &key).await.status, 200);
    let after = s.f.state.stats().snapshot();
    assert_eq!(after.key_lookups - before.key_lookups, 1, "looked up once: {after:?}");
    assert!(after.key_cache_hits > before.key_cache_hits, "then remembered: {after:?}");

    revoke_api_key(&s.f.db, id).await.unwrap();
    let revoked_at = Instant::now();
    eventually(TTL + Duration::from_secs(5), "the revoked key is refused", || async {
        get(&s, "/v1/devices", &key).await.status == 401
    })
    .await;
    let took = revoked_at.elapsed();
    assert!(took < TTL + Duration::from_secs(5), "{took:?}");
    // And it stays refused (remembered as invalid now).
    assert_eq!(get(&s, "/v1/devices", &key).await.status, 401);
    assert_eq!(get(&s, "/v1/devices", &s.f.north.key).await.status, 200, "other keys still work");
}
