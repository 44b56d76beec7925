//! The MQTT side: a session with the gateway under the collector's service certificate, a
//! subscription to every uplink (optionally shared with other collectors), and manual
//! acknowledgements.
//!
//! Delivery guarantee: a message is acknowledged to the broker only after the transaction that
//! stored it (or quarantined it) committed, in arrival order (the broker disconnects a client
//! that acknowledges out of order), and only on the connection that delivered it. The last rule
//! is enforced by [`AckGate`]: acks are queued under a lock that the event loop also takes when
//! a connection is lost, at which point it moves to a new epoch and purges every ack still
//! queued. An ack can therefore never reach a later connection, where its packet id could name
//! a different, uncommitted message.
//!
//! Sessions: without a share group the collector keeps a persistent session, so the broker
//! redelivers everything unacknowledged (and everything that arrived meanwhile) when it comes
//! back. In a share group the session is clean: rumqttd 0.20 panics its router thread, taking
//! the whole broker down, when the last member of a shared group disconnects from a persistent
//! session with messages in flight (`router/routing.rs`, "group must exists"). A clean session
//! costs nothing in safety: the messages a dead member held are resent by their devices, which
//! keep every reading until a commit position covers it.

use crate::config::Config;
use crate::upstream::Receipt;
use dampwatch_wire::Backoff;
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A received uplink message, from either upstream ([`crate::upstream`]).
pub struct Incoming {
    /// The MQTT topic, `dw/v1/<landlord>/<device>/up`.
    pub topic: String,
    pub payload: bytes::Bytes,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub arrived: Instant,
    /// How it is acknowledged once committed.
    pub receipt: Receipt,
}

/// Serialises acknowledgements with connection changes (see the module docs).
#[derive(Default)]
pub struct AckGate {
    epoch: Mutex<u64>,
    connected: AtomicBool,
}

impl AckGate {
    fn lock(&self) -> MutexGuard<'_, u64> {
        // A poisoned lock only means a panic elsewhere while holding a plain integer.
        self.epoch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current connection's epoch.
    pub fn epoch(&self) -> u64 {
        *self.lock()
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Queues acknowledgements, in the given (arrival) order, for the messages that came on the
    /// current connection. Stops at the first that cannot be queued: acknowledging a later
    /// message past it would be out of order; the broker redelivers the rest. Returns how many
    /// were queued.
    pub fn ack_in_order<'a>(
        &self,
        client: &AsyncClient,
        messages: impl Iterator<Item = &'a Incoming>,
    ) -> usize {
        let epoch = self.lock();
        let mut queued = 0;
        let on_this_connection = messages.filter_map(|m| match &m.receipt {
            Receipt::Broker { publish, epoch: e } if *e == *epoch => Some(publish),
            _ => None,
        });
        for publish in on_this_connection {
            if let Err(e) = client.try_ack(publish) {
                tracing::warn!(error = %e, "cannot queue an MQTT ack; the broker will redeliver the rest");
                break;
            }
            queued += 1;
        }
        queued
    }

    /// The connection is gone: start a new epoch and purge the acks of the old one still queued
    /// in the client (rumqttc drops queued PUBACKs when it cleans up after an error).
    fn connection_lost(&self, eventloop: &mut EventLoop) {
        let mut epoch = self.lock();
        *epoch += 1;
        self.connected.store(false, Ordering::Relaxed);
        eventloop.clean();
    }
}

/// The client's TLS: the configured CA, presenting the collector's service certificate.
fn tls_config(cfg: &Config) -> Result<Arc<rustls::ClientConfig>, dampwatch_pki::PkiError> {
    dampwatch_pki::client_tls_from_files(&cfg.tls.ca, Some((&cfg.tls.cert, &cfg.tls.key)))
}

