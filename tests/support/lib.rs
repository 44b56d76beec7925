//! A whole Dampwatch stack for one test: a temporary PKI, a private PostgreSQL, the gateway on
//! a free loopback port and the collector, all real and in-process. Every test gets its own,
//! so tests run in parallel.

mod binary;

pub use binary::binary;

use dampwatch_collector::Collector;
use dampwatch_gateway::Gateway;
use dampwatch_pg::PrivatePostgres;
use dampwatch_pki::{IssueOptions, Paths};
use rumqttc::{AsyncClient, EventLoop, MqttOptions, TlsConfiguration, Transport};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub pg: PrivatePostgres,
    pub gateway: Gateway,
    pub collector: Collector,
}

impl Stack {
    pub async fn start() -> anyhow::Result<Stack> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir()?;
        dampwatch_pki::init(&pki_dir(dir.path()), Default::default())?;
        let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
        let mut gcfg = dampwatch_gateway::Config::default().with_pki_dir(&pki_dir(dir.path()));
        gcfg.listen.address = "127.0.0.1:0".parse()?;
        gcfg.listen.metrics_address = None;
        let gateway = Gateway::start(gcfg).await?;
        let mut ccfg = dampwatch_collector::Config::default().with_pki_dir(&pki_dir(dir.path()));
        ccfg.database.url = pg.url();
        ccfg.mqtt.port = gateway.local_addr().port();
        ccfg.http.address = String::new();
        // Tests' webhook receivers are plain http on 127.0.0.1: the development flag, so the
        // collector's own hazard worker may deliver to them too.
        ccfg.alerts.webhooks.dev_loopback_http = true;
        let collector = Collector::start(ccfg).await?;
        Ok(Stack { dir, pg, gateway, collector })
    }

    pub fn pki(&self) -> PathBuf {
        pki_dir(self.dir.path())
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        Ok(dampwatch_store::connect(&self.pg.url()).await?)
    }

    /// Issues a device certificate and signing key and registers the device.
    pub async fn provision(&self, landlord: &str, device: &str) -> anyhow::Result<[u8; 32]> {
        provision_device(&self.pki(), &self.db().await?, landlord, device).await
    }

    /// The collector's downlink public keys a device of this stack is provisioned with.
    pub fn collector_keys(&self) -> anyhow::Result<dampwatch_firmware::CollectorKeys> {
        let keys: Vec<_> = dampwatch_pki::trusted_downlink_keys(&self.pki())?
            .into_iter()
            .map(|k| dampwatch_firmware::CollectorKey { key_id: k.key_id, public_key: k.public_key })
            .collect();
        dampwatch_firmware::CollectorKeys::new(&keys).map_err(|e| anyhow::anyhow!("collector keys: {e}"))
    }

    /// An MQTT client speaking mutual TLS with the device's certificate.
    pub fn device_client(&self, device: &str) -> anyhow::Result<(AsyncClient, EventLoop)> {
        let paths = Paths::new(self.pki());
        let mut roots = rustls::RootCertStore::empty();
        for ca in dampwatch_pki::load_ca_certs(&paths.ca_cert())? {
            roots.add(ca)?;
        }
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_client_auth_cert(
            dampwatch_pki::load_cert_chain(&paths.device_cert(device))?,
            dampwatch_pki::load_private_key(&paths.device_key(device))?,
        )?;
        let mut opts = MqttOptions::new(device, "127.0.0.1", self.gateway_addr().port());
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls))));
        Ok(AsyncClient::new(opts, 64))
    }
}

/// Issues a device's certificate and signing key in `pki` and registers it in `db` (installed
/// long ago, so no reading of a test is dated before it); returns its signing seed.
pub async fn provision_device(
    pki: &Path,
    db: &tokio_postgres::Client,
    landlord: &str,
    device: &str,
) -> anyhow::Result<[u8; 32]> {
    let issued = dampwatch_pki::issue_device(pki, landlord, device, IssueOptions::default())?;
    dampwatch_store::registry::add_device(
        db,
        &dampwatch_store::registry::NewDevice {
            id: device,
            landlord,
            public_key: &issued.signing_public_key,
            key_id: 1,
            cert_serial: Some(issued.serial.to_string()),
            provisioned_at: Some(std::time::SystemTime::UNIX_EPOCH.into()),
        },
    )
    .await?;
    Ok(dampwatch_pki::load_signing_seed(&Paths::new(pki).device_signing_key(device))?)
}

fn pki_dir(root: &Path) -> PathBuf {
    root.join("pki")
}

/// The hazard worker's configuration for tests: fast polls and retries, and plain http to
/// webhook receivers on 127.0.0.1 (the development flag).
pub fn fast_alerts_config() -> dampwatch_alerts::AlertsConfig {
    let mut c = dampwatch_alerts::AlertsConfig::default();
    c.worker.poll_interval = std::time::Duration::from_millis(100);
    c.webhooks.poll_interval = std::time::Duration::from_millis(100);
    c.webhooks.backoff_initial = std::time::Duration::from_millis(50);
    c.webhooks.backoff_max = std::time::Duration::from_millis(400);
    c.webhooks.request_timeout = std::time::Duration::from_secs(5);
    c.webhooks.lease = std::time::Duration::from_secs(30);
    c.webhooks.dev_loopback_http = true;
    c
}

/// Whether a recorded webhook request carries a valid signature made with `secret`, as a
/// landlord's receiver checks it.
pub fn signed_by(request: &dampwatch_testkit::Received, secret: &str) -> bool {
    let header = |name: &str| request.header(name);
    dampwatch_alerts::signature::verify_request(header, &request.body, secret.as_bytes(), request.unix_s)
        .is_ok()
}
