//! The firmware's [`Transport`] over rumqttc's blocking client, so the firmware's own driver
//! loop ([`dampwatch_firmware::Firmware`]) runs on a host against a real gateway, with the same
//! MQTT options and mutual TLS as the simulator's devices ([`crate::link`]): the device
//! certificate and key, the PKI's CA, client id = device id, QoS 1, a clean session.
//!
//! rumqttc's blocking [`Connection`] makes progress only while it is iterated, and an iteration
//! cut short (a timeout, a non-blocking attempt) can abandon a TLS handshake or a half-written
//! packet. So each connection gets one thread that does nothing but iterate it and hand the
//! device's inbound messages to [`MqttTransport::poll`] through a small bounded channel;
//! `poll` itself never blocks, and keep-alives go on while the device sleeps. A thread per
//! device suits one device (a host build of the firmware, tests); the simulator's fleet runs
//! thousands of devices as tokio tasks instead ([`crate::task`]).
//!
//! The thread stops at the first connection error, rather than letting rumqttc reconnect by
//! itself: the driver loop sees the error, marks the link down and calls
//! [`Transport::connect`] again after its own back-off, which starts a fresh connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dampwatch_firmware::{Inbound, TopicString, Transport};
use rumqttc::{
    Client, ClientError, ConnAck, ConnectReturnCode, Connection, ConnectionError, Event, Outgoing, Packet,
    Publish, QoS, SubAck, SubscribeFilter, SubscribeReasonCode,
};
use rustls::ClientConfig;

use crate::link::{self, GatewayAddr, CONNECT_TIMEOUT_S, REQUEST_QUEUE};

