//! Test support: one private PostgreSQL cluster per test binary, a database per test owned by
//! a non-superuser service role (as in production: the role that runs the migrations owns the
//! tables), landlords with data inserted directly, and requests through the router.
//!
//! Every answer a test gets, through the router ([`send`]) or over a socket ([`check_http`]),
//! is checked against the OpenAPI document the router serves ([`Contract`]): its status must be
//! documented for the operation and its body must match the documented schema, or the test
//! fails.

#![allow(dead_code)]

pub mod people;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use dampwatch_alerts::cases::{
    append_event, open_case, CasePolicy, NewCase, POTENTIAL_ISSUE_DETECTED, SYSTEM_ACTOR,
};
use dampwatch_alerts::room::RoomRef;
use dampwatch_api::{create_api_key, router, ApiConfig, ApiState};
use dampwatch_clock::case::TriageCategory;
use dampwatch_clock::{AwarenessPolicy, CaseEvent, Clock, ClockConfig, Hazard};
use dampwatch_pg::PrivatePostgres;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::{Client, NoTls};
use tower::ServiceExt;

/// The login role the service runs as: owns the database and its tables, no superuser.
pub const SERVICE_ROLE: &str = "dampwatch_service";
/// Its password: every connection to a private cluster needs one (the cluster is this test's).
pub const SERVICE_PASSWORD: &str = "service-role-password";
/// The login the API connects as (migration 0460): owns nothing, may only switch to the
/// tenant role and the evidence reader.
pub const API_LOGIN: &str = dampwatch_store::roles::API_LOGIN;
pub const API_PASSWORD: &str = "api-login-password";

static CLUSTER: OnceCell<PrivatePostgres> = OnceCell::const_new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);
/// Roles are per cluster: migrations of several test databases are run one at a time.
static MIGRATING: Mutex<()> = Mutex::const_new(());

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn cluster() -> &'static PrivatePostgres {
    CLUSTER
        .get_or_init(|| async {
            let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
                .await
                .expect("join");
            let admin = connect(&pg.url()).await;
            admin
                .batch_execute(&format!(
                    "CREATE ROLE {SERVICE_ROLE} LOGIN CREATEROLE NOSUPERUSER PASSWORD '{SERVICE_PASSWORD}'"
                ))
                .await
                .expect("create the service role");
            pg
        })
        .await
}

impl Fixture {
    /// The TOTP secret `email` is enrolling, as stored: sealed (never in clear), opened with the
    /// state's key.
    pub async fn pending_totp(&self, email: &str) -> Vec<u8> {
        let row = self
            .db
            .query_one(
                "SELECT id, landlord_id, totp_pending, totp_pending_sealed FROM users WHERE email = $1",
                &[&email],
            )
            .await
            .expect("user");
        let clear: Option<Vec<u8>> = row.get(2);
        assert_eq!(clear, None, "a pending TOTP secret is stored sealed only");
        let landlord: Option<String> = row.get(1);
        dampwatch_accounts::totp_secret::open(
            Some(&self.secrets_key),
            landlord.as_deref(),
            row.get(0),
            dampwatch_accounts::totp_secret::Slot::Pending,
            None,
            row.get(3),
        )
        .expect("opens with the state's key")
        .expect("an enrolment is pending")
        .to_vec()
    }
}

pub fn clock() -> Clock {
    Clock::from_config(&ClockConfig::default(), None).expect("clock")
}

/// What was inserted for one landlord.
#[derive(Debug, Clone)]
pub struct Landlord {
    pub id: String,
    pub key: String,
    pub room_id: i64,
    pub device_id: String,
    /// An open damp alert holding `case_id` (opened at detection, awaiting triage).
    pub alert_with_case: i64,
    pub case_id: i64,
    /// An open damp alert waiting for triage (no case yet).
    pub alert_awaiting_triage: i64,
    /// A cleared "offline" alert (no HHSRS hazard).
    pub alert_offline: i64,
    /// A significant case triaged long ago whose investigation is overdue.
    pub overdue_case_id: i64,
    pub endpoint_id: i64,
    pub dead_message_id: i64,
    pub delivered_message_id: i64,
}

