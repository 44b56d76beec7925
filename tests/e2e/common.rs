//! One test's own world: a temporary PKI, a private PostgreSQL, a real gateway on a free port
//! (restartable on the same port), collectors in-process or as separate processes, and
//! simulated devices running the firmware core over mutual TLS.

#![allow(dead_code)]

use dampwatch_collector::{Collector, Config};
use dampwatch_gateway::Gateway;
use dampwatch_pg::PrivatePostgres;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use dampwatch_bench::fleet;

pub use fleet::{DeviceSpec, Outcome, Plan};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub pg: PrivatePostgres,
    pub gateway: Option<Gateway>,
    pub port: u16,
}

pub fn gateway_config(pki: &std::path::Path, port: u16) -> dampwatch_gateway::Config {
    let mut g = dampwatch_gateway::Config::default().with_pki_dir(pki);
    g.listen.address = SocketAddr::from(([127, 0, 0, 1], port));
    g.listen.metrics_address = None;
    g.limits.connections_per_second_per_source = 10_000.0;
    g.limits.connection_burst_per_source = 10_000.0;
    g.limits.device_connects_per_minute = 6_000;
    g.limits.device_messages_per_second = 1_000.0;
    g.limits.device_message_burst = 1_000.0;
    g.limits.drain_timeout = Duration::from_millis(200);
    g
}

