//! The async shell around one [`FirmwareDevice`]: one tokio task per device (no thread), owning
//! its MQTT connection. It sleeps until the device next needs attention or the connection has an
//! event, and passes bytes between the two.
//!
//! The event loop's `poll()` future is never cancelled while connected: the device is ticked
//! from the same `select!` while that future stays pinned, so a TLS handshake or a half-read
//! packet is never abandoned because a sample fell due.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dampwatch_firmware::Stats;
use dampwatch_wire::Backoff;
use rumqttc::{
    ClientError, ConnectReturnCode, ConnectionError, Event, Packet, QoS, Request, SubscribeFilter,
    SubscribeReasonCode,
};
use rustls::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::clock::SimClock;
use crate::firmware_device::{FirmwareDevice, UplinkSink};
use crate::link::{GatewayAddr, Link};
use crate::pacer::ConnectPacer;
use crate::rng;
use crate::totals::Totals;

/// What every device task shares.
pub struct Shared {
    pub clock: SimClock,
    pub gateway: GatewayAddr,
    pub pacer: ConnectPacer,
    /// Fired when the drain timeout expires: tasks return at once with what they have.
    pub stop: CancellationToken,
    pub totals: Totals,
}

/// Reconnection back-off: doubling from 0.5 s to 15 s, with ±50 % jitter so devices that lost
/// the gateway together do not return together.
const RECONNECT: Backoff =
    Backoff::doubling(Duration::from_millis(500), Duration::from_secs(15)).with_jitter(0.5);
/// How long a finished device waits for its DISCONNECT to go out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The MQTT client's request queue as an uplink sink.
struct ClientSink<'a> {
    client: &'a rumqttc::AsyncClient,
    topic: &'a str,
}

impl UplinkSink for ClientSink<'_> {
    fn try_send(&mut self, uplink: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.client.try_publish(self.topic, QoS::AtLeastOnce, false, uplink) {
            Ok(()) => Ok(()),
            Err(ClientError::TryRequest(Request::Publish(p)) | ClientError::Request(Request::Publish(p))) => {
                Err(p.payload.to_vec())
            }
            // Not reachable for a publish (the client hands back every refused publish above).
            // Were it reached, nothing is lost: the readings stay unconfirmed in the core, which
            // resends them after its acknowledgement timeout.
            Err(_) => Ok(()),
        }
    }
}

/// Why the wait ended.
enum Wake {
    Timer,
    Event(Result<Event, ConnectionError>),
    Stop,
}

/// Connection state of one task.
struct Connection {
    link: Link,
    /// When the next connection attempt may start (back-off and pacing); `None` once connected.
    attempt_at: Option<Instant>,
    failures: u32,
}

/// Runs one device until it has finished (recording over, queue empty) or the run is stopped,
/// and hands it back with its final state.
pub async fn run_device<D: FirmwareDevice>(mut dev: D, tls: Arc<ClientConfig>, shared: Arc<Shared>) -> D {
    let clock = shared.clock;
    let uplink_topic = dev.uplink_topic();
    let mut conn: Option<Connection> = None;
    let mut reported = Stats::default();
    loop {
        let now = Instant::now();
        let sim = clock.sim_ms(now);
        if dev.wants_link(sim) {
            if conn.is_none() {
                let link = Link::new(dev.id(), &shared.gateway, tls.clone());
                conn = Some(Connection { link, attempt_at: Some(shared.pacer.reserve(now)), failures: 0 });
            }
        } else if conn.take().is_some() {
            // The network is cut: the connection just dies, nothing is said to the broker.
            drop_link(&mut dev, &shared);
        }

        let mut wake_sim = match &conn {
            Some(c) => dev.tick(sim, &mut ClientSink { client: &c.link.client, topic: &uplink_topic }),
            None => dev.tick(sim, &mut NoLink),
        };
        shared.totals.update(&mut reported, dev.stats());
        if dev.finished(sim) {
            if let Some(c) = conn.take() {
                close(c.link, &mut dev, &shared).await;
            }
            shared.totals.device_finished();
            return dev;
        }

        let wake = match &conn {
            Some(c) => match c.attempt_at {
                Some(at) if at > now => clock.instant_at(wake_sim).min(at),
                _ => clock.instant_at(wake_sim),
            },
            None => clock.instant_at(wake_sim),
        };
        let outcome = match conn.as_mut() {
            Some(c) if c.attempt_at.is_none_or(|at| at <= now) => {
                drive(c, &mut dev, &shared, &uplink_topic, wake, &mut wake_sim, &mut reported).await
            }
            _ => sleep(wake, &shared.stop).await,
        };
        match outcome {
            Wake::Stop => {
                shared.totals.update(&mut reported, dev.stats());
                return dev;
            }
            Wake::Timer => {}
            Wake::Event(event) => {
                if let Some(c) = conn.as_mut() {
                    if !handle(event, c, &mut dev, &shared) {
                        // A refusal the event loop cannot recover from: start over with a new one.
                        let failures = c.failures;
                        let link = Link::new(dev.id(), &shared.gateway, tls.clone());
                        *c = Connection {
                            link,
                            attempt_at: Some(retry_at(&shared, failures, dev.id())),
                            failures,
                        };
                    }
                }
            }
        }
    }
}

