//! The gateway as a whole: accept loop with admission limits, CRL watching, the sweep of
//! expired certificates, the embedded broker, the metrics endpoint and graceful shutdown.

use crate::broker::{self, BrokerAddrs, BrokerLogin};
use crate::cluster_link::ClusterLink;
use crate::config::{Config, StaleCrl};
use crate::error::StartError;
use crate::handshakes::Handshakes;
use crate::identity::Peer;
use crate::limits::{DeviceMessageLimiter, KeyedBuckets};
use crate::live::LiveConnections;
use crate::mailbox::Mailbox;
use crate::metrics::Metrics;
use crate::refusal::Refusal;
use crate::sessions::DeviceSessions;
use crate::slots::Slots;
use crate::source::SourceLimiter;
use crate::tls::{self, TlsError, TlsState};
use crate::upstream::{BrokerLinks, Upstream, UpstreamSettings};
use arc_swap::ArcSwap;
use dampwatch_cluster::UpstreamKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// State every connection task shares.
pub struct Shared {
    pub cfg: Config,
    pub tls: ArcSwap<TlsState>,
    /// The embedded broker, where it listens and what it asks of every connection (see
    /// [`crate::broker`]); none with the cluster upstream, whose collectors reach the cluster
    /// directly and have nothing to do at a gateway.
    pub broker: Option<(BrokerAddrs, BrokerLogin)>,
    pub upstream: Upstream,
    pub sessions: Arc<DeviceSessions>,
    pub metrics: Arc<Metrics>,
    pub live: LiveConnections,
    /// Keyed by `landlord/device`, so limits hold across all of a device's connections.
    pub device_messages: DeviceMessageLimiter,
    pub device_connects: KeyedBuckets<String>,
    /// New connections per source (IPv4 address or IPv6 /64; behind a load balancer, the
    /// address its PROXY header reports).
    pub sources: SourceLimiter,
    /// Connections still in their TLS handshake.
    pub handshakes: Arc<Handshakes>,
    /// Device and service connections past their handshake.
    pub slots: Slots,
    /// Fired first on shutdown: stop accepting and reading, drain connections.
    pub shutdown: CancellationToken,
}

impl Shared {
    /// Records a live connection so that a CRL reload or its certificate's expiry can close
    /// it, unless its certificate has been revoked since its handshake.
    pub fn register_live(&self, peer: &Peer, mailbox: &Arc<Mailbox>) -> Result<u64, Refusal> {
        self.live.register(peer.serial.clone(), peer.not_after, mailbox.clone(), |s| {
            self.tls.load().revoked_serials.contains(s)
        })
    }

    /// True if the CRL in force is past its nextUpdate and the configuration says to refuse
    /// devices meanwhile.
    pub fn refusing_devices_for_stale_crl(&self) -> bool {
        self.cfg.tls.stale_crl == StaleCrl::RefuseDevices
            && crate::crl::is_stale(self.tls.load().crl_next_update, SystemTime::now())
    }
}

/// A running gateway.
pub struct Gateway {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    /// The accept loop and every connection.
    tasks: TaskTracker,
    /// Broker links and the CRL watcher: stopped after the connections have drained.
    background: TaskTracker,
    stop_background: CancellationToken,
}