/// How long [`Transport::connect`] waits for the SUBACK once the CONNACK is in (the CONNACK
/// itself is bounded by the connection timeout of [`crate::link`]).
pub const SUBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Transport::publish`] waits for room in the client's request queue before it
/// gives the connection up.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing waits for the DISCONNECT to go out.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Inbound messages held for [`Transport::poll`]. Only the device's ack and config topics
/// deliver anything, so this is rarely more than one; when it is full the connection thread
/// waits, and TCP pushes back on the broker.
const INBOUND_QUEUE: usize = 16;
/// Pause between attempts while waiting for the connection thread.
const RETRY_PAUSE: Duration = Duration::from_millis(5);

/// Why the transport failed. The driver loop treats every error as a lost connection.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("not connected")]
    NotConnected,
    #[error("connection failed: {0}")]
    Connection(#[source] Box<ConnectionError>),
    #[error("gateway refused CONNECT: {0:?}")]
    Refused(ConnectReturnCode),
    #[error("gateway refused the subscription")]
    SubscriptionRefused,
    #[error("no CONNACK and SUBACK within {0:?}")]
    Timeout(Duration),
    #[error("the MQTT client's request queue stayed full for {0:?}")]
    Stalled(Duration),
    #[error("the connection has closed")]
    Closed,
    #[error("MQTT client: {0}")]
    Client(#[source] Box<ClientError>),
    #[error("cannot start the connection thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// One device's MQTT connection for [`dampwatch_firmware::Firmware`]. Not connected until
/// [`Transport::connect`]; dropping it closes the connection with a DISCONNECT.
pub struct MqttTransport {
    device_id: String,
    gateway: GatewayAddr,
    tls: Arc<ClientConfig>,
    session: Option<Session>,
}

impl MqttTransport {
    /// A transport for `device_id` (the client id; its certificate is in `tls`, as built by
    /// [`crate::link::tls_config`] or [`crate::fleet::load`]).
    pub fn new(device_id: &str, gateway: GatewayAddr, tls: Arc<ClientConfig>) -> MqttTransport {
        MqttTransport { device_id: device_id.to_owned(), gateway, tls, session: None }
    }

    /// Whether a connection is up (as far as this side knows).
    pub fn is_connected(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.driver.is_finished())
    }

    /// Ends the current connection, if any: a DISCONNECT, waited for up to [`CLOSE_TIMEOUT`].
    pub fn close(&mut self) {
        if let Some(session) = self.session.take() {
            session.close();
        }
    }
}

impl Drop for MqttTransport {
    fn drop(&mut self) {
        self.close();
    }
}

impl Transport for MqttTransport {
    type Error = TransportError;

    /// Connects (dropping any earlier connection), subscribes to `subscriptions` with QoS 1
    /// and returns once the gateway has confirmed both, or fails within the connection
    /// timeout plus [`SUBACK_TIMEOUT`].
    fn connect(&mut self, subscriptions: &[&str]) -> Result<(), TransportError> {
        self.close();
        let opts = link::mqtt_options(&self.device_id, &self.gateway, self.tls.clone());
        let (client, mut connection) = Client::new(opts, REQUEST_QUEUE);
        link::limit_connect_time(&mut connection.eventloop);
        if !subscriptions.is_empty() {
            // Queued now, sent as soon as the CONNACK is in.
            let filters =
                subscriptions.iter().map(|t| SubscribeFilter::new((*t).to_owned(), QoS::AtLeastOnce));
            client.try_subscribe_many(filters).map_err(|e| TransportError::Client(Box::new(e)))?;
        }
        let (tx, events) = sync_channel(INBOUND_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let stop = stop.clone();
            thread::Builder::new()
                .name(format!("mqtt {}", self.device_id))
                .spawn(move || drive(connection, tx, &stop))
                .map_err(TransportError::Thread)?
        };
        let mut session = Session { client, events, early: VecDeque::new(), driver, stop };
        match session.handshake(!subscriptions.is_empty()) {
            Ok(()) => {
                self.session = Some(session);
                Ok(())
            }
            Err(e) => {
                session.close();
                Err(e)
            }
        }
    }

    /// Hands `payload` to the client for a QoS 1 publish. Waits only while the client's small
    /// request queue is full (at most [`PUBLISH_TIMEOUT`]); fails at once if the connection is
    /// gone.
    fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), TransportError> {
        let session = self.session.as_ref().ok_or(TransportError::NotConnected)?;
        let deadline = Instant::now() + PUBLISH_TIMEOUT;
        loop {
            if session.driver.is_finished() {
                // The error itself waits in the channel for `poll`.
                return Err(TransportError::Closed);
            }
            match session.client.try_publish(topic, QoS::AtLeastOnce, false, payload) {
                Ok(()) => return Ok(()),
                Err(ClientError::TryRequest(_)) if Instant::now() < deadline => thread::sleep(RETRY_PAUSE),
                Err(ClientError::TryRequest(_)) => return Err(TransportError::Stalled(PUBLISH_TIMEOUT)),
                Err(e) => return Err(TransportError::Client(Box::new(e))),
            }
        }
    }

    /// The next message from the device's subscriptions, copied into `payload` (cut to its
    /// length; [`Inbound::len`] is the full length). Never blocks.
    fn poll(&mut self, payload: &mut [u8]) -> Result<Option<Inbound>, TransportError> {
        let session = self.session.as_mut().ok_or(TransportError::NotConnected)?;
        let message = loop {
            let message = match session.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.close();
                    return Err(e);
                }
            };
            // A topic longer than any device topic cannot be one of this device's.
            if let Ok(topic) = TopicString::try_from(message.topic.as_str()) {
                break (topic, message.payload);
            }
        };
        let (topic, bytes) = message;
        let n = bytes.len().min(payload.len());
        payload[..n].copy_from_slice(&bytes[..n]);
        Ok(Some(Inbound { topic, len: bytes.len() }))
    }
}

/// What the connection thread reports.
enum LinkEvent {
    ConnAck(ConnAck),
    SubAck(SubAck),
    Message(Publish),
    /// The connection failed; the thread has stopped.
    Lost(ConnectionError),
}

/// One connection: the client, and the thread that iterates its [`Connection`].
struct Session {
    client: Client,
    events: Receiver<LinkEvent>,
    /// Messages that arrived while `connect` waited for the SUBACK.
    early: VecDeque<Publish>,
    driver: JoinHandle<()>,
    stop: Arc<AtomicBool>,
}

impl Session {
    /// Waits for the CONNACK and, when subscribing, the SUBACK.
    fn handshake(&mut self, subscribing: bool) -> Result<(), TransportError> {
        let limit = Duration::from_secs(CONNECT_TIMEOUT_S) + SUBACK_TIMEOUT;
        let deadline = Instant::now() + limit;
        let mut connected = false;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(wait) {
                Ok(LinkEvent::ConnAck(ack)) => {
                    if ack.code != ConnectReturnCode::Success {
                        return Err(TransportError::Refused(ack.code));
                    }
                    connected = true;
                    if !subscribing {
                        return Ok(());
                    }
                }
                Ok(LinkEvent::SubAck(ack)) if connected => {
                    if ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure)) {
                        return Err(TransportError::SubscriptionRefused);
                    }
                    return Ok(());
                }
                Ok(LinkEvent::SubAck(_)) => {}
                Ok(LinkEvent::Message(p)) => self.early.push_back(p),
                Ok(LinkEvent::Lost(e)) => return Err(TransportError::Connection(Box::new(e))),
                Err(RecvTimeoutError::Timeout) => return Err(TransportError::Timeout(limit)),
                Err(RecvTimeoutError::Disconnected) => return Err(TransportError::Closed),
            }
        }
    }

    /// The next inbound message, without blocking; an error once the connection has failed.
    fn next_message(&mut self) -> Result<Option<Publish>, TransportError> {
        if let Some(p) = self.early.pop_front() {
            return Ok(Some(p));
        }
        loop {
            match self.events.try_recv() {
                Ok(LinkEvent::Message(p)) => return Ok(Some(p)),
                // A repeated CONNACK or SUBACK cannot happen on a connection that never
                // reconnects; nothing to do with one.
                Ok(LinkEvent::ConnAck(_) | LinkEvent::SubAck(_)) => {}
                Ok(LinkEvent::Lost(e)) => return Err(TransportError::Connection(Box::new(e))),
                Err(TryRecvError::Empty) => return Ok(None),
                Err(TryRecvError::Disconnected) => return Err(TransportError::Closed),
            }
        }
    }

    /// Says DISCONNECT if the connection is still up and waits (bounded) for it to go out.
    /// A thread still running after that stops at its connection's next event (a keep-alive
    /// at the latest).
    fn close(self) {
        let Session { client, events, driver, stop, .. } = self;
        if !driver.is_finished() && client.try_disconnect().is_ok() {
            let deadline = Instant::now() + CLOSE_TIMEOUT;
            // Keep draining, so the thread never waits on a full channel meanwhile.
            while !driver.is_finished() && Instant::now() < deadline {
                while events.try_recv().is_ok() {}
                thread::sleep(RETRY_PAUSE);
            }
        }
        stop.store(true, Ordering::Relaxed);
    }
}

/// The connection thread: iterates the connection, forwards what the transport needs, and
/// stops at the first error, after its own DISCONNECT, or when the transport has moved on.
fn drive(mut connection: Connection, tx: SyncSender<LinkEvent>, stop: &AtomicBool) {
    for event in connection.iter() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let forward = match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => LinkEvent::ConnAck(ack),
            Ok(Event::Incoming(Packet::SubAck(ack))) => LinkEvent::SubAck(ack),
            Ok(Event::Incoming(Packet::Publish(p))) => LinkEvent::Message(p),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => continue,
            Err(e) => {
                let _ = tx.send(LinkEvent::Lost(e));
                return;
            }
        };
        if tx.send(forward).is_err() {
            return;
        }
    }
}
