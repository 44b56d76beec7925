//! The stack and its builder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dampwatch_collector::Collector;
use dampwatch_gateway::Gateway;
use dampwatch_pg::{PrivatePostgres, Temporary};
use rumqttc::{AsyncClient, EventLoop, MqttOptions, TlsConfiguration, Transport};

use crate::device::DeviceSpec;
use crate::gateway::{relaxed_limits, Limits};

type GatewayTweak = Box<dyn Fn(&mut dampwatch_gateway::Config) + Send + Sync>;
type CollectorTweak = Box<dyn FnOnce(&mut dampwatch_collector::Config) + Send>;

/// What to start. By default: PKI, PostgreSQL, a gateway with production limits and one
/// collector with its hazard worker, no HTTP listener.
pub struct StackBuilder {
    dir_prefix: &'static str,
    gateway: bool,
    limits: Limits,
    gateway_tweak: Option<GatewayTweak>,
    collector: Option<CollectorTweak>,
    durable: bool,
    statement_statistics: bool,
}

impl StackBuilder {
    /// PostgreSQL with `pg_stat_statements` loaded and created in the database (see
    /// [`dampwatch_pg::PgOptions::statement_statistics`]).
    pub fn statement_statistics(mut self) -> Self {
        self.statement_statistics = true;
        self
    }

    /// PostgreSQL on disk with the product's durability (fsync and synchronous commit on)
    /// instead of the tests' in-memory, non-durable cluster.
    pub fn durable_database(mut self) -> Self {
        self.durable = true;
        self
    }

    /// Prefix of the temporary directory's name (it tells whose directory a leftover is).
    pub fn dir_prefix(mut self, prefix: &'static str) -> Self {
        self.dir_prefix = prefix;
        self
    }

    /// No gateway (and so no collector, which needs one to subscribe).
    pub fn without_gateway(mut self) -> Self {
        self.gateway = false;
        self.collector = None;
        self
    }

    /// The gateway's limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Changes the gateway's configuration after the stack has set its own (applied again
    /// whenever the gateway is restarted).
    pub fn gateway_config(
        mut self,
        tweak: impl Fn(&mut dampwatch_gateway::Config) + Send + Sync + 'static,
    ) -> Self {
        self.gateway_tweak = Some(Box::new(tweak));
        self
    }

    /// No collector: the test or benchmark starts its own (see [`Stack::collector_config`]).
    pub fn without_collector(mut self) -> Self {
        self.collector = None;
        self
    }

    /// Starts the collector with its configuration changed by `tweak` (after the stack's own).
    pub fn collector_config(
        mut self,
        tweak: impl FnOnce(&mut dampwatch_collector::Config) + Send + 'static,
    ) -> Self {
        self.collector = Some(Box::new(tweak));
        self
    }

    /// Starts everything asked for; the collector has subscribed when this returns.
    pub async fn start(self) -> anyhow::Result<Stack> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::Builder::new().prefix(self.dir_prefix).tempdir()?;
        dampwatch_pki::init(&dir.path().join("pki"), Default::default())?;
        let kind = Temporary { durable: self.durable, statement_statistics: self.statement_statistics };
        let pg = tokio::task::spawn_blocking(move || PrivatePostgres::temporary_with(kind)).await??;
        dampwatch_store::prepare_database(&pg.url()).await?;
        let logins = dampwatch_store::roles::private_logins(&pg, &pg.url()).await?;
        if self.statement_statistics {
            let db = dampwatch_store::connect(&pg.url()).await?;
            db.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await?;
        }
        let mut stack = Stack {
            dir,
            pg,
            logins,
            gateway: None,
            port: 0,
            collector: None,
            limits: self.limits,
            gateway_tweak: self.gateway_tweak,
        };
        if self.gateway {
            let gateway = Gateway::start(stack.gateway_config(0)).await?;
            stack.port = gateway.local_addr().port();
            stack.gateway = Some(gateway);
        }
        if let Some(tweak) = self.collector {
            let mut config = stack.collector_config("collector", "");
            tweak(&mut config);
            let collector = Collector::start(config).await?;
            collector.ready().await;
            stack.collector = Some(collector);
        }
        Ok(stack)
    }
}

/// A running stack; everything stops and is removed when it is dropped.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub pg: PrivatePostgres,
    /// The collector's and the API's own logins (the owner is `pg.url()`).
    pub logins: dampwatch_store::roles::ServiceUrls,
    pub gateway: Option<Gateway>,
    /// The gateway's port on 127.0.0.1 (kept across [`Stack::restart_gateway`]).
    pub port: u16,
    pub collector: Option<Collector>,
    limits: Limits,
    gateway_tweak: Option<GatewayTweak>,
}

impl Stack {
    pub fn builder() -> StackBuilder {
        StackBuilder {
            dir_prefix: "dampwatch-stack-",
            gateway: true,
            limits: Limits::default(),
            gateway_tweak: None,
            collector: Some(Box::new(|_| {})),
            durable: false,
            statement_statistics: false,
        }
    }

    /// PKI, PostgreSQL, gateway and collector with their defaults.
    pub async fn start() -> anyhow::Result<Stack> {
        Stack::builder().start().await
    }

    /// The PKI directory (`DIR/pki`, as in the demo's data directory).
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Where the devices' provisioning bundles are (`DIR/device-bundles`, as in the demo's data
    /// directory): outside the PKI directory, as on real devices.
    pub fn bundles(&self) -> PathBuf {
        self.dir.path().join(dampwatch_pki::cli::DEFAULT_BUNDLES_DIR)
    }