impl Gateway {
    /// Loads TLS material, starts the broker on loopback (or connects to the cluster), binds the
    /// listener and serves.
    pub async fn start(cfg: Config) -> Result<Gateway, StartError> {
        cfg.validate()?;
        tls::install_crypto_provider();
        let state = tls::load(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, &cfg.tls.crl)?;
        let metrics = Arc::new(Metrics::default());
        metrics.set_crl_next_update(state.crl_next_update);
        let sessions = Arc::new(DeviceSessions::new(cfg.limits.remembered_configurations));
        let background = TaskTracker::new();
        let stop_background = CancellationToken::new();
        let instance = instance_id();
        let (upstream, broker) = match cfg.upstream.kind {
            UpstreamKind::Broker => {
                let (broker, broker_login) = broker::start(&cfg).map_err(StartError::Broker)?;
                wait_until_listening(broker.v4).await?;
                wait_until_listening(broker.v5).await?;
                let links = BrokerLinks::start(
                    &UpstreamSettings {
                        broker: broker.v4,
                        login: broker_login.clone(),
                        uplinks: cfg.broker.uplinks,
                        inflight: cfg.broker.uplink_inflight,
                        instance,
                    },
                    sessions.clone(),
                    metrics.clone(),
                    &stop_background,
                    &background,
                );
                if !links.wait_until_up(Duration::from_secs(10)).await {
                    stop_background.cancel();
                    return Err(StartError::BrokerUnreachable(broker.v4));
                }
                (Upstream::Broker(links), Some((broker, broker_login)))
            }
            UpstreamKind::Cluster => {
                let link = ClusterLink::connect(
                    &cfg.upstream,
                    &format!("gateway-{instance}"),
                    cfg.broker.uplink_inflight,
                    sessions.clone(),
                    metrics.clone(),
                    background.clone(),
                )
                .await
                .map_err(StartError::Cluster)?;
                (Upstream::Cluster(Arc::new(link)), None)
            }
        };
        let addr = cfg.listen.address;
        let listen_error = |source| StartError::Listen { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(listen_error)?;
        let local_addr = listener.local_addr().map_err(listen_error)?;
        let l = &cfg.limits;
        let max_keys = l.max_connections.saturating_mul(2).max(1024);
        let handshakes = Handshakes::new(l.max_handshakes, metrics.clone());
        let shared = Arc::new(Shared {
            device_messages: KeyedBuckets::new(
                l.device_messages_per_second,
                l.device_message_burst,
                max_keys,
            ),
            device_connects: KeyedBuckets::new(
                f64::from(l.device_connects_per_minute) / 60.0,
                f64::from(l.device_connects_per_minute.max(1)),
                max_keys,
            ),
            sources: SourceLimiter::new(
                l.connections_per_second_per_source,
                l.connection_burst_per_source,
                65_536,
            ),
            handshakes,
            slots: Slots::new(l.max_connections, l.service_connections),
            tls: ArcSwap::from_pointee(state),
            broker,
            upstream,
            sessions,
            metrics,
            live: LiveConnections::default(),
            shutdown: CancellationToken::new(),
            cfg,
        });
        let tasks = TaskTracker::new();
        let metrics_addr = match shared.cfg.listen.metrics_address {
            Some(addr) => Some(crate::http::serve(addr, shared.clone()).await?),
            None => None,
        };
        tasks.spawn(accept_loop(listener, shared.clone(), tasks.clone()));
        // The SIGHUP handler is in place before `start` returns: a SIGHUP that arrived before a
        // spawned task got round to installing it would take the default action and kill the
        // gateway.
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        background.spawn(watch_crl(shared.clone(), hup, stop_background.clone()));
        background.spawn(close_expired(shared.clone(), stop_background.clone()));
        match &shared.broker {
            Some((b, _)) => {
                tracing::info!(%local_addr, broker_v4 = %b.v4, broker_v5 = %b.v5, "gateway listening")
            }
            None => tracing::info!(%local_addr, "gateway listening, upstream the cluster"),
        }
        Ok(Gateway { shared, local_addr, metrics_addr, tasks, background, stop_background })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// Where the embedded broker listens (loopback only); none with the cluster upstream.
    pub fn broker_addrs(&self) -> Option<BrokerAddrs> {
        self.shared.broker.as_ref().map(|(addrs, _)| *addrs)
    }

    /// The login the embedded broker asks of every connection (for a benchmark's direct
    /// publisher in this process; nothing outside the process ever learns it).
    pub fn broker_login(&self) -> Option<BrokerLogin> {
        self.shared.broker.as_ref().map(|(_, login)| login.clone())
    }

    /// Re-reads the CRL now (as on SIGHUP) and closes live connections it revokes.
    pub fn reload_crl(&self) -> Result<usize, TlsError> {
        reload(&self.shared)
    }

    /// Device sessions open now.
    pub fn devices_connected(&self) -> usize {
        self.shared.sessions.len()
    }

    /// Stops accepting, stops reading from clients, lets publishes already received finish
    /// (their PUBACKs reach the clients), then closes everything.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.tasks.close();
        let drain = self.shared.cfg.limits.drain_timeout + Duration::from_secs(1);
        let _ = tokio::time::timeout(drain, self.tasks.wait()).await;
        self.stop_background.cancel();
        self.background.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.background.wait()).await;
    }
}

/// Distinguishes this gateway's broker links from another gateway's on a shared broker.
fn instance_id() -> String {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{:x}{:x}", std::process::id(), nanos)
}

async fn wait_until_listening(addr: SocketAddr) -> Result<(), StartError> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(StartError::BrokerNotListening(addr))
}

/// Accepts connections. Only what costs nothing to check happens here (the per-source rate);
/// everything else runs in the connection's own task, so the loop never waits on a client.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shutdown.cancelled() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared.metrics.connections_accepted.inc();
        // A load balancer's connections are counted by the client address its PROXY header
        // carries, once the connection's task has read it.
        if !shared.cfg.listen.is_load_balancer(peer.ip())
            && !shared.sources.try_take(peer.ip(), Instant::now())
        {
            refuse_early(&shared, Refusal::SourceRateLimited, peer);
            continue;
        }
        let handshake = shared.handshakes.begin();
        tasks.spawn(crate::connection::serve(shared.clone(), tcp, peer, handshake));
    }
}

