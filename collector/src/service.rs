//! The collector as a whole: database (a URL, or the private PostgreSQL under its data
//! directory), migrations, the MQTT intake, the pipeline and the metrics endpoint.

use crate::config::Config;
use crate::intake;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use axum::routing::get;
use dampwatch_pg::{PgOptions, PrivatePostgres};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running collector.
pub struct Collector {
    db_url: String,
    metrics: Arc<Metrics>,
    metrics_addr: Option<SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    client: rumqttc::AsyncClient,
    /// The private cluster, when no URL was configured; stopped when the collector is dropped.
    _embedded: Option<PrivatePostgres>,
}

/// Starts the private PostgreSQL cluster under `data_dir` (blocking work off the runtime).
pub async fn start_embedded_postgres(data_dir: std::path::PathBuf) -> anyhow::Result<PrivatePostgres> {
    let pg = tokio::task::spawn_blocking(move || PrivatePostgres::start(PgOptions::new(data_dir))).await??;
    Ok(pg)
}

/// Connects to the database and applies pending migrations.
pub async fn prepare_database(url: &str) -> anyhow::Result<()> {
    let mut client = crate::db::connect(url).await?;
    crate::migrate::migrate(&mut client).await?;
    Ok(())
}

impl Collector {
    pub async fn start(cfg: Config) -> anyhow::Result<Collector> {
        cfg.validate()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (db_url, embedded) = if cfg.database.url.is_empty() {
            let pg = start_embedded_postgres(cfg.database.data_dir.join("postgres")).await?;
            (pg.url(), Some(pg))
        } else {
            (cfg.database.url.clone(), None)
        };
        prepare_database(&db_url).await?;

        let metrics = Arc::new(Metrics::default());
        let stop = CancellationToken::new();
        let (client, eventloop) = intake::connect(&cfg)?;
        let epoch = Arc::new(AtomicU64::new(0));
        // Larger than the broker's in-flight window (100), so the event loop never waits on it.
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(intake::run_event_loop(
            eventloop,
            client.clone(),
            cfg.uplink_filter(),
            tx,
            epoch.clone(),
            stop.clone(),
        )));
        let metrics_addr = match cfg.http.address.as_str() {
            "" => None,
            a => Some(serve_http(a.parse()?, metrics.clone(), stop.clone()).await?),
        };
        let pipeline = Pipeline {
            cfg,
            db_url: db_url.clone(),
            client: client.clone(),
            epoch,
            metrics: metrics.clone(),
            stop: stop.clone(),
        };
        tasks.push(tokio::spawn(pipeline.run(rx)));
        Ok(Collector { db_url, metrics, metrics_addr, stop, tasks, client, _embedded: embedded })
    }

    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops intake: the batch in progress either commits or is left unacknowledged (and is
    /// redelivered to whoever connects next).
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.client.try_disconnect();
        for t in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
        }
    }
}

async fn serve_http(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let app = axum::Router::new()
        .route("/metrics", get(move || async move { metrics.render() }))
        .route("/health", get(|| async { "ok\n" }));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let _ =
            axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
    });
    Ok(bound)
}