impl Env {
    pub async fn start() -> anyhow::Result<Env> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir()?;
        dampwatch_pki::init(&dir.path().join("pki"), Default::default())?;
        let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
        dampwatch_store::prepare_database(&pg.url()).await?;
        let gateway = Gateway::start(gateway_config(&dir.path().join("pki"), 0)).await?;
        let port = gateway.local_addr().port();
        Ok(Env { dir, pg, gateway: Some(gateway), port })
    }

    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        Ok(dampwatch_store::connect(&self.pg.url()).await?)
    }

    /// Stops the gateway (its broker and every session with it).
    pub async fn stop_gateway(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
    }

    /// Starts a new gateway on the same port (a fresh broker: no sessions survive).
    pub async fn start_gateway(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Gateway::start(gateway_config(&self.pki(), self.port)).await {
                Ok(g) => {
                    self.gateway = Some(g);
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    tracing_note(&format!("gateway restart: {e}; retrying"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A collector configuration for this world.
    pub fn collector_config(&self, client_id: &str, share_group: &str) -> Config {
        let mut c = Config::default().with_pki_dir(&self.pki());
        c.database.url = self.pg.url();
        c.mqtt.port = self.port;
        c.mqtt.client_id = client_id.into();
        c.mqtt.share_group = share_group.into();
        c.http.address = String::new();
        c.intake.retry_initial = Duration::from_millis(100);
        c.intake.retry_max = Duration::from_secs(1);
        c.intake.registry_cache = Duration::from_millis(200);
        c
    }

    pub async fn start_collector(&self, client_id: &str, share_group: &str) -> anyhow::Result<Collector> {
        Collector::start(self.collector_config(client_id, share_group)).await
    }

    /// Issues a device's credentials and registers it.
    pub async fn provision(&self, landlord: &str, device: &str) -> anyhow::Result<DeviceSpec> {
        self.provision_in(&self.db().await?, landlord, device).await
    }

    /// Issues a device's credentials and registers it in the registry `db`.
    pub async fn provision_in(
        &self,
        db: &tokio_postgres::Client,
        landlord: &str,
        device: &str,
    ) -> anyhow::Result<DeviceSpec> {
        let seed = dampwatch_tests::provision_device(&self.pki(), db, landlord, device).await?;
        Ok(DeviceSpec {
            landlord: landlord.into(),
            device: device.into(),
            seed,
            boot: 1,
            tls: fleet::device_tls(&self.pki(), device)?,
        })
    }

    pub async fn provision_many(
        &self,
        landlord: &str,
        prefix: &str,
        n: usize,
    ) -> anyhow::Result<Vec<DeviceSpec>> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(self.provision(landlord, &format!("{prefix}-{i}")).await?);
        }
        Ok(out)
    }

    /// A plan for `readings` readings per device at `rate` per second, due within `secs`.
    pub fn plan(&self, readings: u32, rate: Option<f64>, secs: u64) -> Plan {
        Plan {
            readings,
            rate,
            batch: 10,
            linger: Duration::from_millis(100),
            ack_timeout_s: 10,
            port: self.port,
            stop_recording: None,
            deadline: Instant::now() + Duration::from_secs(secs),
            collector_keys: fleet::collector_keys(&self.pki())
                .expect("the PKI holds the collector's downlink key"),
        }
    }

    /// Writes a configuration file for a collector process.
    pub fn write_collector_file(&self, client_id: &str, share_group: &str) -> anyhow::Result<PathBuf> {
        self.write_collector_file_with(client_id, share_group, &format!("url = {:?}", self.pg.url()))
    }

    /// Writes a configuration file for a collector process whose `[database]` section is
    /// `database` (TOML lines).
    pub fn write_collector_file_with(
        &self,
        client_id: &str,
        share_group: &str,
        database: &str,
    ) -> anyhow::Result<PathBuf> {
        let pki = self.pki();
        let text = format!(
            "[database]\n{database}\n\n[mqtt]\nport = {port}\nclient_id = {client_id:?}\nshare_group = {share_group:?}\n\n\
             [tls]\nca = {ca:?}\ncert = {cert:?}\nkey = {key:?}\ndownlink_keys = {pki:?}\n\n\
             [intake]\nretry_initial = \"100ms\"\nretry_max = \"1s\"\n\n[http]\naddress = \"127.0.0.1:0\"\n",
            port = self.port,
            ca = pki.join("ca.pem"),
            cert = pki.join("services/collector/cert.pem"),
            key = pki.join("services/collector/key.pem"),
        );
        let path = self.dir.path().join(format!("{client_id}.toml"));
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Runs the `dampwatch-collector` binary as its own process.
    pub fn spawn_collector(&self, client_id: &str, share_group: &str) -> anyhow::Result<CollectorProcess> {
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
    tokio::spawn(async move {
        let handles: Vec<_> = specs
            .into_iter()
            .map(|s| tokio::spawn(fleet::run_device(s, plan.clone(), stop.clone())))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            match h.await {
                Ok(Ok(o)) => out.push(o),
                Ok(Err(e)) => panic!("device failed: {e}"),
                Err(e) => panic!("device task failed: {e}"),
            }
        }
        out
    })
}

/// The collector binary as a child process; killed with SIGKILL when dropped.
pub struct CollectorProcess {
    child: Child,
    pub metrics_addr: SocketAddr,
    /// The database it stores into, as it announced it.
    pub db_url: String,
}

impl CollectorProcess {
    pub fn spawn(config: &std::path::Path) -> anyhow::Result<CollectorProcess> {
        let mut child = Command::new(dampwatch_tests::binary("dampwatch-collector", "dampwatch-collector")?)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut db_url = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("dampwatch-collector storing into ") {
                    db_url = rest.to_owned();
                }
                if let Some(rest) = line.strip_prefix("metrics on http://") {
                    let _ = tx.send((rest.trim_end_matches("/metrics").to_owned(), db_url.clone()));
                }
            }
        });
        let (addr, db_url) = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow::anyhow!("the collector process did not start"))?;
        Ok(CollectorProcess { child, metrics_addr: addr.parse()?, db_url })
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").await?;
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

/// Waits until `f` holds, polling every 50 ms; false on timeout.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Asserts the end state every fault test must reach: every device confirmed everything, and
/// the database holds exactly the readings recorded, each once.
pub async fn assert_exactly_once(env: &Env, outcomes: &[Outcome]) -> anyhow::Result<()> {
    assert_exactly_once_in(&env.db().await?, outcomes).await
}

/// [`assert_exactly_once`] against the database `db`.
pub async fn assert_exactly_once_in(db: &tokio_postgres::Client, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let recorded: i64 = outcomes.iter().map(|o| i64::from(o.recorded)).sum();
    for o in outcomes {
        assert!(o.complete, "{} did not get every reading confirmed: {o:?}", o.device);
        assert_eq!(o.confirmed, o.recorded, "{}", o.device);
    }
    let devices: Vec<&str> = outcomes.iter().map(|o| o.device.as_str()).collect();
    let (all, distinct, rolled_up) = stored(db, &devices).await?;
    assert_eq!(distinct, recorded, "stored rows = distinct readings sent");
    assert_eq!(all, distinct, "no duplicates");
    assert_eq!(rolled_up, distinct, "each reading counted once in the hourly rollup");
    Ok(())
}

fn tracing_note(s: &str) {
    eprintln!("{s}");
}