fn refuse_early(shared: &Shared, reason: Refusal, peer: SocketAddr) {
    shared.metrics.refused(reason);
    tracing::warn!(reason = %reason, source = %peer, "connection refused");
}

fn reload(shared: &Shared) -> Result<usize, TlsError> {
    let t = &shared.cfg.tls;
    match tls::load(&t.ca, &t.cert, &t.key, &t.crl) {
        Ok(state) => {
            // New list first, then close: a connection registering meanwhile sees one or the other.
            let state = Arc::new(state);
            shared.tls.store(state.clone());
            let closed = shared.live.close_revoked(&state.revoked_serials);
            shared.metrics.set_crl_next_update(state.crl_next_update);
            shared.metrics.crl_file_rejected.set(0);
            shared.metrics.crl_reloads.inc();
            tracing::info!(closed, "CRL reloaded");
            Ok(closed)
        }
        Err(e) => {
            // An operator must act: until the file is fixed, revocations made since the last
            // good CRL are not enforced.
            shared.metrics.crl_reload_failures.inc();
            shared.metrics.crl_file_rejected.set(1);
            tracing::error!(error = %e, "CRL reload failed; the last good CRL stays in force");
            Err(e)
        }
    }
}

/// Says so at ERROR when the CRL in force goes past its nextUpdate (and every
/// [`STALE_CRL_REMINDER`] while it stays so), and at INFO when a current one replaces it.
struct StaleCrlReport {
    since_reported: Option<Instant>,
}

/// How often a stale CRL is reported again while it stays stale.
const STALE_CRL_REMINDER: Duration = Duration::from_secs(3600);

impl StaleCrlReport {
    fn check(&mut self, shared: &Shared) {
        let next_update = shared.tls.load().crl_next_update;
        if !crate::crl::is_stale(next_update, SystemTime::now()) {
            if self.since_reported.take().is_some() {
                tracing::info!("the CRL in force is current again");
            }
            return;
        }
        if self.since_reported.is_some_and(|t| t.elapsed() < STALE_CRL_REMINDER) {
            return;
        }
        self.since_reported = Some(Instant::now());
        let next_update = next_update.map(humantime_serde::re::humantime::format_rfc3339_seconds);
        let policy = match shared.cfg.tls.stale_crl {
            StaleCrl::Serve => "devices are still admitted and those it revokes still refused",
            StaleCrl::RefuseDevices => "new device connections are refused until a current CRL arrives",
        };
        tracing::error!(
            crl = %shared.cfg.tls.crl.display(),
            next_update = %next_update.map_or_else(String::new, |t| t.to_string()),
            "the CRL is past its nextUpdate: revocations made since may be missing; publish a new CRL; {policy}"
        );
    }
}

fn crl_stamp(shared: &Shared) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(&shared.cfg.tls.crl).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Polls the CRL file (cheap, portable, works on every filesystem) and reloads on change;
/// SIGHUP reloads at once.
async fn watch_crl(
    shared: Arc<Shared>,
    mut hup: Option<tokio::signal::unix::Signal>,
    stop: CancellationToken,
) {
    let mut last = crl_stamp(&shared);
    let mut stale = StaleCrlReport { since_reported: None };
    stale.check(&shared);
    loop {
        let hup_fired = async {
            match hup.as_mut() {
                Some(s) => s.recv().await.is_some(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(shared.cfg.tls.crl_poll_interval) => {
                let now = crl_stamp(&shared);
                if now != last {
                    last = now;
                    let _ = reload(&shared);
                }
            }
            true = hup_fired => { let _ = reload(&shared); }
            _ = stop.cancelled() => return,
        }
        stale.check(&shared);
    }
}

/// How often live connections are checked for certificates that have run out: a connection
/// outlives its certificate by at most this long.
const EXPIRY_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Closes connections whose certificate's notAfter has passed (the handshake checked it only
/// once). A sweep rather than a timer per connection: idle connections stay small, and one
/// pass over the table each second costs microseconds.
async fn close_expired(shared: Arc<Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EXPIRY_SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let closed = shared.live.close_expired(SystemTime::now());
                if closed > 0 {
                    tracing::info!(closed, "closing connections whose certificate has expired");
                }
            }
            _ = stop.cancelled() => return,
        }
    }
}
