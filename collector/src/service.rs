//! The collector as a whole: database (a URL, or the private PostgreSQL under its data
//! directory), migrations, the MQTT intake, the pipeline, and two listeners: the landlord API
//! (public, HTTPS) and `/metrics` with `/health` (private, plain HTTP). Keeping them apart
//! means the public listener answers nothing but the API, and a scraper needs no API key or
//! certificate.

use crate::config::Config;
use crate::downlink::{DownlinkSigner, SendConfigError, SentConfig};
use crate::error::StartError;
use crate::intake::{self, AckGate, EventLoopTask};
use crate::logins::Logins;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::upstream::{self, ClusterIntake, Upstream};
use axum::http::header;
use axum::routing::get;
use dampwatch_cluster::UpstreamKind;
use dampwatch_pg::{PgOptions, PrivatePostgres};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the collectors' group lag and the stream's size are read from the cluster.
const CLUSTER_STATE_EVERY: Duration = Duration::from_secs(5);

/// A running collector.
pub struct Collector {
    /// Where each part connects; `owner` is the URL given or the private cluster's.
    logins: Logins,
    metrics: Arc<Metrics>,
    metrics_addr: Option<SocketAddr>,
    /// The landlord API's listener and its URL scheme (`https`, or `http` behind a proxy).
    api_addr: Option<(SocketAddr, &'static str)>,
    /// Stop taking uplinks, finish and acknowledge what was received.
    drain: CancellationToken,
    stop: CancellationToken,
    event_loop: JoinHandle<()>,
    pipeline: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    hazards: dampwatch_alerts::Worker,
    /// The message layer, for downlinks the collector sends of its own accord.
    upstream: Upstream,
    signer: Arc<DownlinkSigner>,
    /// Whether the uplink subscription is in place (see [`Collector::ready`]).
    ready: tokio::sync::watch::Receiver<bool>,
    /// `DATA_DIR/database-url` while the private cluster runs (removed before it stops).
    _url_file: Option<DatabaseUrlFile>,
    /// The private cluster, when no URL was configured; stopped when the collector is dropped.
    _embedded: Option<PrivatePostgres>,
}

pub use dampwatch_store::DatabaseUrlFile;

/// Starts the private PostgreSQL cluster under `data_dir` (blocking work off the runtime).
pub async fn start_embedded_postgres(data_dir: std::path::PathBuf) -> Result<PrivatePostgres, StartError> {
    let dir = data_dir.clone();
    tokio::task::spawn_blocking(move || PrivatePostgres::start(PgOptions::new(data_dir)))
        .await?
        .map_err(|source| StartError::EmbeddedPostgres { dir, source })
}

use dampwatch_store::prepare_database_when_up;

/// The key that signs the head of the audit log, when the PKI directory holds one. Without one
/// the collector still runs (the database chains the log whoever signs it) and says so once;
/// one that is there but unreadable stops the start, since the operator meant the log signed.
fn load_audit_signer(cfg: &Config) -> Result<Option<dampwatch_audit::CheckpointSigner>, StartError> {
    if !dampwatch_pki::has_audit_signing_key(&cfg.audit.keys) {
        tracing::info!(
            dir = %cfg.audit.keys.display(),
            "no audit checkpoint key: the audit log is not signed (`dampwatch pki rotate-audit-key` makes one)"
        );
        return Ok(None);
    }
    dampwatch_audit::CheckpointSigner::load(&cfg.audit.keys).map(Some).map_err(StartError::AuditKey)
}

/// `[alerts]` as the hazard worker runs it: webhook secrets sealed under the key in the PKI
/// directory unless `[alerts.webhooks] secrets_key` names another.
fn alerts_config(cfg: &Config) -> dampwatch_alerts::config::AlertsConfig {
    let mut alerts = cfg.alerts.clone();
    if alerts.webhooks.secrets_key.as_os_str().is_empty() {
        alerts.webhooks.secrets_key = cfg.tls.downlink_keys.join(dampwatch_alerts::secrets::KEY_FILE);
    }
    alerts
}

/// Seals people's TOTP secrets stored in clear (by a release before they were sealed).
async fn seal_clear_totp_secrets(
    db_url: &str,
    key: &dampwatch_privacy::SecretsKey,
) -> Result<(), StartError> {
    use dampwatch_accounts::totp_secret::{seal_clear_secrets, TotpSecretError};
    let client = dampwatch_store::connect(db_url)
        .await
        .map_err(|e| StartError::SealTotpSecrets(TotpSecretError::Db(e)))?;
    let sealed = seal_clear_secrets(&client, key).await.map_err(StartError::SealTotpSecrets)?;
    if sealed > 0 {
        tracing::info!(people = sealed, key = key.id(), "sealed TOTP secrets stored in clear");
    }
    Ok(())
}

/// Signs the head of the audit log at once and then every `[audit] checkpoint_every`.
fn start_audit_checkpoints(
    signer: dampwatch_audit::CheckpointSigner,
    cfg: &Config,
    db_url: &str,
    stop: &CancellationToken,
) -> Result<JoinHandle<()>, StartError> {
    // Waiting longer than a round would only make rounds pile up behind a dead database.
    let wait = cfg.audit.checkpoint_every.min(Duration::from_secs(30));
    let pool = dampwatch_audit::pool(db_url, wait).map_err(StartError::DatabaseUrl)?;
    Ok(tokio::spawn(dampwatch_audit::run_checkpoints(pool, signer, cfg.audit.checkpoint_every, stop.clone())))
}

impl Collector {
    pub async fn start(cfg: Config) -> Result<Collector, StartError> {
        cfg.validate()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Before anything else: without its downlink key the collector could confirm nothing
        // to a device (devices refuse unsigned acknowledgements).
        let signer = Arc::new(DownlinkSigner::load(&cfg.tls.downlink_keys)?);
        // Also before the database: a missing HTTPS certificate is a mistake to report at once.
        let api_listener = match (cfg.http.address.as_str(), cfg.api.enabled) {
            ("", _) => None,
            (_, false) => {
                tracing::info!("[api] enabled is false: the [http] listener is not started");
                None
            }
            (a, true) => {
                let addr = listen_address("http.address", a)?;
                Some((addr, api_transport(&cfg, addr)?))
            }
        };
        let audit_signer = load_audit_signer(&cfg)?;
        let (owner_url, embedded) = if cfg.database.url.is_empty() {
            let pg = start_embedded_postgres(cfg.database.data_dir.join("postgres")).await?;
            (pg.url(), Some(pg))
        } else {
            (cfg.database.url.clone(), None)
        };
        prepare_database_when_up(&owner_url, cfg.intake.retry_backoff()).await?;
        let logins = Logins::prepare(&cfg.database, &owner_url, embedded.as_ref()).await?;
        // Like `dampwatch demo`, publish the private cluster's URL in the data directory, where
        // `dampwatch devices --data-dir` and `dampwatch sim --data-dir` look for it.
        let url_file = match &embedded {
            Some(_) => Some(
                DatabaseUrlFile::write(&cfg.database.data_dir, &logins.owner).map_err(StartError::UrlFile)?,
            ),
            None => None,
        };
        // Everything the collector does from here on, it does as its own login.
        let db_url = logins.collector.clone();

        let metrics = Arc::new(Metrics::default());
        let stop = CancellationToken::new();
        let drain = CancellationToken::new();
        // With the broker: larger than its in-flight window (100), so the event loop never waits
        // on it. With the cluster, whose fetches take as much as they are given: one batch, so a
        // collector holds a few batches beyond the one it stores (the one being checked, one
        // checked and waiting: `pipeline`), and no more (what it holds, others cannot take).
        let channel = match cfg.upstream.kind {
            UpstreamKind::Broker => 1024,
            UpstreamKind::Cluster => cfg.intake.max_batch_uplinks,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(channel);
        let (subscribed, ready) = tokio::sync::watch::channel(false);
        let mut background = Vec::new();
        let (upstream, event_loop) = match cfg.upstream.kind {
            UpstreamKind::Broker => {
                let (client, eventloop) = intake::connect(&cfg)?;
                let gate = Arc::new(AckGate::default());
                let event_loop = tokio::spawn(intake::run_event_loop(EventLoopTask {
                    eventloop,
                    client: client.clone(),
                    filter: cfg.uplink_filter(),
                    tx,
                    gate: gate.clone(),
                    metrics: metrics.clone(),
                    subscribed,
                    drain: drain.clone(),
                    stop: stop.clone(),
                }));
                (Upstream::Broker { client, gate }, event_loop)
            }
            UpstreamKind::Cluster => {
                let (consumer, downlinks) = upstream::join_cluster(&cfg.upstream, &cfg.mqtt.client_id)
                    .await
                    .map_err(StartError::Cluster)?;
                let downlinks = Arc::new(downlinks);
                background.push(tokio::spawn(upstream::watch_cluster(
                    consumer.clone(),
                    downlinks.clone(),
                    metrics.clone(),
                    CLUSTER_STATE_EVERY,
                    stop.clone(),
                )));
                let event_loop = tokio::spawn(upstream::run_cluster_intake(ClusterIntake {
                    consumer,
                    fetch: cfg.intake.max_batch_uplinks,
                    tx,
                    metrics: metrics.clone(),
                    ready: subscribed,
                    drain: drain.clone(),
                    stop: stop.clone(),
                }));
                (Upstream::Cluster { downlinks, acks: tokio_util::task::TaskTracker::new() }, event_loop)
            }
        };
        // Hazard indicators, alerts, cases, webhooks and people's e-mails on committed readings
        // (reads the hazard inbox the pipeline writes in each commit).
        let alerts = alerts_config(&cfg);
        // One secrets key seals webhook secrets (the hazard worker) and people's TOTP secrets
        // (the API); any TOTP secret still in clear is sealed before the API answers.
        let secrets_key = Arc::new(
            dampwatch_privacy::SecretsKey::open_or_create(&alerts.webhooks.secrets_key)
                .map_err(dampwatch_alerts::StartError::SecretsKey)?,
        );
        seal_clear_totp_secrets(&db_url, &secrets_key).await?;
        let hazards = dampwatch_alerts::start_with_email(&db_url, alerts, &cfg.email, stop.clone()).await?;
        let api = match api_listener {
            None => None,
            Some((addr, transport)) => {
                let clock = dampwatch_clock::Clock::from_config(&cfg.alerts.clock, None)?;
                // The hazard worker started above with the same section, so it is valid.
                let engines = dampwatch_alerts::occupant_engines::OccupantEngines::new(&cfg.alerts.engine)
                    .map_err(|e| dampwatch_alerts::StartError::Config(e.into()))?;
                // Packs are sealed with the audit key the checkpoints are signed with.
                let evidence = dampwatch_api::state::EvidenceSource {
                    pki_dir: cfg.audit.keys.clone(),
                    clock: cfg.alerts.clock.clone(),
                };
                let state = dampwatch_api::ApiState::connect(&logins.api, clock, cfg.api.clone())?
                    .with_hazard_engines(engines)
                    .with_evidence(evidence)
                    .with_secrets_key(secrets_key.clone());
                Some((addr, state, transport))
            }
        };
        let listener_stats = Arc::new(dampwatch_api::ListenerStats::default());
        // One registry for the whole service: the intake's metrics, the hazard worker's and the
        // API's, in one scrape.
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        hazards.webhook_stats().register(&mut registry);
        hazards.hazard_stats().register(&mut registry);
        if let Some((_, state, _)) = &api {
            state.register_metrics(&mut registry);
            listener_stats.register(&mut registry);
        }
        let header_read_timeout = cfg.api.header_read_timeout;
        let metrics_addr = match cfg.metrics.address.as_str() {
            "" => None,
            a => {
                let addr = listen_address("metrics.address", a)?;
                let options = dampwatch_api::ServerOptions {
                    transport: dampwatch_api::Transport::Plain,
                    header_read_timeout,
                    stats: Arc::default(),
                };
                Some(serve(addr, metrics_router(registry, metrics.clone()), options, stop.clone()).await?)
            }
        };
        let api_addr = match api {
            None => None,
            Some((addr, state, transport)) => {
                let scheme = transport.scheme();
                let options =
                    dampwatch_api::ServerOptions { transport, header_read_timeout, stats: listener_stats };
                let bound = serve(addr, dampwatch_api::router(state), options, stop.clone()).await?;
                tracing::info!(address = %bound, scheme, "landlord API listening");
                Some((bound, scheme))
            }
        };
        background.push(tokio::spawn(crate::retention::run(
            db_url.clone(),
            cfg.retention.clone(),
            metrics.clone(),
            stop.clone(),
        )));
        if let Some(audit_signer) = audit_signer {
            background.push(start_audit_checkpoints(audit_signer, &cfg, &db_url, &stop)?);
        }
        let pipeline = Pipeline {
            cfg,
            db_url: db_url.clone(),
            upstream: upstream.clone(),
            metrics: metrics.clone(),
            stop: stop.clone(),
            signer: signer.clone(),
        };
        let pipeline = tokio::spawn(pipeline.run(rx));
        Ok(Collector {
            ready,
            logins,
            metrics,
            metrics_addr,
            api_addr,
            drain,
            stop,
            event_loop,
            pipeline,
            background,
            hazards,
            upstream,
            signer,
            _url_file: url_file,
            _embedded: embedded,
        })
    }

    /// The database URL given, or the private cluster's: the schema owner's.
    pub fn db_url(&self) -> &str {
        &self.logins.owner
    }

    /// The URL the collector's own work connects with (its login, or the one configured).
    pub fn collector_db_url(&self) -> &str {
        &self.logins.collector
    }

    /// The URL the landlord API connects with.
    pub fn api_db_url(&self) -> &str {
        &self.logins.api
    }

    /// Resolves once the broker has acknowledged the uplink subscription (at once if it
    /// already has): from then on every uplink published reaches this collector or its share
    /// group. After a lost connection it waits for the next subscription.
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        // The sender lives as long as the event loop; if that ended, there is nothing to wait for.
        let _ = ready.wait_for(|subscribed| *subscribed).await;
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The address of `/metrics` and `/health` (plain HTTP), unless `[metrics] address` is
    /// empty.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address of the landlord API, unless `[http] address` is empty or the API disabled.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api_addr.map(|(addr, _)| addr)
    }

