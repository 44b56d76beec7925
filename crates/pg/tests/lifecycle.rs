//! Starting, querying, stopping and restarting private clusters, several at once.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{postmaster_pid, process_alive, with_client};
use dampwatch_pg::{PgError, PgOptions, PrivatePostgres, Temporary};

/// A directory for `start()` in which the server account (`postgres` when we are root) can
/// work: opening it up is the caller's business, whatever the umask made it.
fn data_parent() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).expect("chmod");
    dir
}

fn non_durable(data_dir: &Path) -> PgOptions {
    PgOptions { data_dir: data_dir.to_path_buf(), port: None, durable: false, statement_statistics: false }
}

fn setting(url: &str, name: &str) -> String {
    with_client(url, async |c| {
        let row = c.query_one(&format!("SHOW {name}"), &[]).await.expect("SHOW");
        row.get::<_, String>(0)
    })
    .expect("connect")
}

#[test]
fn temporary_cluster_answers_queries_then_stops() {
    let mut pg = PrivatePostgres::temporary().expect("start a temporary cluster");
    let password = std::fs::read_to_string(pg.data_dir().join("password")).expect("the password file");
    let password = password.trim();
    assert_eq!(pg.url(), format!("postgres://dampwatch:{password}@127.0.0.1:{}/dampwatch", pg.port()));
    assert_eq!(pg.url_for("other"), format!("postgres://dampwatch:{password}@127.0.0.1:{}/other", pg.port()));

    let (one, user, db, stored) = with_client(&pg.url(), async |c| {
        let one: i32 = c.query_one("SELECT 1", &[]).await.expect("select").get(0);
        let row = c.query_one("SELECT current_user::text, current_database()::text", &[]).await.expect("who");
        c.batch_execute(
            "CREATE TABLE readings (device_id text, seq bigint, PRIMARY KEY (device_id, seq));
             INSERT INTO readings VALUES ('dev-1', 1), ('dev-1', 2);",
        )
        .await
        .expect("create and insert");
        let stored: i64 = c.query_one("SELECT count(*) FROM readings", &[]).await.expect("count").get(0);
        (one, row.get::<_, String>(0), row.get::<_, String>(1), stored)
    })
    .expect("connect to the temporary cluster");
    assert_eq!((one, user.as_str(), db.as_str(), stored), (1, "dampwatch", "dampwatch", 2));

    // Temporary clusters trade durability for speed, and listen on loopback only.
    assert_eq!(setting(&pg.url(), "fsync"), "off");
    assert_eq!(setting(&pg.url(), "synchronous_commit"), "off");
    assert_eq!(setting(&pg.url(), "full_page_writes"), "off");
    assert_eq!(setting(&pg.url(), "listen_addresses"), "127.0.0.1");

    let postmaster = postmaster_pid(&pg.cluster_dir()).expect("postmaster.pid while running");
    pg.stop().expect("stop");
    assert!(!pg.is_running());
    assert!(!process_alive(postmaster), "postmaster {postmaster} still alive after stop()");
    assert!(!pg.cluster_dir().join("postmaster.pid").exists());
    pg.stop().expect("stopping twice is harmless");

    let data_dir = pg.data_dir().to_path_buf();
    assert!(data_dir.exists(), "a stopped cluster keeps its directory until dropped");
    drop(pg);
    assert!(!data_dir.exists(), "dropping a temporary cluster deletes its directory");
}

#[test]
fn restart_keeps_port_and_data() {
    let parent = data_parent();
    let mut pg = PrivatePostgres::start(non_durable(&parent.path().join("pg"))).expect("start");
    let port = pg.port();
    with_client(&pg.url(), async |c| {
        c.batch_execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42);").await.expect("write")
    })
    .expect("connect");

    pg.restart().expect("restart");
    assert!(pg.is_running());
    assert_eq!(pg.port(), port, "restart keeps the port");
    let kept: i32 = with_client(&pg.url(), async |c| {
        c.query_one("SELECT v FROM kept", &[]).await.expect("read after restart").get(0)
    })
    .expect("reconnect to the same URL after restart");
    assert_eq!(kept, 42);
}

