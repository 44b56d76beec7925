//! The collector's embedded default: with no database URL it runs its own PostgreSQL under its
//! data directory, publishes that server's URL there, applies the migrations, stores what the
//! devices send, and on SIGTERM stops cleanly, server included.

use crate::common::*;
use dampwatch::devices::{run, DevicesCommand, Target};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The pid of the postmaster running in `cluster`, from its `postmaster.pid`.
fn postmaster(cluster: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(cluster.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    // Line 4 is the port.
    let port = lines.nth(2)?.trim().to_owned();
    Some((pid, port))
}

/// Whether `pid` is a live PostgreSQL process.
fn is_postgres(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
}

/// Command lines of the live processes that mention `path`.
fn processes_naming(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_database_url_the_collector_runs_and_stops_its_own_postgres() -> anyhow::Result<()> {
    let env = start_env().await?;
    let data = tempfile::tempdir()?;
    let config = env.write_collector_file_with("collector", "", &format!("data_dir = {:?}", data.path()))?;
    let text = std::fs::read_to_string(&config)?;
    assert!(!text.contains("url ="), "no database URL: {text}");
    let collector = tokio::task::block_in_place(|| CollectorProcess::spawn(&config))?;

    // Its own server, under the data directory, on the port of the URL it announced and
    // published in DATA_DIR/database-url.
    let cluster = data.path().join("postgres/cluster");
    assert!(cluster.join("PG_VERSION").is_file(), "a cluster in {}", cluster.display());
    let (pid, port) = postmaster(&cluster).expect("a postmaster runs in the data directory");
    assert!(is_postgres(pid), "postmaster {pid} is alive");
    // The URL carries the cluster's password: printed without it, published (0600) with it.
    let published = std::fs::read_to_string(data.path().join("database-url"))?;
    let url = published.trim().to_owned();
    assert!(url.starts_with("postgres://") && url.contains(&format!("127.0.0.1:{port}/")), "{url} on {port}");
    assert_ne!(url, env.pg.url(), "not the test's own database");
    assert_eq!(collector.db_url, dampwatch_store::redacted(&url), "announced without its password");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(data.path().join("database-url"))?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "DATA_DIR/database-url is its owner's alone");

    // Migrated: every migration of the collector, the hazard worker and the API, once.
    let db = dampwatch_store::connect(&url).await?;
    let applied: Vec<i32> = db
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i32> = dampwatch_store::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied, expected);

    // Devices registered in that database get their readings stored, each once.
    let ids: Vec<String> = (0..3).map(|i| format!("embedded-{i}")).collect();
    let devices = env.provision_many_in(&url, "acme", &ids).await?;
    let outcomes = run_fleet(devices, env.plan(40, Some(20.0), 60), CancellationToken::new()).await?;
    assert_exactly_once_in(&db, &outcomes).await?;
    assert!(outcomes.iter().all(|o| o.recorded == 40), "{outcomes:?}");
    assert!(collector.metric("dampwatch_collector_readings_stored_total").await >= 120.0);
    // The webhook sender reports on the same endpoint; with no endpoints, nothing is queued.
    let addr = collector.metrics_addr;
    let queue_read = eventually_true(Duration::from_secs(30), || async move {
        scrape(addr).await.is_ok_and(|t| {
            t.lines().any(|l| l == "dampwatch_webhooks_pending 0")
                && t.lines().any(|l| l == "dampwatch_webhooks_dead 0")
        })
    })
    .await;
    assert!(queue_read, "{}", scrape(addr).await?);
    // The landlord API is served over HTTPS on its own listener, by its own server loop (peer
    // addresses for per-address limits, header time limit), and its refusals are counted on
    // the metrics endpoint.
    let unauthenticated = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tls = dampwatch_pki::client_tls(&env.pki(), dampwatch_pki::Holder::Anonymous)?;
        let tcp = tokio::net::TcpStream::connect(collector.api_addr).await?;
        let name = rustls::pki_types::ServerName::IpAddress(collector.api_addr.ip().into());
        let mut s = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await?;
        s.write_all(b"GET /v1/alerts HTTP/1.0\r\nHost: x\r\n\r\n").await?;
        let mut answer = String::new();
        // The server closes without a TLS close_notify once the answer is written.
        let _ = s.read_to_string(&mut answer).await;
        answer
    };
    assert!(unauthenticated.starts_with("HTTP/1.0 401"), "{unauthenticated}");
    let on_metrics = scrape_path(addr, "/v1/alerts").await?;
    assert!(on_metrics.starts_with("HTTP/1.0 404"), "the metrics listener serves no API: {on_metrics}");
    let text = scrape(addr).await?;
    assert!(
        text.lines().any(|l| l.starts_with("dampwatch_api_unauthenticated_total") && !l.ends_with(" 0")),
        "{text}"
    );

    // `dampwatch devices --data-dir` finds the registry through the published URL.
    let target = Target {
        database_url: None,
        data_dir: Some(data.path().to_owned()),
        pki_dir: Some(env.pki()),
        bundles_dir: None,
    };
    let mut out = Vec::new();
    run(DevicesCommand::List { target, landlord: Some("acme".into()) }, &mut out).await?;
    let list = String::from_utf8(out)?;
    assert!(list.contains("embedded-0") && list.ends_with("3 device(s)\n"), "{list}");
    drop(db);

    // SIGTERM: a clean exit, the private server stopped with it, the URL withdrawn.
    tokio::task::block_in_place(|| collector.terminate())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive = is_postgres(pid);
        let left = processes_naming(data.path());
        if !alive && left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "postmaster {pid} alive: {alive}; processes left: {left:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!cluster.join("postmaster.pid").exists(), "the server shut down cleanly");
    assert!(!data.path().join("database-url").exists(), "the URL of a stopped server is withdrawn");
    Ok(())
}