    /// The landlord API's base URL, e.g. `https://127.0.0.1:9884`.
    pub fn api_url(&self) -> Option<String> {
        self.api_addr.map(|(addr, scheme)| format!("{scheme}://{addr}"))
    }

    /// The generation of the downlink key this collector signs with.
    pub fn downlink_key_id(&self) -> u32 {
        self.signer.key_id()
    }

    /// Sends `settings` to `device`: signed for its latest boot in the database, with its next
    /// configuration counter, published retained on its config topic. Zero fields keep the
    /// device's current values.
    pub async fn configure_device(
        &self,
        device: &str,
        settings: dampwatch_proto::v1::DeviceConfig,
    ) -> Result<SentConfig, SendConfigError> {
        let db = dampwatch_store::connect(&self.logins.collector).await?;
        crate::downlink::send_config(&self.upstream, &db, &self.signer, device, settings).await
    }

    /// Stops gracefully: unsubscribes, stores and acknowledges what was already received (for at
    /// most `DRAIN_TIMEOUT`; what is left is redelivered to the next collector), then
    /// disconnects. Leaving a share group this way hands nothing in flight to the broker.
    pub async fn shutdown(self) {
        const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
        self.drain.cancel();
        let mut pipeline = self.pipeline;
        if tokio::time::timeout(DRAIN_TIMEOUT, &mut pipeline).await.is_err() {
            tracing::warn!("shutdown: the intake did not drain in time; the broker redelivers the rest");
        }
        self.upstream.finish_acknowledging(Duration::from_secs(3)).await;
        self.stop.cancel();
        pipeline.abort();
        let _ = tokio::time::timeout(Duration::from_secs(3), self.event_loop).await;
        for t in self.background {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(3), self.hazards.join()).await {
            tracing::warn!(error = %e, "the hazard worker stopped with an error");
        }
    }
}

fn listen_address(key: &'static str, value: &str) -> Result<SocketAddr, StartError> {
    value.parse().map_err(|_| StartError::ListenAddress { key, value: value.to_owned() })
}

/// HTTPS with the configured certificate, or plain HTTP when `[http] plain_http` says a proxy
/// terminates TLS (warned about unless on loopback: keys and tenants' data would cross the
/// network in clear if the proxy were missing).
fn api_transport(cfg: &Config, addr: SocketAddr) -> Result<dampwatch_api::Transport, StartError> {
    if cfg.http.plain_http {
        if !addr.ip().is_loopback() {
            tracing::warn!(
                address = %addr,
                "the landlord API serves plain HTTP on a non-loopback address (http.plain_http): \
                 only safe behind a TLS-terminating proxy"
            );
        }
        return Ok(dampwatch_api::Transport::Plain);
    }
    let chain = dampwatch_pki::load_cert_chain(&cfg.http.tls_cert).map_err(StartError::HttpsCertificate)?;
    let key = dampwatch_pki::load_private_key(&cfg.http.tls_key).map_err(StartError::HttpsCertificate)?;
    let config = dampwatch_api::server_config(chain, key).map_err(StartError::HttpsConfig)?;
    Ok(dampwatch_api::Transport::tls(config, cfg.http.handshake_timeout))
}

/// 200 while the collector can take uplinks (connected to its message layer and its database),
/// 503 with what is missing otherwise, so an orchestrator can tell a collector that runs from
/// one that only listens.
fn health(metrics: &Metrics) -> (axum::http::StatusCode, String) {
    let mut missing = Vec::new();
    if metrics.upstream_connected.get() == 0 {
        missing.push("message layer unreachable");
    }
    if metrics.db_connected.get() == 0 {
        missing.push("database unreachable");
    }
    if missing.is_empty() {
        (axum::http::StatusCode::OK, "ok\n".into())
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("{}\n", missing.join("; ")))
    }
}

/// `/metrics` (the whole service's registry) and `/health`.
fn metrics_router(registry: Registry, metrics: Arc<Metrics>) -> axum::Router {
    let registry = Arc::new(registry);
    axum::Router::new()
        .route(
            "/metrics",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
                    dampwatch_alerts::metrics::text(&registry),
                )
            }),
        )
        .route("/health", get(move || async move { health(&metrics) }))
}

/// Binds `addr` and serves `app` on it with the API's server loop: every request learns its
/// peer address (per-address rate limits), and a client that does not finish its handshake or
/// its headers in time is disconnected.
async fn serve(
    addr: SocketAddr,
    app: axum::Router,
    options: dampwatch_api::ServerOptions,
    stop: CancellationToken,
) -> Result<SocketAddr, StartError> {
    let listen_error = |source| StartError::HttpListen { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    dampwatch_api::spawn_server(listener, app, options, stop);
    Ok(bound)
}
