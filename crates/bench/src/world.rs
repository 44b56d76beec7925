//! What the benchmark stands on: a private non-durable PostgreSQL, a temporary PKI with one
//! credential per simulated device, the registry, and a gateway on a free loopback port. All
//! of it is removed when the world is dropped.

use super::fleet::{self, DeviceSpec};
use dampwatch_collector::Config;
use dampwatch_gateway::Gateway;
use dampwatch_pg::PrivatePostgres;
use dampwatch_pki::{IssueOptions, Paths};
use std::path::PathBuf;
use std::time::Duration;

pub const LANDLORD: &str = "bench";

pub struct World {
    pub dir: tempfile::TempDir,
    pub pg: PrivatePostgres,
    pub gateway: Option<Gateway>,
    pub devices: Vec<DeviceSpec>,
}

impl World {
    pub async fn build(devices: usize) -> anyhow::Result<World> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::Builder::new().prefix("dampwatch-bench-").tempdir()?;
        let pki = dir.path().join("pki");
        dampwatch_pki::init(&pki, Default::default())?;
        let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
        dampwatch_store::prepare_database(&pg.url()).await?;

        let db = dampwatch_store::connect(&pg.url()).await?;
        let mut specs = Vec::with_capacity(devices);
        for i in 0..devices {
            let id = format!("bench-{i:05}");
            let issued = dampwatch_pki::issue_device(&pki, LANDLORD, &id, IssueOptions::default())?;
            dampwatch_store::registry::add_device(
                &db,
                &dampwatch_store::registry::NewDevice {
                    id: &id,
                    landlord: LANDLORD,
                    public_key: &issued.signing_public_key,
                    key_id: 1,
                    cert_serial: Some(issued.serial.to_string()),
                    provisioned_at: Some(std::time::SystemTime::UNIX_EPOCH.into()),
                },
            )
            .await?;
            let seed = dampwatch_pki::load_signing_seed(&Paths::new(&pki).device_signing_key(&id))?;
            specs.push(DeviceSpec {
                landlord: LANDLORD.into(),
                device: id.clone(),
                seed,
                boot: 1,
                tls: fleet::device_tls(&pki, &id)?,
            });
        }
        let mut g = dampwatch_gateway::Config::default().with_pki_dir(&pki);
        g.listen.address = "127.0.0.1:0".parse()?;
        g.listen.metrics_address = None;
        // The gateway's per-device and per-source limits protect a real deployment; here every
        // device is on 127.0.0.1 and publishes far faster than a real one.
        g.limits.connections_per_second_per_source = 100_000.0;
        g.limits.connection_burst_per_source = 100_000.0;
        g.limits.device_connects_per_minute = 100_000;
        g.limits.device_messages_per_second = 100_000.0;
        g.limits.device_message_burst = 100_000.0;
        g.limits.drain_timeout = Duration::from_millis(200);
        let gateway = Gateway::start(g).await?;
        Ok(World { dir, pg, gateway: Some(gateway), devices: specs })
    }

    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    pub fn port(&self) -> u16 {
        self.gateway.as_ref().map_or(0, |g| g.local_addr().port())
    }

    /// The embedded broker's plain loopback listener (for the replay publisher).
    pub fn broker_v4(&self) -> Option<std::net::SocketAddr> {
        self.gateway.as_ref().map(|g| g.broker_addrs().v4)
    }

    /// A collector configuration for this world.
    pub fn collector_config(&self) -> Config {
        let mut c = Config::default().with_pki_dir(&self.pki());
        c.database.url = self.pg.url();
        c.mqtt.port = self.port();
        c.http.address = String::new();
        // Each simulated device sends as fast as it can, thousands of readings a minute: far
        // past a real device's hourly budget, which is not what is measured here.
        c.intake.device_readings_per_hour = u32::MAX;
        c
    }

    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        Ok(dampwatch_store::connect(&self.pg.url()).await?)
    }

    pub async fn shutdown(mut self) {
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
        let pg = self.pg;
        let _ = tokio::task::spawn_blocking(move || drop(pg)).await;
    }
}
