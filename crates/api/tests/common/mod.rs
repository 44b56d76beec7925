//! Test support: one private PostgreSQL cluster per test binary, a database per test owned by
//! a non-superuser service role (as in production: the role that runs the migrations owns the
//! tables), landlords with data inserted directly, and requests through the router.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

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
                .batch_execute(&format!("CREATE ROLE {SERVICE_ROLE} LOGIN CREATEROLE NOSUPERUSER"))
                .await
                .expect("create the service role");
            pg
        })
        .await
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
    pub db_url: String,
    /// Connected as the service role.
    pub db: Client,
    pub state: ApiState,
    pub app: Router,
    pub north: Landlord,
    pub south: Landlord,
    /// A landlord with a key and no data at all.
    pub empty: Landlord,
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
    let db_url = format!("postgres://{SERVICE_ROLE}@127.0.0.1:{}/{name}", pg.port());
    let mut db = connect(&db_url).await;
    {
        let _one_at_a_time = MIGRATING.lock().await;
        dampwatch_store::migrate(&mut db).await.expect("migrate");
    }
    let clock = clock();
    let north = seed(&mut db, &clock, "north-homes", "open_on_triage", 1).await;
    let south = seed(&mut db, &clock, "south-homes", "open_on_detection", 2).await;
    db.execute("INSERT INTO landlords (id, name) VALUES ('empty-homes', 'Empty Homes')", &[]).await.unwrap();
    let empty_key = create_api_key(&db, "empty-homes", "tests").await.unwrap();
    let empty = Landlord { id: "empty-homes".into(), key: empty_key, ..north.clone() };
    let state = ApiState::connect(&db_url, clock, config).expect("state");
    let app = router(state.clone());
    Fixture { db_url, db, state, app, north, south, empty }
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

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let response = app.clone().oneshot(req).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, json, text }
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
