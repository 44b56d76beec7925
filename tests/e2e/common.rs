//! One test's own world: the whole-stack kit's stack (a temporary PKI, a private PostgreSQL, a
//! real gateway on a free port, restartable on the same port) with collectors in-process or as
//! separate processes, and simulated devices running the firmware core over mutual TLS.

#![allow(dead_code)]

use dampwatch_tests::Limits;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use dampwatch_bench::fleet;

pub use dampwatch_tests::DeviceSpec;
pub use fleet::{Outcome, Plan};

/// The stack every test here starts: PKI, PostgreSQL and a gateway with relaxed limits; each
/// test starts its own collectors (in-process or as processes).
pub type Env = dampwatch_tests::Stack;

/// Starts this file's stack.
pub async fn start_env() -> anyhow::Result<Env> {
    dampwatch_tests::Stack::builder().limits(Limits::Relaxed).without_collector().start().await
}

/// What these tests add to the stack.
pub trait EnvExt {
    fn plan(&self, readings: u32, rate: Option<f64>, secs: u64) -> Plan;
    fn write_collector_file(&self, client_id: &str, share_group: &str) -> anyhow::Result<PathBuf>;
    fn write_collector_file_with(
        &self,
        client_id: &str,
        share_group: &str,
        database: &str,
    ) -> anyhow::Result<PathBuf>;
    fn spawn_collector(&self, client_id: &str, share_group: &str) -> anyhow::Result<CollectorProcess>;
}

impl EnvExt for Env {
    /// A plan for `readings` readings per device at `rate` per second, due within `secs`.
    fn plan(&self, readings: u32, rate: Option<f64>, secs: u64) -> Plan {
        Plan {
            readings,
            rate,
            batch: 10,
            linger: Duration::from_millis(100),
            ack_timeout_s: 10,
            port: self.port,
            // The stack's gateway admits connections from one address without limit.
            connect_rate: 1000.0,
            stop_recording: None,
            deadline: Instant::now() + Duration::from_secs(secs),
            latency_from: None,
            collector_keys: fleet::collector_keys(&self.pki())
                .expect("the PKI holds the collector's downlink key"),
        }
    }

    /// Writes a configuration file for a collector process.
    fn write_collector_file(&self, client_id: &str, share_group: &str) -> anyhow::Result<PathBuf> {
        self.write_collector_file_with(client_id, share_group, &format!("url = {:?}", self.pg.url()))
    }

