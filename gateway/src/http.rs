//! The operations endpoint: `/metrics` (Prometheus text) and `/health` (200 while the gateway
//! can reach its broker, 503 otherwise, so a load balancer stops sending devices here).

use crate::server::Shared;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

pub async fn serve(addr: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<SocketAddr> {
    let metrics = shared.metrics.clone();
    let health = shared.clone();
    let app = Router::new().route("/metrics", get(move || async move { metrics.render() })).route(
        "/health",
        get(move || async move {
            if health.upstream.is_up() {
                (StatusCode::OK, "ok\n")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "broker unreachable\n")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(bound)
}
