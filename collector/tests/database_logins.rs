//! On its private PostgreSQL the collector runs the migrations as the schema's owner, then
//! works as `dampwatch_collector` and serves the landlord API as `dampwatch_api` (migration
//! 0460). Shown against a real cluster: each part is connected as its own login; neither login
//! can change the schema, switch off the case history's triggers, run programs or become
//! another role; the API's login holds nothing of any landlord's homes, cases, readings or
//! webhook secrets of its own, and reaches keys only through the function that finds the one
//! presented, so leaving the tenant role (`RESET ROLE`) gains it nothing, and inside the
//! tenant role it sees the rows of the one landlord it names. (It names the landlord: the
//! tenant role guards against a faulty query, not against code running as the API.)

use std::net::SocketAddr;
use std::time::Duration;

use dampwatch_collector::{Collector, Config};
use dampwatch_store::roles::{API_LOGIN, COLLECTOR_LOGIN, TENANT_ROLE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::Client;

/// Long enough for anything the collector does here; the waits end as soon as it did it.
const PATIENCE: Duration = Duration::from_secs(30);

struct Running {
    collector: Collector,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    dampwatch_pki::init(&dir.path().join("pki"), Default::default()).expect("pki init");
    Running { collector: start_in(dir.path()).await, _dir: dir }
}

/// A collector with its PKI in `dir/pki` and its private PostgreSQL in `dir/data` (made at the
/// first start, kept by a restart), the API in plain HTTP on a free port.
async fn start_in(dir: &std::path::Path) -> Collector {
    let mut cfg = Config::default().with_pki_dir(&dir.join("pki"));
    cfg.database.data_dir = dir.join("data");
    // A port nobody listens on: the intake retries in the background, which nothing here needs.
    cfg.mqtt.port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cfg.http.address = "127.0.0.1:0".into();
    cfg.http.plain_http = true;
    cfg.metrics.address = String::new();
    Collector::start(cfg).await.expect("the collector starts")
}

async fn connect(url: &str) -> Client {
    dampwatch_store::connect(url).await.expect("connect")
}

/// The SQLSTATE `statement` fails with, as `client`; panics if it succeeds.
async fn refused(client: &Client, statement: &str) -> String {
    match client.batch_execute(statement).await {
        Ok(()) => panic!("{statement}: allowed"),
        Err(e) => e.code().map(|c| c.code().to_owned()).unwrap_or_else(|| format!("{e}")),
    }
}

const INSUFFICIENT_PRIVILEGE: &str = "42501";

async fn get(addr: SocketAddr, path: &str, key: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut answer)).await.expect("answered").expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Two landlords with a home each and a webhook secret, written as the owner.
async fn seed(owner: &Client) {
    owner
        .batch_execute(
            "INSERT INTO landlords (id, name) VALUES ('north', 'North'), ('south', 'South');
             INSERT INTO dwellings (landlord_id, reference) VALUES ('north', 'N1'), ('south', 'S1');
             INSERT INTO webhook_endpoints (landlord_id, url, secret)
                 VALUES ('north', 'https://hooks.example/n', 'north-signing-secret');",
        )
        .await
        .expect("seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_part_connects_as_its_own_login_and_neither_can_leave_what_it_was_granted() {
    let run = start().await;
    let c = &run.collector;
    let owner = connect(c.db_url()).await;
    seed(&owner).await;

    // Each part on its own login: the collector's work at once, the API at its first request.
    assert!(c.collector_db_url().starts_with(&format!("postgres://{COLLECTOR_LOGIN}:")));
    assert!(c.api_db_url().starts_with(&format!("postgres://{API_LOGIN}:")));
    let key = dampwatch_api::create_api_key(&owner, "north", "tests").await.expect("key");
    let answer = get(c.api_addr().expect("API listener"), "/v1/rooms", &key).await;
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "{answer}");
    let logins_in_use = || async {
        let rows = owner
            .query(
                "SELECT DISTINCT application_name, usename::text FROM pg_stat_activity
                 WHERE datname = 'dampwatch' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect::<Vec<_>>()
    };
    assert!(
        dampwatch_testkit::eventually_true(PATIENCE, || async {
            let seen = logins_in_use().await;
            seen.iter().any(|(_, user)| user == COLLECTOR_LOGIN)
                && seen.contains(&("dampwatch-api".to_owned(), API_LOGIN.to_owned()))
        })
        .await,
        "{:?}",
        logins_in_use().await
    );
    // The key's use is recorded, through the function that takes the presented key's hash.
    assert!(
        dampwatch_testkit::eventually_true(PATIENCE, || async {
            let used: Option<chrono::DateTime<chrono::Utc>> =
                owner.query_one("SELECT last_used_at FROM api_keys", &[]).await.unwrap().get(0);
            used.is_some()
        })
        .await,
        "api_keys.last_used_at is set"
    );
    let owner_name: String = owner.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert!(
        logins_in_use().await.iter().all(|(_, user)| user != &owner_name),
        "no part works as the owner: {:?}",
        logins_in_use().await
    );

    // The API's login: nothing of a landlord's data of its own, before or after the tenant role.
    let api = connect(c.api_db_url()).await;
    for statement in [
        "SELECT * FROM readings LIMIT 1",
        "SELECT * FROM dwellings LIMIT 1",
        "SELECT * FROM cases LIMIT 1",
        "SELECT secret FROM webhook_endpoints",
        // Keys and OAuth credentials only through the functions that find the one presented.
        "SELECT key_hash FROM api_keys",
        "SELECT secret_hash FROM oauth_clients",
        "SELECT token_hash FROM oauth_tokens",
        "UPDATE api_keys SET revoked_at = NULL",
        // Tokens only through the function that checks the client's secret and scopes.
        "DELETE FROM oauth_tokens",
        "INSERT INTO oauth_tokens (token_hash, client, landlord_id, scopes, issued_at, expires_at)
             VALUES ('\\x00', 1, 'north', '{write}', now(), now() + interval '10 years')",
        "SET ROLE dampwatch_api_tenant; RESET ROLE; SELECT * FROM dwellings LIMIT 1",
        "BEGIN; SET LOCAL ROLE dampwatch_api_tenant; COMMIT; SELECT * FROM cases LIMIT 1",
    ] {
        assert_eq!(refused(&api, statement).await, INSUFFICIENT_PRIVILEGE, "{statement}");
        let _ = api.batch_execute("ROLLBACK; RESET ROLE").await;
    }
    // Inside the tenant role: one landlord's rows, and never the signing secret.
    api.batch_execute(&format!("SET ROLE {TENANT_ROLE}; SET dampwatch.landlord = 'north'")).await.unwrap();
    let seen: Vec<String> =
        api.query("SELECT landlord_id FROM dwellings", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(seen, ["north"]);
    assert_eq!(refused(&api, "SELECT secret FROM webhook_endpoints").await, INSUFFICIENT_PRIVILEGE);
    api.batch_execute("RESET ROLE; RESET dampwatch.landlord").await.unwrap();

    // Neither login can reach past its grants: no schema changes, no trigger switched off, no
    // programs, no other role, no replication mode that skips triggers.
    let collector = connect(c.collector_db_url()).await;
    for (who, client) in [("collector", &collector), ("api", &api)] {
        for statement in [
            "ALTER TABLE case_events DISABLE TRIGGER ALL",
            "DROP TABLE readings",
            "CREATE TABLE stash (x int)",
            "COPY (SELECT 1) TO PROGRAM 'true'",
            "SET session_replication_role = replica",
            &format!("SET ROLE {owner_name}"),
            "DELETE FROM schema_migrations",
        ] {
            assert_eq!(refused(client, statement).await, INSUFFICIENT_PRIVILEGE, "{who}: {statement}");
        }
    }
    assert_eq!(refused(&collector, &format!("SET ROLE {TENANT_ROLE}")).await, INSUFFICIENT_PRIVILEGE);
    // Only the retention cuts delete audit entries and case events, running as the owner, and
    // never closer than the owner's floor: the collector's login cannot delete either by
    // claiming to be a cut, nor make a cut take recent history by the cutoff it asks for, a
    // checkpoint of its own, or a closure it dates back.
    owner
        .batch_execute(
            "INSERT INTO rooms (dwelling_id, name) SELECT id, 'bedroom' FROM dwellings WHERE reference = 'N1';
             INSERT INTO cases (landlord_id, room_key, room_id, hazard, opened_at, awareness_policy, case_policy,
                                state, view, view_at, calendar_version, rules_version, updated_at)
             SELECT 'north', 'room:' || id, id, 'damp_and_mould_growth', now(), 'at_detection',
                    'open_on_detection', 'closed', '{}', now(), 'v', 'v', now() FROM rooms;
             INSERT INTO case_events (case_id, landlord_id, seq, kind, affects_clock, event, occurred_at, actor)
             SELECT id, 'north', 1, 'note', false, '{}', now(), 'user:1' FROM cases;",
        )
        .await
        .expect("a closed case with an event");
    collector
        .batch_execute(
            "SELECT audit_append('test', NULL, NULL, 'test', NULL, 'success', '{}');
             INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)
             SELECT seq, hash, '2000-01-01', 'forged', decode(repeat('00', 64), 'hex')
             FROM audit_log ORDER BY seq DESC LIMIT 1;
             SELECT audit_append('test', NULL, NULL, 'test', NULL, 'success', '{}');
             UPDATE cases SET updated_at = '2000-01-01', closed_at = '2000-01-01';",
        )
        .await
        .unwrap();
    for claim in [
        "SET dampwatch.audit_cut = 'on'; DELETE FROM audit_log",
        "SET dampwatch.case_cut = 'on'; DELETE FROM case_events",
    ] {
        assert_eq!(refused(&collector, claim).await, INSUFFICIENT_PRIVILEGE, "{claim}");
    }
    let history = "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM case_events)";
    let before: i64 = owner.query_one(history, &[]).await.unwrap().get(0);
    for (sql, why) in [
        ("SELECT audit_cut('infinity', NULL)", "the floor keeps recent entries, forged checkpoint or not"),
        ("SELECT case_cut('infinity', 100)", "a case closed now is kept, whatever date it is given"),
    ] {
        assert_eq!(collector.query_one(sql, &[]).await.unwrap().get::<_, i64>(0), 0, "{why}");
    }
    assert_eq!(owner.query_one(history, &[]).await.unwrap().get::<_, i64>(0), before);
    // What the collector is for, it may do.
    let n: i64 = collector.query_one("SELECT count(*) FROM dwellings", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logins_passwords_are_kept_by_their_owner_alone_and_survive_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let run = start().await;
    let dir = run._dir.path().join("data/postgres/logins");
    for role in [COLLECTOR_LOGIN, API_LOGIN] {
        let mode = std::fs::metadata(dir.join(role)).expect("password file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{role}");
    }
    let before = run.collector.api_db_url().to_owned();
    let bare = before.replacen(&format!("{API_LOGIN}:"), &format!("{API_LOGIN}:wrong"), 1);
    assert!(dampwatch_store::connect(&bare).await.is_err(), "a wrong password is refused");
    let Running { collector, _dir: dir } = run;
    collector.shutdown().await;
    let again = start_in(dir.path()).await;
    // Same password, on a new port: the file, not a new secret each start.
    let password = |url: &str| url.split(['@', ':']).nth(2).map(str::to_owned);
    assert_eq!(password(again.api_db_url()), password(&before));
    connect(again.api_db_url()).await;
}

/// A person's TOTP secret stored in clear (as before secrets were sealed) is sealed under the
/// secrets key in the PKI directory when the collector starts, and opens to the same secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_secret_stored_in_clear_is_sealed_at_the_next_start() {
    let Running { collector, _dir: dir } = start().await;
    let owner = connect(collector.db_url()).await;
    let secret = b"twenty-bytes-secret!".to_vec();
    owner.batch_execute("INSERT INTO landlords (id, name) VALUES ('north', 'North')").await.unwrap();
    let id: i64 = owner
        .query_one(
            "INSERT INTO users (landlord_id, email, display_name, role, totp_secret)
             VALUES ('north', 'olu@north.example', 'Olu', 'housing_officer', $1) RETURNING id",
            &[&secret],
        )
        .await
        .expect("a person with a clear secret")
        .get(0);
    drop(owner);
    collector.shutdown().await;

    let again = start_in(dir.path()).await;
    let owner = connect(again.db_url()).await;
    let row = owner
        .query_one("SELECT totp_secret, totp_sealed, mfa_enabled FROM users WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<Vec<u8>>>(0), None, "no longer in clear");
    assert!(row.get::<_, bool>(2), "still a second factor in use");
    let key = dampwatch_privacy::SecretsKey::open(
        &dir.path().join("pki").join(dampwatch_alerts::secrets::KEY_FILE),
    )
    .unwrap();
    let opened = dampwatch_accounts::totp_secret::open(
        Some(&key),
        Some("north"),
        id,
        dampwatch_accounts::totp_secret::Slot::InUse,
        None,
        row.get(1),
    )
    .unwrap()
    .expect("a secret");
    assert_eq!(opened.as_slice(), secret.as_slice());
}