    /// Writes a configuration file for a collector process whose `[database]` section is
    /// `database` (TOML lines).
    fn write_collector_file_with(
        &self,
        client_id: &str,
        share_group: &str,
        database: &str,
    ) -> anyhow::Result<PathBuf> {
        let pki = self.pki();
        let text = format!(
            "[database]\n{database}\n\n[mqtt]\nport = {port}\nclient_id = {client_id:?}\nshare_group = {share_group:?}\n\n\
             [tls]\nca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\ndownlink_keys = {pki:?}\n\n\
             [intake]\nretry_initial = \"100ms\"\nretry_max = \"1s\"\n\n\
             [http]\naddress = \"127.0.0.1:0\"\ntls_cert = {web_cert:?}\ntls_key = {web_key:?}\n\n\
             [metrics]\naddress = \"127.0.0.1:0\"\n",
            port = self.port,
            ca = pki.join("ca.pem"),
            cert = pki.join("services/collector/cert.pem"),
            key = pki.join("services/collector/key.pem"),
            web_cert = pki.join("web/cert.pem"),
            web_key = pki.join("web/key.pem"),
        );
        let path = self.dir.path().join(format!("{client_id}.toml"));
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Runs the `dampwatch-collector` binary as its own process; blocks until it announced
    /// its metrics address (call it inside `block_in_place` from a test's runtime).
    fn spawn_collector(&self, client_id: &str, share_group: &str) -> anyhow::Result<CollectorProcess> {
        let file = self.write_collector_file(client_id, share_group)?;
        CollectorProcess::spawn(&file)
    }
}

/// Runs every device's plan concurrently; returns their outcomes.
pub fn run_fleet(
    specs: Vec<DeviceSpec>,
    plan: Plan,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Vec<Outcome>> {
    tokio::spawn(async move { fleet::run_fleet(specs, plan, stop).await.expect("the devices run") })
}

/// The collector binary as a child process; killed with SIGKILL when dropped.
pub struct CollectorProcess {
    child: Child,
    pub metrics_addr: SocketAddr,
    /// The landlord API's HTTPS listener.
    pub api_addr: SocketAddr,
    /// The database it stores into, as it announced it.
    pub db_url: String,
}

impl CollectorProcess {
    pub fn spawn(config: &std::path::Path) -> anyhow::Result<CollectorProcess> {
        let mut child = Command::new(dampwatch_tests::binary("dampwatch-collector", "dampwatch-collector")?)
            .arg("--config")
            .arg(config)
            // DAMPWATCH_TEST_COLLECTOR_LOG=info shows what a collector process did.
            .env("RUST_LOG", std::env::var("DAMPWATCH_TEST_COLLECTOR_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut db_url = String::new();
            let mut api = String::new();
            let echo = std::env::var_os("DAMPWATCH_TEST_COLLECTOR_LOG").is_some();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("collector: {line}");
                }
                if let Some(rest) = line.strip_prefix("dampwatch-collector storing into ") {
                    db_url = rest.to_owned();
                }
                if let Some(rest) = line.strip_prefix("landlord API on https://") {
                    api = rest.split('/').next().unwrap_or_default().to_owned();
                }
                if let Some(rest) = line.strip_prefix("metrics on http://") {
                    let _ =
                        tx.send((rest.trim_end_matches("/metrics").to_owned(), api.clone(), db_url.clone()));
                }
            }
        });
        let (addr, api, db_url) = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow::anyhow!("the collector process did not start"))?;
        Ok(CollectorProcess { child, metrics_addr: addr.parse()?, api_addr: api.parse()?, db_url })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush, no goodbye to the broker.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the graceful way.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait()? {
                anyhow::ensure!(s.success(), "collector exited with {s}");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        anyhow::bail!("collector did not stop on SIGTERM")
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub async fn metric(&self, name: &str) -> f64 {
        scrape(self.metrics_addr).await.map(|t| metric(&t, name)).unwrap_or(0.0)
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET /metrics.
pub async fn scrape(addr: SocketAddr) -> anyhow::Result<String> {
    scrape_path(addr, "/metrics").await
}

/// GET `path` in plain HTTP; the whole answer.
pub async fn scrape_path(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    Ok(body)
}

/// The value of a metric line `name value` (labels included in `name`).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// Rows in `readings` of these devices: (all, distinct keys).
/// Rows stored for `devices`: all, distinct `(device, boot, seq)`, and as counted by the hourly
/// rollup (written in the same transactions: a batch stored twice would count twice there).
pub async fn stored(db: &tokio_postgres::Client, devices: &[&str]) -> anyhow::Result<(i64, i64, i64)> {
    let r = db
        .query_one(
            "SELECT count(*), count(DISTINCT (device_id, boot, seq)),
                    (SELECT coalesce(sum(readings), 0)::bigint FROM readings_hourly_totals
                     WHERE device_id = ANY($1))
             FROM readings WHERE device_id = ANY($1)",
            &[&devices],
        )
        .await?;
    Ok((r.get(0), r.get(1), r.get(2)))
}

pub use dampwatch_testkit::eventually_true;

/// Asserts the end state every fault test must reach: every device confirmed everything, and
/// the database holds exactly the readings recorded, each once.
pub async fn assert_exactly_once(env: &Env, outcomes: &[Outcome]) -> anyhow::Result<()> {
    if outcomes.iter().any(|o| !o.complete) || std::env::var_os("DAMPWATCH_TEST_COLLECTOR_LOG").is_some() {
        eprintln!("outcomes: {outcomes:#?}");
        if let Some(g) = &env.gateway {
            let m = g.metrics();
            eprintln!(
                "gateway: downlinks dropped {}, uplinks dropped {}, messages in {} out {}",
                m.downlinks_dropped.get(),
                m.uplinks_dropped.get(),
                m.messages_in.get(),
                m.messages_out.get()
            );
            let refused: Vec<String> = dampwatch_gateway::Refusal::ALL
                .iter()
                .filter(|r| g.metrics().refusals(**r) > 0)
                .map(|r| format!("{r}={}", g.metrics().refusals(*r)))
                .collect();
            eprintln!("gateway refusals: {refused:?}, devices connected: {}", g.devices_connected());
        }
    }
    assert_exactly_once_in(&env.db().await?, outcomes).await
}

/// What the database holds for `device`: its commit positions, stored readings and refusals,
/// to explain a device that was not confirmed.
async fn what_the_database_says(db: &tokio_postgres::Client, device: &str) -> String {
    let positions = db
        .query("SELECT boot, committed_seq FROM device_positions WHERE device_id = $1", &[&device])
        .await
        .map(|rows| rows.iter().map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1))).collect::<Vec<_>>());
    let stored = db
        .query_one("SELECT count(*), max(seq) FROM readings WHERE device_id = $1", &[&device])
        .await
        .map(|r| (r.get::<_, i64>(0), r.get::<_, Option<i64>>(1)));
    let refused = db
        .query(
            "SELECT reason, count(*), min(detail) FROM rejected_messages WHERE device_id = $1 GROUP BY 1",
            &[&device],
        )
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1), r.get::<_, String>(2)))
                .collect::<Vec<_>>()
        });
    format!("positions {positions:?}, stored (count, max seq) {stored:?}, refused {refused:?}")
}

/// [`assert_exactly_once`] against the database `db`.
pub async fn assert_exactly_once_in(db: &tokio_postgres::Client, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let recorded: i64 = outcomes.iter().map(|o| i64::from(o.recorded)).sum();
    for o in outcomes {
        if !o.complete {
            let why = what_the_database_says(db, &o.device).await;
            panic!("{} did not get every reading confirmed: {o:?}; {why}", o.device);
        }
        assert_eq!(o.confirmed, o.recorded, "{}", o.device);
    }
    let devices: Vec<&str> = outcomes.iter().map(|o| o.device.as_str()).collect();
    let (all, distinct, rolled_up) = stored(db, &devices).await?;
    assert_eq!(distinct, recorded, "stored rows = distinct readings sent");
    assert_eq!(all, distinct, "no duplicates");
    assert_eq!(rolled_up, distinct, "each reading counted once in the hourly rollup");
    Ok(())
}