pub struct Fixture {
    /// The database as the service role, which ran the migrations and owns the tables.
    pub db_url: String,
    /// The same database as the API's login, which the fixture's state connects as.
    pub api_url: String,
    /// The same database as the cluster's superuser.
    pub superuser_url: String,
    /// Connected as the service role.
    pub db: Client,
    pub state: ApiState,
    pub app: Router,
    pub north: Landlord,
    pub south: Landlord,
    /// A landlord with a key and no data at all.
    pub empty: Landlord,
    /// The key the state seals people's TOTP secrets and the landlords' case text keys with.
    pub secrets_key: std::sync::Arc<dampwatch_privacy::SecretsKey>,
}

pub async fn fixture() -> Fixture {
    fixture_with(ApiConfig::default()).await
}

pub async fn fixture_with(config: ApiConfig) -> Fixture {
    let pg = cluster().await;
    let name = format!("api_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let admin = connect(&pg.url()).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name} OWNER {SERVICE_ROLE}"))
        .await
        .expect("create database");
    let db_url = format!("postgres://{SERVICE_ROLE}:{SERVICE_PASSWORD}@127.0.0.1:{}/{name}", pg.port());
    let mut db = connect(&db_url).await;
    {
        let _one_at_a_time = MIGRATING.lock().await;
        dampwatch_store::migrate(&mut db).await.expect("migrate");
        admin
            .batch_execute(&format!("ALTER ROLE {API_LOGIN} LOGIN PASSWORD '{API_PASSWORD}'"))
            .await
            .expect("let the API's role log in");
    }
    let api_url = format!("postgres://{API_LOGIN}:{API_PASSWORD}@127.0.0.1:{}/{name}", pg.port());
    let clock = clock();
    let north = seed(&mut db, &clock, "north-homes", "open_on_triage", 1).await;
    let south = seed(&mut db, &clock, "south-homes", "open_on_detection", 2).await;
    db.execute("INSERT INTO landlords (id, name) VALUES ('empty-homes', 'Empty Homes')", &[]).await.unwrap();
    let empty_key = create_api_key(&db, "empty-homes", "tests").await.unwrap();
    let empty = Landlord { id: "empty-homes".into(), key: empty_key, ..north.clone() };
    let secrets_key = {
        let dir = tempfile::tempdir().expect("tempdir");
        std::sync::Arc::new(
            dampwatch_privacy::SecretsKey::open_or_create(&dir.path().join("sealing.key")).expect("key"),
        )
    };
    let state =
        ApiState::connect(&api_url, clock, config).expect("state").with_secrets_key(secrets_key.clone());
    let app = router(state.clone());
    let superuser_url = pg.url_for(&name);
    Fixture { db_url, api_url, superuser_url, db, state, app, north, south, empty, secrets_key }
}

async fn insert_alert(
    tx: &tokio_postgres::Transaction<'_>,
    landlord: &str,
    room: &RoomRef,
    hazard: &str,
    cleared: bool,
    triage: &str,
    raised_at: DateTime<Utc>,
) -> i64 {
    // The damp indicator points at the HHSRS damp hazard; "offline" at none.
    let hhsrs = (hazard == "damp_and_mould_growth").then_some("damp_and_mould_growth");
    let status = if cleared { "cleared" } else { "open" };
    let cleared_at = cleared.then_some(raised_at + Duration::hours(1));
    tx.query_one(
        "INSERT INTO alerts (landlord_id, room_key, room_id, device_id, hazard, hhsrs_hazard, status, severity, since,
             raised_at, updated_at, cleared_at, rule_ids, ruleset_version, summary, explanation, triage)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'amber', $8, $8, $8, $9, ARRAY['rh_70_24h'], 'rules-test-1',
                 'Relative humidity above 70 % for 24 hours', $10, $11)
         RETURNING id",
        &[
            &landlord,
            &room.key(),
            &room.room_id(),
            &room.device_id(),
            &hazard,
            &hhsrs,
            &status,
            &raised_at,
            &cleared_at,
            &json!({"findings": [{"rule": "rh_70_24h", "version": 1, "values": {"rh_pct": 78.5}}]}),
            &triage,
        ],
    )
    .await
    .expect("insert alert")
    .get(0)
}

