//! Test support: one private PostgreSQL cluster per test binary, and a database per test owned
//! by a non-superuser service role that runs the migrations (as in production, where that role
//! owns the tables).

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use dampwatch_audit::{append, CheckpointSigner, Event, Outcome};
use dampwatch_pg::PrivatePostgres;
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::{Client, NoTls};

/// The login role the service runs as: owns the database and its tables, no superuser.
pub const SERVICE_ROLE: &str = "dampwatch_audit_service";
/// Its password: every connection to a private cluster needs one (the cluster is this test's).
pub const SERVICE_PASSWORD: &str = "service-role-password";

static CLUSTER: OnceCell<PrivatePostgres> = OnceCell::const_new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);
/// Roles are per cluster (the tenant role is created by a migration): one migration at a time.
static MIGRATING: Mutex<()> = Mutex::const_new(());

pub async fn connect(url: &str) -> Client {
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

/// A fresh, migrated database: its URL (as the service role) and a connection to it.
pub async fn database() -> (String, Client) {
    let pg = cluster().await;
    let name = format!("audit_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let admin = connect(&pg.url()).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name} OWNER {SERVICE_ROLE}"))
        .await
        .expect("create database");
    let url = format!("postgres://{SERVICE_ROLE}:{SERVICE_PASSWORD}@127.0.0.1:{}/{name}", pg.port());
    let mut db = connect(&url).await;
    {
        let _one_at_a_time = MIGRATING.lock().await;
        dampwatch_store::migrate(&mut db).await.expect("migrate");
    }
    (url, db)
}

pub fn event(actor: &str, landlord: Option<&str>, action: &str) -> Event {
    Event {
        actor: actor.into(),
        landlord_id: landlord.map(Into::into),
        source: Some("127.0.0.1".into()),
        action: action.into(),
        target: None,
        outcome: Outcome::Success,
        details: serde_json::json!({}),
    }
}

/// Appends `n` ordinary entries.
pub async fn append_many(db: &Client, n: usize) {
    for i in 0..n {
        let mut e = event(&format!("user:{i}"), Some("north-homes"), "case.update");
        e.target = Some(format!("case:{i}"));
        append(db, &e).await.expect("append");
    }
}

pub fn signer(seed: u8) -> CheckpointSigner {
    CheckpointSigner::from_seed(format!("test-key-{seed}"), &[seed; 32]).expect("signer")
}

/// The export as text.
pub async fn export_text(db: &Client) -> String {
    let mut out = Vec::new();
    dampwatch_audit::export(db, &mut out).await.expect("export");
    String::from_utf8(out).expect("UTF-8")
}
