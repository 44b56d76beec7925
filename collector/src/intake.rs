//! The MQTT side: a persistent session to the gateway with the collector's service certificate,
//! a (shared) subscription to every uplink, and manual acknowledgements.
//!
//! Delivery guarantee: a message is acknowledged to the broker only after the transaction that
//! stored it (or quarantined it) committed, and in arrival order (the broker disconnects a
//! client that acknowledges out of order). Messages received on an earlier connection are never
//! acknowledged on a later one: the broker redelivers them on the persistent session, and the
//! idempotent insert makes the second copy harmless.

use crate::config::Config;
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A received uplink message.
pub struct Incoming {
    pub publish: Publish,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub arrived: Instant,
    /// Which MQTT connection delivered it; acks go only on that same connection.
    pub epoch: u64,
}

/// Builds the rustls client configuration from the PKI files.
pub fn tls_config(cfg: &Config) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in dampwatch_pki::load_ca_certs(&cfg.tls.ca)? {
        roots.add(ca)?;
    }
    let chain = dampwatch_pki::load_cert_chain(&cfg.tls.cert)?;
    let key = dampwatch_pki::load_private_key(&cfg.tls.key)?;
    let config =
        rustls::ClientConfig::builder().with_root_certificates(roots).with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Opens the client. The event loop must be driven by [`run_event_loop`].
pub fn connect(cfg: &Config) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let mut opts = MqttOptions::new(&cfg.mqtt.client_id, &cfg.mqtt.host, cfg.mqtt.port);
    opts.set_keep_alive(cfg.mqtt.keep_alive)
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(1000)
        .set_max_packet_size(64 * 1024, 64 * 1024)
        .set_transport(Transport::Tls(TlsConfiguration::Rustls(tls_config(cfg)?)));
    // The request channel carries acks and commit positions; it is larger than everything the
    // broker can have in flight to us, so queuing an ack never waits on the event loop.
    Ok(AsyncClient::new(opts, 4096))
}

/// Drives the MQTT connection: forwards uplinks to `tx`, (re)subscribes when the broker has
/// no session for us, and reconnects with back-off after errors. Returns when `stop` fires.
pub async fn run_event_loop(
    mut eventloop: EventLoop,
    client: AsyncClient,
    filter: String,
    tx: mpsc::Sender<Incoming>,
    epoch: Arc<AtomicU64>,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = stop.cancelled() => return,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = Duration::from_millis(100);
                let e = epoch.fetch_add(1, Ordering::SeqCst) + 1;
                tracing::info!(epoch = e, session_present = ack.session_present, "connected to the gateway");
                if !ack.session_present {
                    if let Err(err) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                        tracing::error!(error = %err, "cannot queue the uplink subscription");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let msg = Incoming {
                    publish,
                    received_at: chrono::Utc::now(),
                    arrived: Instant::now(),
                    epoch: epoch.load(Ordering::SeqCst),
                };
                // The broker has at most 100 messages in flight to us and the channel is larger,
                // so this does not block the event loop in practice.
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    tracing::error!(
                        "the gateway refused the uplink subscription; check the service certificate"
                    );
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