async fn new_case(
    tx: &tokio_postgres::Transaction<'_>,
    clock: &Clock,
    landlord: &str,
    room: &RoomRef,
    alert_id: i64,
    noticed_at: DateTime<Utc>,
) -> i64 {
    let new = NewCase {
        landlord_id: landlord,
        room,
        hazard: Hazard::DampAndMouldGrowth,
        noticed_at,
        awareness_policy: AwarenessPolicy::AtDetection,
        case_policy: CasePolicy::OpenOnDetection,
        alert_id: Some(alert_id),
        actor: SYSTEM_ACTOR,
        kind: POTENTIAL_ISSUE_DETECTED,
        record: json!({"type": POTENTIAL_ISSUE_DETECTED, "alert_id": alert_id}),
        evidence: json!({}),
    };
    let id = open_case(tx, clock, &new, noticed_at).await.expect("open case");
    tx.execute("UPDATE alerts SET triage = 'case_opened', case_id = $2 WHERE id = $1", &[&alert_id, &id])
        .await
        .unwrap();
    id
}

/// A webhook message in `state` (delivered or dead) after two attempts.
async fn insert_message(
    tx: &tokio_postgres::Transaction<'_>,
    landlord: &str,
    endpoint_id: i64,
    alert_id: i64,
    state: &str,
) -> i64 {
    let id: i64 = tx
        .query_one(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, alert_id, payload, state, attempts,
                 delivered_at, dead_at, last_error)
             VALUES ($1, $2, 'alert.raised', $3, '{}', $4, 2,
                     CASE WHEN $4 = 'delivered' THEN now() END, CASE WHEN $4 = 'dead' THEN now() END,
                     CASE WHEN $4 = 'dead' THEN 'HTTP 500' END)
             RETURNING id",
            &[&landlord, &endpoint_id, &alert_id, &state],
        )
        .await
        .unwrap()
        .get(0);
    for attempt in 1..=2i32 {
        let outcome = match (state, attempt) {
            ("dead", 2) => "dead",
            ("delivered", 2) => "delivered",
            _ => "failed",
        };
        let code: i32 = if outcome == "delivered" { 204 } else { 500 };
        tx.execute(
            "INSERT INTO webhook_deliveries (outbox_id, landlord_id, endpoint_id, attempt, started_at, duration_ms,
                 status_code, outcome)
             VALUES ($1, $2, $3, $4, now(), 12, $5, $6)",
            &[&id, &landlord, &endpoint_id, &attempt, &code, &outcome],
        )
        .await
        .unwrap();
    }
    id
}

/// One landlord's registry, alerts, cases and webhook log; `n` keeps references distinct.
async fn seed(db: &mut Client, clock: &Clock, landlord: &str, policy: &str, n: i64) -> Landlord {
    let now = Utc::now();
    let tx = db.transaction().await.unwrap();
    tx.execute("INSERT INTO landlords (id, name, case_policy) VALUES ($1, $1, $2)", &[&landlord, &policy])
        .await
        .unwrap();
    let dwelling: i64 = tx
        .query_one(
            "INSERT INTO dwellings (landlord_id, reference, address) VALUES ($1, $2, $3) RETURNING id",
            &[&landlord, &format!("D-{n}"), &format!("{n} Mill Lane")],
        )
        .await
        .unwrap()
        .get(0);
    let room_id: i64 = tx
        .query_one("INSERT INTO rooms (dwelling_id, name) VALUES ($1, 'bedroom') RETURNING id", &[&dwelling])
        .await
        .unwrap()
        .get(0);
    let device_id = format!("{landlord}-dev-1");
    let roomless = format!("{landlord}-dev-2");
    for (id, room) in [(&device_id, Some(room_id)), (&roomless, None)] {
        tx.execute(
            "INSERT INTO devices (id, landlord_id, room_id, signing_public_key, cert_serial) VALUES ($1, $2, $3, $4, '0a')",
            &[id, &landlord, &room, &vec![7u8; 32]],
        )
        .await
        .unwrap();
    }
    let room = RoomRef::Room(room_id);
    let device_room = RoomRef::Device(roomless.clone());
    // The hazard worker's record of the room, with its risk level.
    tx.execute(
        "INSERT INTO room_hazard_state (room_key, landlord_id, room_id, state, ruleset_version, evaluated_at,
             last_reading_at, open_hazards, risk_level, risk)
         VALUES ($1, $2, $3, '{}', 'rules-test-1', $4, $4, ARRAY['damp_and_mould_growth'], 'high', $5)",
        &[
            &room.key(),
            &landlord,
            &room_id,
            &now,
            &json!({"level": "high", "model_version": "dampwatch-room-risk/1", "mould_index": 1.2,
                    "reasons": ["open amber damp_and_mould_growth alert (with a legal clock)"]}),
        ],
    )
    .await
    .unwrap();
    let detected = now - Duration::hours(2);
    let alert_with_case =
        insert_alert(&tx, landlord, &room, "damp_and_mould_growth", false, "awaiting_triage", detected).await;
    let case_id = new_case(&tx, clock, landlord, &room, alert_with_case, detected).await;
    let alert_awaiting_triage = insert_alert(
        &tx,
        landlord,
        &device_room,
        "damp_and_mould_growth",
        false,
        "awaiting_triage",
        now - Duration::hours(1),
    )
    .await;
    let alert_offline = insert_alert(
        &tx,
        landlord,
        &device_room,
        "device_offline",
        true,
        "not_applicable",
        now - Duration::days(3),
    )
    .await;
    // An old significant case: triaged 30 days ago, never investigated: the 10-working-day
    // investigation is overdue.
    let long_ago = now - Duration::days(31);
    let old_alert =
        insert_alert(&tx, landlord, &room, "damp_and_mould_growth", true, "awaiting_triage", long_ago).await;
    let overdue_case_id = new_case(&tx, clock, landlord, &room, old_alert, long_ago).await;
    let triage = CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None };
    append_event(
        &tx,
        clock,
        overdue_case_id,
        None,
        "user:officer",
        long_ago + Duration::hours(1),
        &triage,
        &json!({}),
        now,
    )
    .await
    .expect("triage old case");
    let endpoint_id: i64 = tx
        .query_one(
            "INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ($1, $2, $3) RETURNING id",
            &[
                &landlord,
                &format!("https://{landlord}.example/hooks"),
                &format!("secret-of-{landlord}-0123456789"),
            ],
        )
        .await
        .unwrap()
        .get(0);
    let delivered_message_id = insert_message(&tx, landlord, endpoint_id, alert_with_case, "delivered").await;
    let dead_message_id = insert_message(&tx, landlord, endpoint_id, alert_with_case, "dead").await;
    tx.commit().await.unwrap();
    let key = create_api_key(&*db, landlord, "tests").await.unwrap();
    Landlord {
        id: landlord.to_owned(),
        key,
        room_id,
        device_id,
        alert_with_case,
        case_id,
        alert_awaiting_triage,
        alert_offline,
        overdue_case_id,
        endpoint_id,
        dead_message_id,
        delivered_message_id,
    }
}

