//! Running the API on a TCP listener until told to stop.
//!
//! The server is hyper's HTTP/1 connection loop, set up here rather than by `axum::serve`
//! because the API needs what that does not give: HTTPS with a time limit on each TLS
//! handshake ([`crate::tls`]), a time limit on reading a request's headers (a client that
//! opens connections and sends nothing, or a byte at a time, holds them only that long; the
//! same limit closes idle kept-alive connections), and the peer address on every request, for
//! the per-source rate limits.
//!
//! Every accepted connection gets its own task, so a slow handshake or a slow client never
//! holds up the accept loop. On stop, the listener closes, handshakes in progress are
//! abandoned and in-flight requests finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use dampwatch_clock::Clock;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::ApiConfig;
use crate::routes::router;
use crate::state::ApiState;
use crate::tenant::TENANT_ROLE;
use crate::tls::{HandshakeFailure, ListenerStats};

/// How the listener talks to its clients.
#[derive(Clone)]
pub enum Transport {
    /// HTTPS (the default of every deployment): each client must complete its TLS handshake
    /// within `handshake_timeout`.
    Tls { acceptor: TlsAcceptor, handshake_timeout: Duration },
    /// Plain HTTP: only behind a TLS-terminating reverse proxy, or on loopback.
    Plain,
}

impl Transport {
    /// HTTPS with `config` (see [`crate::tls::server_config`]).
    pub fn tls(config: Arc<rustls::ServerConfig>, handshake_timeout: Duration) -> Self {
        Transport::Tls { acceptor: TlsAcceptor::from(config), handshake_timeout }
    }

    /// `https` or `http`, for the URLs a service prints.
    pub fn scheme(&self) -> &'static str {
        match self {
            Transport::Tls { .. } => "https",
            Transport::Plain => "http",
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Tls { handshake_timeout, .. } => {
                f.debug_struct("Tls").field("handshake_timeout", handshake_timeout).finish_non_exhaustive()
            }
            Transport::Plain => f.write_str("Plain"),
        }
    }
}

/// How [`spawn_server`] serves its connections.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub transport: Transport,
    /// Time a client has to send each request's headers (`[api] header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Where failed handshakes are counted; register it in the service's metrics.
    pub stats: Arc<ListenerStats>,
}

impl ServerOptions {
    /// `transport`, with the header time limit of `config` and counters of its own.
    pub fn new(transport: Transport, config: &ApiConfig) -> Self {
        ServerOptions {
            transport,
            header_read_timeout: config.header_read_timeout,
            stats: Arc::new(ListenerStats::default()),
        }
    }
}

/// Binds `addr` (port 0: any free port), checks that the database is reachable and carries
/// this crate's schema, and serves the API over `transport` in a background task until `stop`
/// is cancelled (then in-flight requests finish). Returns the bound address.
///
/// `clock` must be the clock the hazard engine uses (the same `[alerts.clock]` section), so
/// deadlines computed here and there agree. Serve [`Transport::Plain`] beyond loopback only
/// behind a TLS-terminating proxy (and list it in `[api.rate_limits] trusted_proxies`).
pub async fn serve(
    addr: SocketAddr,
    db_url: &str,
    config: ApiConfig,
    clock: Clock,
    transport: Transport,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    config.validate()?;
    let options = ServerOptions::new(transport, &config);
    let state = ApiState::connect(db_url, clock, config)?;
    check_database(&state).await?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let scheme = options.transport.scheme();
    spawn_server(listener, router(state), options, stop);
    tracing::info!(address = %local, scheme, "landlord API listening");
    Ok(local)
}

/// Serves `app` (the API's router, or a larger one it is merged into) on `listener` until
/// `stop` is cancelled, then lets in-flight requests finish. Each request carries its peer's
/// address as [`ConnectInfo<SocketAddr>`]; a client must finish its TLS handshake (if any)
/// and send each request's headers within the options' time limits. A failed handshake is
/// counted and logged at debug level; it never affects another connection.
pub fn spawn_server(
    mut listener: TcpListener,
    app: Router,
    options: ServerOptions,
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
            let connection = Connection {
                app: app.clone(),
                peer,
                header_read_timeout: options.header_read_timeout,
                watcher: connections.watcher(),
            };
            match &options.transport {
                Transport::Plain => {
                    tokio::spawn(connection.serve(stream));
                }
                Transport::Tls { acceptor, handshake_timeout } => {
                    let (acceptor, timeout) = (acceptor.clone(), *handshake_timeout);
                    let (stats, stop) = (options.stats.clone(), stop.clone());
                    tokio::spawn(async move {
                        let handshake = tokio::select! {
                            done = tokio::time::timeout(timeout, acceptor.accept(stream)) => done,
                            // Shutting down: a connection that has sent no request yet has
                            // nothing in flight to finish.
                            () = stop.cancelled() => return,
                        };
                        let failure = match handshake {
                            Ok(Ok(stream)) => return connection.serve(stream).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                HandshakeFailure::Error
                            }
                            Err(_) => {
                                tracing::debug!(%peer, ?timeout, "TLS handshake not finished in time");
                                HandshakeFailure::Timeout
                            }
                        };
                        stats.handshake_failed(failure);
                    });
                }
            }
        }
        drop(listener);
        connections.shutdown().await;
    })
}

/// One accepted connection, served once its transport is ready.
struct Connection {
    app: Router,
    peer: SocketAddr,
    header_read_timeout: Duration,
    /// Lets the server's graceful shutdown wait for this connection's requests.
    watcher: Watcher,
}

impl Connection {
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection { app, peer, header_read_timeout, watcher } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!(%peer, error = %e, "API connection ended with an error");
        }
    }
}

/// Fails early, with the fix in the message, when requests could not work: no schema, or a
/// connection role that may not switch to the tenant role.
async fn check_database(state: &ApiState) -> anyhow::Result<()> {
    let client = state.pool().get().await.context("cannot connect to the database")?;
    client.execute("SELECT 1 FROM api_key_owner(''::bytea)", &[]).await.context(
        "cannot look up API keys (api_key_owner): run the migrations (dampwatch_store::migrate) and \
             connect as the API's login, dampwatch_api",
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