#[test]
fn a_durable_cluster_syncs_and_loses_no_commit_in_a_crash() {
    let parent = data_parent();
    let mut pg = PrivatePostgres::start(PgOptions::new(parent.path().join("pg"))).expect("start durable");
    assert_eq!(setting(&pg.url(), "fsync"), "on");
    assert_eq!(setting(&pg.url(), "synchronous_commit"), "on");
    assert_eq!(setting(&pg.url(), "full_page_writes"), "on");
    // A working set of its own, and checkpoints spaced for a steady stream of writes.
    assert_eq!(setting(&pg.url(), "shared_buffers"), "512MB");
    assert_eq!(setting(&pg.url(), "max_wal_size"), "4GB");
    let port = pg.port();
    with_client(&pg.url(), async |c| {
        c.batch_execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (1);").await?;
        c.batch_execute("INSERT INTO kept VALUES (2)").await
    })
    .expect("connect")
    .expect("commit");

    // A crash-style stop (no checkpoint); restart runs crash recovery.
    pg.kill_hard().expect("immediate stop");
    assert!(!pg.is_running());
    pg.restart().expect("restart after a crash");
    assert_eq!(pg.port(), port);
    let count: i64 = with_client(&pg.url(), async |c| {
        c.query_one("SELECT count(*) FROM kept", &[]).await.expect("count").get(0)
    })
    .expect("reconnect after crash recovery");
    assert_eq!(count, 2, "every acknowledged commit survives");
}

#[test]
fn reopening_a_data_dir_keeps_data_and_recreates_a_missing_database() {
    let parent = data_parent();
    let data_dir = parent.path().join("pg");
    let pg = PrivatePostgres::start(non_durable(&data_dir)).expect("first start");
    with_client(&pg.url_for("postgres"), async |c| {
        c.batch_execute("CREATE TABLE survivor (v int); INSERT INTO survivor VALUES (7);")
            .await
            .expect("write");
        // On its own: DROP DATABASE cannot run inside the implicit transaction of a batch.
        c.batch_execute("DROP DATABASE dampwatch").await.expect("drop the dampwatch database");
    })
    .expect("connect");
    drop(pg);

    let pg = PrivatePostgres::start(non_durable(&data_dir)).expect("second start on the same directory");
    let survivor: i32 = with_client(&pg.url_for("postgres"), async |c| {
        c.query_one("SELECT v FROM survivor", &[]).await.expect("data kept").get(0)
    })
    .expect("connect");
    assert_eq!(survivor, 7);
    let one: i32 =
        with_client(&pg.url(), async |c| c.query_one("SELECT 1", &[]).await.expect("select").get(0))
            .expect("the dampwatch database is back");
    assert_eq!(one, 1);
}

#[test]
fn a_live_owner_keeps_its_data_dir() {
    let parent = data_parent();
    let data_dir = parent.path().join("pg");
    let _pg = PrivatePostgres::start(non_durable(&data_dir)).expect("start");
    match PrivatePostgres::start(non_durable(&data_dir)) {
        Err(PgError::ClusterInUse { owner_pid, .. }) => assert_eq!(owner_pid, Some(std::process::id())),
        other => panic!("expected ClusterInUse, got {other:?}"),
    }
}

#[test]
fn a_taken_fixed_port_is_reported() {
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let parent = data_parent();
    let options = PgOptions {
        data_dir: parent.path().join("pg"),
        port: Some(port),
        durable: false,
        statement_statistics: false,
    };
    match PrivatePostgres::start(options) {
        Err(PgError::PortInUse { port: reported }) => assert_eq!(reported, port),
        other => panic!("expected PortInUse, got {other:?}"),
    }
}

#[test]
fn two_temporary_clusters_run_side_by_side() {
    let threads: Vec<_> = (0..2).map(|_| std::thread::spawn(PrivatePostgres::temporary)).collect();
    let clusters: Vec<PrivatePostgres> =
        threads.into_iter().map(|t| t.join().expect("thread").expect("start")).collect();
    let (a, b) = (&clusters[0], &clusters[1]);
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());

    with_client(&a.url(), async |c| c.batch_execute("CREATE TABLE only_in_a (v int)").await.expect("create"))
        .expect("connect a");
    let in_b: i64 = with_client(&b.url(), async |c| {
        c.query_one("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", &[])
            .await
            .expect("query b")
            .get(0)
    })
    .expect("connect b");
    assert_eq!(in_b, 0, "clusters must not share data");
}

#[test]
fn create_database_gives_a_usable_url() {
    let pg = PrivatePostgres::temporary().expect("start");
    let url = pg.create_database("collector_test-1").expect("create database");
    assert_eq!(url, pg.url_for("collector_test-1"));
    let db: String = with_client(&url, async |c| {
        c.query_one("SELECT current_database()::text", &[]).await.expect("select").get(0)
    })
    .expect("connect to the new database");
    assert_eq!(db, "collector_test-1");

    assert!(matches!(pg.create_database("collector_test-1"), Err(PgError::CommandFailed { .. })));
    assert!(matches!(pg.create_database("x; DROP"), Err(PgError::InvalidDatabaseName { .. })));
}

