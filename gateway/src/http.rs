//! The operations endpoint: `/metrics` (Prometheus text) and `/health` (200 while the gateway
//! can reach its upstream, the embedded broker or the cluster; 503 otherwise, so a load
//! balancer stops sending devices here).

use crate::error::StartError;
use crate::server::Shared;
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

pub async fn serve(addr: SocketAddr, shared: Arc<Shared>) -> Result<SocketAddr, StartError> {
    let mut registry = Registry::default();
    shared.metrics.register(&mut registry);
    let registry = Arc::new(registry);
    let health = shared.clone();
    let metrics = get(move || async move {
        ([(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], crate::metrics::text(&registry))
    });
    let app = Router::new().route("/metrics", metrics).route(
        "/health",
        get(move || async move {
            if health.upstream.is_up() {
                (StatusCode::OK, "ok\n")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "message layer unreachable (broker or cluster)\n")
            }
        }),
    );
    let listen_error = |source| StartError::MetricsListen { addr, source };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(bound)
}