struct NoLink;

impl UplinkSink for NoLink {
    fn try_send(&mut self, uplink: Vec<u8>) -> Result<(), Vec<u8>> {
        Err(uplink)
    }
}

/// Polls the connection until it has an event, ticking the device whenever it falls due.
async fn drive(
    c: &mut Connection,
    dev: &mut impl FirmwareDevice,
    shared: &Shared,
    uplink_topic: &str,
    mut wake: Instant,
    wake_sim: &mut u64,
    reported: &mut Stats,
) -> Wake {
    c.attempt_at = None;
    let Link { client, events } = &mut c.link;
    let poll = events.poll();
    tokio::pin!(poll);
    loop {
        tokio::select! {
            biased;
            _ = shared.stop.cancelled() => return Wake::Stop,
            event = &mut poll => return Wake::Event(event),
            _ = tokio::time::sleep_until(wake.into()) => {
                let sim = shared.clock.sim_ms(Instant::now());
                if !dev.wants_link(sim) || dev.finished(sim) {
                    return Wake::Timer;
                }
                *wake_sim = dev.tick(sim, &mut ClientSink { client, topic: uplink_topic });
                shared.totals.update(reported, dev.stats());
                wake = shared.clock.instant_at(*wake_sim);
            }
        }
    }
}

/// Handles one connection event; false when the link must be rebuilt.
fn handle(
    event: Result<Event, ConnectionError>,
    c: &mut Connection,
    dev: &mut impl FirmwareDevice,
    shared: &Shared,
) -> bool {
    let sim = shared.clock.sim_ms(Instant::now());
    match event {
        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
            if ack.code != ConnectReturnCode::Success {
                fail(c, dev, shared, format!("gateway refused CONNECT: {:?}", ack.code));
                return true;
            }
            let filters = [dev.ack_topic(), dev.config_topic()]
                .map(|t| SubscribeFilter::new(t.as_str().to_owned(), QoS::AtLeastOnce));
            if let Err(e) = c.link.client.try_subscribe_many(filters) {
                shared.totals.connect_failed(format!("cannot subscribe: {e}"));
                drop_link(dev, shared);
                c.failures += 1;
                return false;
            }
        }
        Ok(Event::Incoming(Packet::SubAck(ack))) => {
            if ack.return_codes.iter().any(|code| matches!(code, SubscribeReasonCode::Failure)) {
                shared.totals.connect_failed("gateway refused the ack/config subscription".into());
                drop_link(dev, shared);
                c.failures += 1;
                return false;
            }
            if !dev.is_connected() {
                dev.link_up(sim);
                shared.totals.connected(true);
            }
            c.failures = 0;
        }
        Ok(Event::Incoming(Packet::Publish(p))) => {
            if p.topic == dev.ack_topic().as_str() {
                dev.on_ack(&p.payload, sim);
            } else if p.topic == dev.config_topic().as_str() {
                dev.on_config(&p.payload, sim);
            }
        }
        Ok(_) => {}
        Err(e) => fail(c, dev, shared, e.to_string()),
    }
    true
}

/// The connection failed: the device stops sending, and the event loop reconnects (its next
/// poll does) after a back-off and a pacing slot.
fn fail(c: &mut Connection, dev: &mut impl FirmwareDevice, shared: &Shared, error: String) {
    tracing::debug!(device = dev.id(), %error, "connection failed");
    shared.totals.connect_failed(error);
    drop_link(dev, shared);
    c.failures += 1;
    c.attempt_at = Some(retry_at(shared, c.failures, dev.id()));
}

fn retry_at(shared: &Shared, failures: u32, device: &str) -> Instant {
    let unit = rng::unit(rng::seed_of(device), 0x6a69_7474, u64::from(failures));
    shared.pacer.reserve(Instant::now() + RECONNECT.jittered(failures, unit))
}

fn drop_link(dev: &mut impl FirmwareDevice, shared: &Shared) {
    if dev.is_connected() {
        shared.totals.connected(false);
    }
    dev.link_down();
}

/// Says goodbye to the broker (bounded), so the gateway sees an orderly DISCONNECT.
async fn close(mut link: Link, dev: &mut impl FirmwareDevice, shared: &Shared) {
    if dev.is_connected() && link.client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            loop {
                match link.events.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }
    drop_link(dev, shared);
}

async fn sleep(until: Instant, stop: &CancellationToken) -> Wake {
    tokio::select! {
        _ = stop.cancelled() => Wake::Stop,
        _ = tokio::time::sleep_until(until.into()) => Wake::Timer,
    }
}