#[test]
fn a_panicking_owner_still_stops_its_server() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let owner = std::thread::spawn(move || {
        let pg = PrivatePostgres::temporary().expect("start");
        let postmaster = postmaster_pid(&pg.cluster_dir()).expect("postmaster.pid");
        sender.send((postmaster, pg.data_dir().to_path_buf())).expect("send");
        panic!("a test failing while it holds a cluster");
    });
    assert!(owner.join().is_err(), "the owner thread panicked");
    let (postmaster, data_dir) = receiver.recv().expect("the owner reported its server");
    // Drop ran during unwinding and waited for the server to exit: nothing to wait for here.
    assert!(!process_alive(postmaster), "postmaster {postmaster} still alive");
    assert!(!data_dir.exists(), "temporary directory left behind");
}

/// Any local account reaches 127.0.0.1: the port must ask for the password, on TCP and on the
/// cluster's socket, and the password file must be its owner's alone.
#[test]
fn a_connection_without_the_password_is_refused() {
    let pg = PrivatePostgres::temporary().expect("start a temporary cluster");
    let file = pg.data_dir().join("password");
    assert_eq!(std::fs::metadata(&file).expect("password file").permissions().mode() & 0o777, 0o600);
    let port = pg.port();
    for url in [
        format!("postgres://dampwatch@127.0.0.1:{port}/dampwatch"),
        format!("postgres://dampwatch:wrong@127.0.0.1:{port}/dampwatch"),
        format!("host={} port={port} user=dampwatch dbname=dampwatch", pg.cluster_dir().display()),
    ] {
        let refused = with_client(&url, async |c| c.query_one("SELECT 1", &[]).await.map(drop));
        let err = match refused {
            // The cause ("password missing", "password authentication failed") is in the chain.
            Err(e) => format!("{e} {e:?}"),
            Ok(answer) => panic!("{url}: connected without the password ({answer:?})"),
        };
        assert!(err.contains("password"), "{url}: {err}");
    }
    assert!(with_client(&pg.url(), async |c| c.query_one("SELECT 1", &[]).await.is_ok()).expect("connect"));
}

/// A cluster made when local connections were trusted gets a password at its next start.
#[test]
fn a_cluster_that_trusted_loopback_requires_a_password_after_its_next_start() {
    let parent = data_parent();
    let data_dir = parent.path().join("pg");
    let mut pg = PrivatePostgres::start(non_durable(&data_dir)).expect("start");
    pg.stop().expect("stop");
    drop(pg);
    // As an older release left it: trust everywhere, no password file.
    let hba = data_dir.join("cluster/pg_hba.conf");
    let text = std::fs::read_to_string(&hba).expect("pg_hba.conf").replace("scram-sha-256", "trust");
    std::fs::write(&hba, text).expect("write pg_hba.conf");
    std::fs::remove_file(data_dir.join("password")).expect("remove the password");

    let pg = PrivatePostgres::start(non_durable(&data_dir)).expect("start again");
    let hba = std::fs::read_to_string(data_dir.join("cluster/pg_hba.conf")).expect("pg_hba.conf");
    assert!(
        !hba.lines().any(|l| !l.starts_with('#') && l.split_whitespace().last() == Some("trust")),
        "{hba}"
    );
    let bare = format!("postgres://dampwatch@127.0.0.1:{}/dampwatch", pg.port());
    assert!(with_client(&bare, async |_| ()).is_err(), "no password, no connection");
    assert_eq!(setting(&pg.url(), "listen_addresses"), "127.0.0.1");
}

/// Statement statistics, for a benchmark's profile of where the server's time goes: every
/// statement counted with its calls; without them asked for, the module is not loaded.
#[test]
fn a_cluster_asked_for_statement_statistics_counts_each_statement() {
    let pg = PrivatePostgres::temporary_with(Temporary { durable: false, statement_statistics: true })
        .expect("start a temporary cluster with statement statistics");
    let calls: i64 = with_client(&pg.url(), async |c| {
        c.batch_execute("CREATE EXTENSION pg_stat_statements").await.expect("the extension");
        c.batch_execute("SELECT pg_stat_statements_reset()").await.expect("reset");
        for _ in 0..3 {
            c.query("SELECT count(*) FROM pg_class WHERE relname = $1", &[&"pg_class"]).await.expect("query");
        }
        c.query_one(
            "SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_statements WHERE query LIKE '%FROM pg_class WHERE relname%'",
            &[],
        )
        .await
        .expect("read the statistics")
        .get(0)
    })
    .expect("connect");
    assert_eq!(calls, 3);
    assert_eq!(setting(&PrivatePostgres::temporary().expect("plain").url(), "shared_preload_libraries"), "");
}