/// Opens the client. The event loop must be driven by [`run_event_loop`].
pub fn connect(cfg: &Config) -> Result<(AsyncClient, EventLoop), dampwatch_pki::PkiError> {
    let mut opts = MqttOptions::new(&cfg.mqtt.client_id, &cfg.mqtt.host, cfg.mqtt.port);
    opts.set_keep_alive(cfg.mqtt.keep_alive)
        .set_clean_session(!cfg.persistent_session())
        .set_manual_acks(true)
        .set_inflight(1000)
        .set_max_packet_size(64 * 1024, 64 * 1024)
        .set_transport(Transport::Tls(TlsConfiguration::Rustls(tls_config(cfg)?)));
    // The request channel carries acks and commit positions. It is far larger than what the
    // broker can have in flight to us (100) plus the positions of one batch, so queuing an ack
    // does not fail in practice.
    Ok(AsyncClient::new(opts, 8192))
}

/// What the event loop needs.
pub struct EventLoopTask {
    pub eventloop: EventLoop,
    pub client: AsyncClient,
    pub filter: String,
    pub tx: mpsc::Sender<Incoming>,
    pub gate: Arc<AckGate>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// True while the uplink subscription is in place (the broker acknowledged it on the
    /// current connection): what [`crate::Collector::ready`] waits for.
    pub subscribed: tokio::sync::watch::Sender<bool>,
    /// Stop taking uplinks: unsubscribe, close `tx` so the pipeline finishes what it has, and
    /// keep the connection up (for its acks) until `stop`.
    pub drain: CancellationToken,
    /// Disconnect and return.
    pub stop: CancellationToken,
}

/// Waits between attempts to reach the gateway: a lost link stops the whole intake, so the
/// cap stays short.
const RECONNECT: Backoff = Backoff::doubling(Duration::from_millis(100), Duration::from_secs(5));

/// Drives the MQTT connection: forwards uplinks, subscribes after every connect, reconnects
/// with back-off after errors. Returns when `stop` fires.
pub async fn run_event_loop(task: EventLoopTask) {
    let EventLoopTask { mut eventloop, client, filter, tx, gate, metrics, subscribed, drain, stop } = task;
    let mut tx = Some(tx);
    let mut reconnects = RECONNECT.retries();
    let mut drain_started = false;
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = drain.cancelled(), if !drain_started => {
                drain_started = true;
                if let Err(e) = client.try_unsubscribe(filter.clone()) {
                    tracing::warn!(error = %e, "cannot queue the unsubscription");
                }
                continue;
            }
            _ = stop.cancelled() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                reconnects.reset();
                gate.connected.store(true, Ordering::Relaxed);
                metrics.upstream_connected.set(1);
                tracing::info!(
                    epoch = gate.epoch(),
                    session_present = ack.session_present,
                    "connected to the gateway"
                );
                // Subscribe even when the session is present: rumqttd does not put a returning
                // session back into its shared group, and a repeated subscription to a filter
                // the session already holds changes nothing else.
                if !drain_started {
                    if let Err(err) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                        tracing::error!(error = %err, "cannot queue the uplink subscription");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let Some(sender) = &tx else { continue };
                metrics.uplinks_received.inc();
                metrics.uplinks_pending.inc();
                let msg = Incoming {
                    topic: publish.topic.clone(),
                    payload: publish.payload.clone(),
                    received_at: chrono::Utc::now(),
                    arrived: Instant::now(),
                    receipt: Receipt::Broker { publish, epoch: gate.epoch() },
                };
                // The broker has at most 100 messages in flight to us and the channel is larger,
                // so this does not hold up the event loop in practice.
                tokio::select! {
                    r = sender.send(msg) => if r.is_err() { tx = None },
                    _ = stop.cancelled() => break,
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    tracing::error!(
                        "the gateway refused the uplink subscription; check the service certificate"
                    );
                } else {
                    subscribed.send_replace(true);
                }
            }
            Ok(Event::Incoming(Packet::UnsubAck(_))) => {
                // Nothing more will come for the filter: let the pipeline finish what it has.
                tx = None;
            }
            Ok(_) => {}
            Err(e) => {
                subscribed.send_replace(false);
                metrics.upstream_connected.set(0);
                gate.connection_lost(&mut eventloop);
                if drain_started {
                    // Unacknowledged messages are redelivered to whoever connects next.
                    tx = None;
                }
                let wait = reconnects.next_delay();
                tracing::warn!(error = %e, retry_in = ?wait, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => break,
                }
            }
        }
    }
    // Say goodbye so the broker keeps the session without waiting for a keep-alive timeout.
    if gate.is_connected() && client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
}
