//! Running the API on a TCP listener until told to stop.
//!
//! The server is hyper's HTTP/1 connection loop, set up here rather than by `axum::serve`
//! because the API needs two things that does not give: a time limit on reading a request's
//! headers (a client that opens connections and sends nothing, or a byte at a time, holds
//! them only that long; the same limit closes idle kept-alive connections), and the peer
//! address on every request, for the per-source rate limits.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use dampwatch_clock::Clock;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::ApiConfig;
use crate::routes::router;
use crate::state::ApiState;
use crate::tenant::TENANT_ROLE;

/// Binds `addr` (port 0: any free port), checks that the database is reachable and carries
/// this crate's schema, and serves the API in a background task until `stop` is cancelled
/// (then in-flight requests finish). Returns the bound address.
///
/// `clock` must be the clock the hazard engine uses (the same `[alerts.clock]` section), so
/// deadlines computed here and there agree. The server speaks plain HTTP: expose it beyond
/// loopback only behind a TLS-terminating proxy (and list it in
/// `[api.rate_limits] trusted_proxies`).
pub async fn serve(
    addr: SocketAddr,
    db_url: &str,
    config: ApiConfig,
    clock: Clock,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    config.validate()?;
    let header_read_timeout = config.header_read_timeout;
    let state = ApiState::connect(db_url, clock, config)?;
    check_database(&state).await?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    spawn_server(listener, router(state), header_read_timeout, stop);
    tracing::info!(address = %local, "landlord API listening");
    Ok(local)
}

/// Serves `app` (the API's router, or a larger one it is merged into) on `listener` until
/// `stop` is cancelled, then lets in-flight requests finish. Each request carries its peer's
/// address as [`ConnectInfo<SocketAddr>`]; a client must send each request's headers within
/// `header_read_timeout`.
pub fn spawn_server(
    mut listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let connections = GracefulShutdown::new();
        loop {
            // axum's Listener retries failed accepts (out of file descriptors, ...) after a
            // pause instead of spinning.
            let (stream, peer) = tokio::select! {
                accepted = Listener::accept(&mut listener) => accepted,
                () = stop.cancelled() => break,
            };
            let app = app.clone();
            let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request)
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let connection = connections.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(%peer, error = %e, "API connection ended with an error");
                }
            });
        }
        drop(listener);
        connections.shutdown().await;
    })
}

/// Fails early, with the fix in the message, when requests could not work: no schema, or a
/// connection role that may not switch to the tenant role.
async fn check_database(state: &ApiState) -> anyhow::Result<()> {
    let client = state.pool().get().await.context("cannot connect to the database")?;
    client.execute("SELECT 1 FROM api_keys LIMIT 0", &[]).await.context(
        "cannot read api_keys: run the migrations (dampwatch_store::migrate) and connect as the \
             role that ran them",
    )?;
    let can_switch: bool = client
        .query_one("SELECT pg_has_role($1, 'MEMBER')", &[&TENANT_ROLE])
        .await
        .context("cannot check the tenant role: run the migrations (dampwatch_store::migrate)")?
        .get(0);
    if !can_switch {
        anyhow::bail!(
            "the database user may not switch to {TENANT_ROLE}; as an administrator run \
             GRANT {TENANT_ROLE} TO <the service's database user>"
        );
    }
    Ok(())
}
