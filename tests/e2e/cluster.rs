//! Several gateways and collectors on a clustered message layer (`docs/message-layer.md`):
//! three `nats-server` nodes, two gateway processes and two collector processes on loopback,
//! the devices spread over both gateways. While they send, one cluster node (the one leading
//! the uplink stream), then one gateway, then one collector is killed with SIGKILL, each
//! restarted later. At the end every device has every reading confirmed (its queue is empty)
//! and the database holds each distinct reading once.

use crate::common::*;
use dampwatch_cluster::{NatsCluster, Role, UplinkStream, UpstreamConfig};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const READY: Duration = Duration::from_secs(60);
/// Readings stored between faults: each fault happens while devices are sending.
const PROGRESS: i64 = 150;

/// The `[upstream]` section of a service of `role` on `cluster`.
fn upstream_section(cluster: &NatsCluster, role: Role) -> String {
    let u: UpstreamConfig = cluster.upstream(role);
    let servers: Vec<String> = u.servers.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "\n[upstream]\nkind = \"cluster\"\nservers = [{}]\nreplicas = {}\nuser = {:?}\npassword_file = {:?}\n\
         ca_file = {:?}\nmax_stream_bytes = {}\nack_wait = \"5s\"\n",
        servers.join(", "),
        u.replicas,
        u.user,
        u.password_file,
        u.ca_file,
        // The test cluster's size, not the 10 GiB default its nodes' stores are smaller than.
        u.max_stream_bytes,
    )
}

/// The gateway binary as a child process on a port of the test's choosing, so that it can be
/// restarted on the same one; killed with SIGKILL when dropped.
struct GatewayProcess {
    child: Child,
    metrics_addr: SocketAddr,
}