/// A response: status, headers, body as JSON (Null when empty or not JSON) and as text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

pub fn request(method: Method, uri: &str, key: Option<&str>, body: Option<&Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    match body {
        Some(b) => {
            builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())).unwrap()
        }
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// One request through the router, without any check.
pub async fn raw(app: &Router, req: Request<Body>) -> Reply {
    let response = app.clone().oneshot(req).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, json, text }
}

/// One request through the router; the answer is checked against the served document.
pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let reply = raw(app, req).await;
    let content_type = reply.header("content-type").to_owned();
    contract(app).await.check(
        method.as_str(),
        &uri.to_string(),
        reply.status.as_u16(),
        &content_type,
        &reply.text,
    );
    reply
}

/// The OpenAPI document a router serves, ready to check answers against.
pub struct Contract {
    pub doc: Value,
    /// Compiled schemas by their place in the document.
    validators: StdMutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// Contracts by document text: routers of the same configuration serve the same document.
static CONTRACTS: StdMutex<Vec<(String, Arc<Contract>)>> = StdMutex::new(Vec::new());

/// The document `app` serves at `/openapi.json`.
pub async fn contract(app: &Router) -> Arc<Contract> {
    let served = raw(app, request(Method::GET, "/openapi.json", None, None)).await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text);
    let mut known = CONTRACTS.lock().unwrap();
    if let Some((_, c)) = known.iter().find(|(text, _)| *text == served.text) {
        return c.clone();
    }
    let contract = Arc::new(Contract { doc: served.json.clone(), validators: StdMutex::new(HashMap::new()) });
    known.push((served.text, contract.clone()));
    contract
}