    pub fn db_url(&self) -> String {
        self.pg.url()
    }

    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        Ok(dampwatch_store::connect(&self.pg.url()).await?)
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The collector the stack started.
    ///
    /// # Panics
    /// If the stack was built without one: a mistake in the test, not a condition to handle.
    pub fn collector(&self) -> &Collector {
        self.collector.as_ref().expect("this stack was built without a collector")
    }

    /// The gateway's configuration on `port` (0: any free port).
    pub fn gateway_config(&self, port: u16) -> dampwatch_gateway::Config {
        let mut g = dampwatch_gateway::Config::default().with_pki_dir(&self.pki());
        g.listen.address = SocketAddr::from(([127, 0, 0, 1], port));
        g.listen.metrics_address = None;
        if self.limits == Limits::Relaxed {
            relaxed_limits(&mut g);
        }
        if let Some(tweak) = &self.gateway_tweak {
            tweak(&mut g);
        }
        g
    }

    /// A collector configuration for this stack: its database (each part on its own login)
    /// and gateway, no API or metrics listener, quick retries; `share_group` empty for a
    /// persistent session.
    pub fn collector_config(&self, client_id: &str, share_group: &str) -> dampwatch_collector::Config {
        let mut c = dampwatch_collector::Config::default()
            .with_pki_dir(&self.pki())
            .with_database(&self.pg.url(), &self.logins);
        c.mqtt.port = self.port;
        c.mqtt.client_id = client_id.into();
        c.mqtt.share_group = share_group.into();
        c.http.address = String::new();
        c.metrics.address = String::new();
        c.intake.retry_initial = Duration::from_millis(100);
        c.intake.retry_max = Duration::from_secs(1);
        c.intake.registry_cache = Duration::from_millis(200);
        // Webhook receivers of tests are plain http on 127.0.0.1: the development flag.
        c.alerts.webhooks.dev_loopback_http = true;
        c
    }

    /// Starts another collector on this stack and waits until it has subscribed.
    pub async fn start_collector(&self, client_id: &str, share_group: &str) -> anyhow::Result<Collector> {
        let collector = Collector::start(self.collector_config(client_id, share_group)).await?;
        collector.ready().await;
        Ok(collector)
    }

    /// Stops the gateway (its broker and every session with it).
    pub async fn stop_gateway(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
    }

    /// Starts a new gateway on the same port (a fresh broker: no sessions survive). The port
    /// may be held briefly by the old listener's sockets, so binding is retried for 10 s.
    pub async fn restart_gateway(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Gateway::start(self.gateway_config(self.port)).await {
                Ok(g) => {
                    self.gateway = Some(g);
                    return Ok(());
                }
                Err(dampwatch_gateway::StartError::Listen { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Provisions `device` for `landlord` in this stack's PKI and registry, installed long ago
    /// (so no reading of a test is dated before it).
    pub async fn provision(&self, landlord: &str, device: &str) -> anyhow::Result<DeviceSpec> {
        Ok(self.provision_many_in(&self.pg.url(), landlord, &[device.to_owned()]).await?.remove(0))
    }

    /// [`Stack::provision`] for `count` devices named `{prefix}-{n}`, n from 0.
    pub async fn provision_many(
        &self,
        landlord: &str,
        prefix: &str,
        count: usize,
    ) -> anyhow::Result<Vec<DeviceSpec>> {
        let ids: Vec<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
        self.provision_many_in(&self.pg.url(), landlord, &ids).await
    }

    /// Provisions `ids` in this stack's PKI and bundles directory and in the registry of the
    /// database at `db_url`.
    pub async fn provision_many_in(
        &self,
        db_url: &str,
        landlord: &str,
        ids: &[String],
    ) -> anyhow::Result<Vec<DeviceSpec>> {
        let long_ago = DateTime::<Utc>::UNIX_EPOCH;
        dampwatch_sim::provision::provision(&self.pki(), &self.bundles(), db_url, landlord, ids, long_ago)
            .await?;
        credentials(&self.bundles(), landlord, ids).await
    }

    /// The collector's downlink public keys a device of this stack trusts.
    pub fn collector_keys(&self) -> anyhow::Result<dampwatch_firmware::CollectorKeys> {
        Ok(dampwatch_sim::provision::collector_keys(&self.pki())?)
    }

    /// An MQTT client speaking mutual TLS with `device`'s certificate, not yet connected.
    pub fn device_client(&self, device: &str) -> anyhow::Result<(AsyncClient, EventLoop)> {
        let tls = dampwatch_pki::Bundle::of(&self.bundles(), device).client_tls()?;
        let mut opts = MqttOptions::new(device, "127.0.0.1", self.port);
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
        Ok(AsyncClient::new(opts, 64))
    }

    /// Stops the collector and the gateway gracefully, then the cluster (off the runtime).
    pub async fn shutdown(mut self) {
        if let Some(c) = self.collector.take() {
            c.shutdown().await;
        }
        self.stop_gateway().await;
        let pg = self.pg;
        let _ = tokio::task::spawn_blocking(move || drop(pg)).await;
    }
}

/// The devices' credentials from their bundles (blocking reads, off the runtime).
async fn credentials(bundles: &Path, landlord: &str, ids: &[String]) -> anyhow::Result<Vec<DeviceSpec>> {
    let (bundles, landlord, ids) = (bundles.to_owned(), landlord.to_owned(), ids.to_vec());
    tokio::task::spawn_blocking(move || {
        Ok(dampwatch_sim::fleet::load(&bundles, &landlord, &ids)?
            .into_iter()
            .map(|c| DeviceSpec {
                landlord: landlord.clone(),
                device: c.id,
                seed: c.signing_seed,
                boot: 1,
                tls: c.tls,
            })
            .collect())
    })
    .await?
}