impl GatewayProcess {
    fn spawn(config: &Path) -> anyhow::Result<GatewayProcess> {
        let mut child = Command::new(dampwatch_tests::binary("dampwatch-gateway", "dampwatch-gateway")?)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", std::env::var("DAMPWATCH_TEST_GATEWAY_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("metrics on http://") {
                    let _ = tx.send(rest.trim_end_matches("/metrics").to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow::anyhow!("the gateway did not start"))?;
        Ok(GatewayProcess { child, metrics_addr: addr.parse()? })
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn metric(&self, name: &str) -> f64 {
        scrape(self.metrics_addr).await.map(|t| metric(&t, name)).unwrap_or(0.0)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the configuration of a gateway listening on `port`, upstream the cluster.
fn gateway_file(env: &Env, cluster: &NatsCluster, name: &str, port: u16) -> anyhow::Result<PathBuf> {
    let pki = dampwatch_pki::Paths::new(env.pki());
    let text = format!(
        "[listen]\naddress = \"127.0.0.1:{port}\"\nmetrics_address = \"127.0.0.1:0\"\n\n\
         [tls]\nca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\ncrl = {crl:?}\n\n\
         [limits]\nconnections_per_second_per_source = 100000.0\nconnection_burst_per_source = 100000.0\n\
         device_connects_per_minute = 100000\ndevice_messages_per_second = 100000.0\n\
         device_message_burst = 100000.0\ndrain_timeout = \"200ms\"\n{upstream}",
        ca = pki.ca_cert(),
        cert = pki.gateway_cert(),
        key = pki.gateway_key(),
        crl = pki.crl(),
        upstream = upstream_section(cluster, Role::Gateway),
    );
    let path = env.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Writes the configuration of a collector process whose upstream is the cluster.
fn collector_file(env: &Env, cluster: &NatsCluster, client_id: &str) -> anyhow::Result<PathBuf> {
    let path = env.write_collector_file(client_id, "")?;
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str(&upstream_section(cluster, Role::Collector));
    std::fs::write(&path, text)?;
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Readings stored so far, of any device.
async fn stored_now(db: &tokio_postgres::Client) -> i64 {
    db.query_one("SELECT count(*) FROM readings", &[]).await.map(|r| r.get(0)).unwrap_or(0)
}

/// Waits until `PROGRESS` more readings are stored than `from`: the system works through the
/// fault (or after it).
async fn progress(db: &tokio_postgres::Client, from: i64, what: &str) -> i64 {
    let went_on =
        eventually_true(Duration::from_secs(90), || async { stored_now(db).await >= from + PROGRESS }).await;
    assert!(went_on, "no progress {what}");
    stored_now(db).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_a_gateway_and_a_collector_killed_while_devices_send() -> anyhow::Result<()> {
    let env = dampwatch_tests::Stack::builder()
        .limits(dampwatch_tests::Limits::Relaxed)
        .without_gateway()
        .without_collector()
        .start()
        .await?;
    let mut cluster = NatsCluster::start(3, READY).await?;
    let ports = [free_port()?, free_port()?];
    let gateway_files = [
        gateway_file(&env, &cluster, "gateway-a", ports[0])?,
        gateway_file(&env, &cluster, "gateway-b", ports[1])?,
    ];
    let collector_files =
        [collector_file(&env, &cluster, "collector")?, collector_file(&env, &cluster, "collector-2")?];
    let (mut gateway_a, gateway_b) = tokio::task::block_in_place(|| {
        anyhow::Ok((GatewayProcess::spawn(&gateway_files[0])?, GatewayProcess::spawn(&gateway_files[1])?))
    })?;
    let (mut collector_1, collector_2) = tokio::task::block_in_place(|| {
        anyhow::Ok((
            CollectorProcess::spawn(&collector_files[0])?,
            CollectorProcess::spawn(&collector_files[1])?,
        ))
    })?;

    let devices = env.provision_many("acme", "cl", 6).await?;
    let (on_a, on_b) = devices.split_at(3);
    let plan = |port| Plan { port, ..env.plan(500, Some(15.0), 240) };
    let fleet_a = run_fleet(on_a.to_vec(), plan(ports[0]), CancellationToken::new());
    let fleet_b = run_fleet(on_b.to_vec(), plan(ports[1]), CancellationToken::new());

    let db = env.db().await?;
    let mut seen = progress(&db, 0, "before the faults").await;
    let health = scrape_path(collector_2.metrics_addr, "/health").await?;
    assert!(health.starts_with("HTTP/1.0 200") || health.starts_with("HTTP/1.1 200"), "{health}");

    // The node leading the uplink stream dies: the stream elects another leader among the
    // two left, and what a quorum held is still there.
    let stream = UplinkStream::ensure(cluster.client(Role::Gateway).await?, 3, 1 << 30).await?;
    let leader = stream.leader().await?.and_then(|name| cluster.node_named(&name)).unwrap_or(0);
    cluster.kill(leader);
    seen = progress(&db, seen, "with a cluster node down").await;
    cluster.restart(leader, READY).await?;

    // A gateway dies: its devices reconnect once it is back; the other gateway's go on.
    gateway_a.kill();
    seen = progress(&db, seen, "with a gateway down").await;
    gateway_a = tokio::task::block_in_place(|| GatewayProcess::spawn(&gateway_files[0]))?;

    // A collector dies holding uplinks it took and never acknowledged (its batch waits on a
    // lock, as on a slow database): after the acknowledgement wait the cluster gives them to
    // the other collector.
    let lock = env.db().await?;
    lock.batch_execute("BEGIN; LOCK TABLE readings IN ACCESS EXCLUSIVE MODE").await?;
    let both_wait = eventually_true(Duration::from_secs(60), || async {
        db.query_one(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND relation = 'readings'::regclass",
            &[],
        )
        .await
        .is_ok_and(|r| r.get::<_, i64>(0) >= 2)
    })
    .await;
    assert!(both_wait, "both collectors have a batch waiting");
    collector_1.kill();
    lock.batch_execute("ROLLBACK").await?;
    progress(&db, seen, "with a collector down").await;
    let taken_over = eventually_true(Duration::from_secs(60), || async {
        collector_2.metric("dampwatch_collector_uplinks_redelivered_total").await > 0.0
    })
    .await;
    assert!(taken_over, "the uplinks the dead collector held went to the other one");
    collector_1 = tokio::task::block_in_place(|| CollectorProcess::spawn(&collector_files[0]))?;

    let mut outcomes = fleet_a.await?;
    outcomes.extend(fleet_b.await?);
    assert_exactly_once(&env, &outcomes).await?;

    let redelivered = collector_1.metric("dampwatch_collector_uplinks_redelivered_total").await
        + collector_2.metric("dampwatch_collector_uplinks_redelivered_total").await;
    let refused = gateway_a.metric("dampwatch_gateway_upstream_refused_total").await
        + gateway_b.metric("dampwatch_gateway_upstream_refused_total").await;
    let disconnects: u32 = outcomes.iter().map(|o| o.disconnects).sum();
    let resent: u32 = outcomes.iter().map(|o| o.resent).sum();
    eprintln!(
        "cluster fault test: {} readings from {} devices stored once; uplinks redelivered by the cluster \
         (counted by the collectors running at the end) {redelivered}, uplinks the cluster did not store \
         (counted by the gateways running at the end; each device resent) {refused}, device reconnections \
         {disconnects}, readings resent {resent}",
        outcomes.iter().map(|o| o.recorded).sum::<u32>(),
        outcomes.len(),
    );
    assert!(disconnects >= 3, "the killed gateway's devices reconnected");
    collector_1.terminate()?;
    collector_2.terminate()?;
    Ok(())
}