/// A JSON pointer token.
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    /// The path template of the document that `path` fits, and its item.
    fn path_item(&self, path: &str) -> Option<(&String, &Value)> {
        let actual: Vec<&str> = path.split('/').collect();
        self.doc["paths"].as_object()?.iter().find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == actual.len()
                && parts.iter().zip(&actual).all(|(t, a)| (t.starts_with('{') && !a.is_empty()) || t == a)
        })
    }

    /// Validates `body` against the schema at `pointer` (a JSON pointer into the document).
    fn validate(&self, pointer: &str, body: &Value) -> Result<(), String> {
        let validator = {
            let mut validators = self.validators.lock().unwrap();
            match validators.get(pointer) {
                Some(v) => v.clone(),
                None => {
                    let mut schema =
                        self.doc.pointer(pointer).cloned().ok_or(format!("no schema at {pointer}"))?;
                    // The schema with the document's components beside it, so its
                    // `#/components/schemas/...` references resolve.
                    if let Value::Object(map) = &mut schema {
                        map.insert("components".into(), self.doc["components"].clone());
                    }
                    let compiled = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .build(&schema)
                        .map_err(|e| format!("the schema at {pointer} does not compile: {e}"))?;
                    let compiled = Arc::new(compiled);
                    validators.insert(pointer.to_owned(), compiled.clone());
                    compiled
                }
            }
        };
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("{e} (at {})", e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Checks `value` against the document's component schema `name`; panics on a mismatch.
    pub fn check_component(&self, name: &str, value: &Value) {
        if let Err(mismatch) = self.validate(&format!("/components/schemas/{}", token(name)), value) {
            panic!("not a {name}: {mismatch}\n{value}");
        }
    }

    /// Checks one answer: the operation that serves `method` and `uri` documents `status`, and
    /// the body matches the schema documented for it and its media type. A request no
    /// operation serves (no such path, or not that method) must be answered 404 or 405 with a
    /// problem document. Panics, naming what does not match, otherwise.
    pub fn check(&self, method: &str, uri: &str, status: u16, content_type: &str, body: &str) {
        if let Err(mismatch) = self.mismatch(method, uri, status, content_type, body) {
            let shown: String = body.chars().take(2000).collect();
            panic!("{method} {uri} answered {status} ({content_type}) against the OpenAPI document: {mismatch}\nbody: {shown}");
        }
    }

    fn mismatch(
        &self,
        method: &str,
        uri: &str,
        status: u16,
        content_type: &str,
        body: &str,
    ) -> Result<(), String> {
        let path = uri.split('?').next().unwrap_or(uri);
        let path = path.strip_prefix("http://localhost").unwrap_or(path);
        let verb = method.to_ascii_lowercase();
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let json: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?
        };
        let Some((template, item)) = self.path_item(path).filter(|(_, item)| item.get(&verb).is_some())
        else {
            if status != 404 && status != 405 {
                return Err("no operation serves this request, yet it was not answered 404 or 405".into());
            }
            if media != "application/problem+json" {
                return Err(format!("an unserved request must get a problem document, not {media:?}"));
            }
            return self.validate("/components/schemas/Problem", &json);
        };
        let responses = &item[&verb]["responses"];
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let key = [code.as_str(), range.as_str(), "default"]
            .into_iter()
            .find(|k| responses.get(*k).is_some())
            .ok_or_else(|| format!("status {status} is not documented for {verb} {template}"))?;
        let content = &responses[key]["content"];
        let Some(media_types) = content.as_object() else {
            return if body.is_empty() { Ok(()) } else { Err(format!("{key} is documented without a body")) };
        };
        if !media_types.contains_key(&media) {
            let documented: Vec<&String> = media_types.keys().collect();
            return Err(format!(
                "media type {media:?} is not documented for {status} (documented: {documented:?})"
            ));
        }
        let pointer = format!(
            "/paths/{}/{verb}/responses/{}/content/{}/schema",
            token(template),
            token(key),
            token(&media)
        );
        self.validate(&pointer, &json)
    }
}

/// Checks a whole HTTP/1.1 answer read from a socket (`text`, head and body) to `method` and
/// `uri` against `contract`.
pub fn check_http(contract: &Contract, method: &str, uri: &str, text: &str) {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)
    } else {
        body.to_owned()
    };
    contract.check(method, uri, status, &header("content-type").unwrap_or_default(), &body);
}

/// The payload of a chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
    }
    out
}

pub async fn get(app: &Router, uri: &str, key: &str) -> Reply {
    send(app, request(Method::GET, uri, Some(key), None)).await
}

pub async fn post(app: &Router, uri: &str, key: &str, body: &Value) -> Reply {
    send(app, request(Method::POST, uri, Some(key), Some(body))).await
}

/// The ids of a page's items.
pub fn ids(reply: &Reply) -> Vec<Value> {
    reply.json["items"]
        .as_array()
        .map(|items| items.iter().map(|i| i["id"].clone()).collect())
        .unwrap_or_default()
}
