//! Where device traffic goes: [`Upstream`], by `[upstream] kind`, is either the embedded broker
//! over the gateway's own connections to it ("links", below) or a NATS JetStream cluster
//! ([`crate::cluster_link`]). A device session sees one interface, [`UplinkRoute`].
//!
//! The broker links:
//!
//! Devices do not get a broker connection each: a broker connection costs rumqttd about
//! 20 KiB of buffers plus two file descriptors in this process, which alone would break the
//! memory and connection targets (see the crate docs). Instead:
//!
//! - a few **uplink links** carry device publishes. Each device is pinned to one link (by a hash
//!   of its key), so its publishes stay in order. A QoS 1 publish gets a link-side packet id;
//!   the broker's PUBACK for it is routed back to the device with the device's own id. The
//!   number in flight per link is bounded (a semaphore), which also bounds the link's queue.
//! - one **downlink link** subscribes to every device's `ack` and `config` topics and hands each
//!   message to the device's connection, if it is connected here.
//!
//! If a link drops, every device with a publish in flight on it is disconnected (its publish
//! will never be acknowledged; the device resends after reconnecting) and the link reconnects
//! with back-off.

use crate::cluster_link::ClusterLink;
use crate::mailbox::{Downlink, End, Event, Mailbox};
use crate::metrics::Metrics;
use crate::mqtt::{self, encode, PacketType, Publish, LEVEL_V4};
use crate::packet_io::read_packet;
use crate::refusal::Refusal;
use crate::sessions::{key_of, Delivery, DeviceSessions};
use bytes::{Bytes, BytesMut};
use dampwatch_wire::topic::{Topic, TopicKind};
use dampwatch_wire::Backoff;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Keep-alive the links announce; they ping well within it.
const KEEP_ALIVE: Duration = Duration::from_secs(60);
const PING_EVERY: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Waits between attempts to reach the broker on loopback: it is back within moments of a
/// restart, and devices wait for the link meanwhile.
const RECONNECT: Backoff = Backoff::doubling(Duration::from_millis(50), Duration::from_secs(5));
/// QoS 0 uplinks queued beyond this many bytes are dropped rather than buffered.
const MAX_QOS0_BACKLOG: usize = 1 << 20;
/// Largest packet the broker may send a link (downlinks are small; this only bounds memory).
const MAX_BROKER_PACKET: usize = 1 << 20;

/// What the downlink link subscribes to.
const DOWNLINK_FILTERS: [(&str, u8); 2] = [("dw/v1/+/+/ack", 1), ("dw/v1/+/+/config", 1)];

/// How the links are set up.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// The broker's MQTT 3.1.1 listener.
    pub broker: SocketAddr,
    /// What the broker asks of every connection.
    pub login: crate::broker::BrokerLogin,
    pub uplinks: usize,
    /// QoS 1 publishes in flight per uplink link (at most 65,535).
    pub inflight: usize,
    /// Client ids are `_gw{instance}-up{n}` and `_gw{instance}-down`: the leading `_` is outside
    /// the id rule, so no device or service can take a link's client id.
    pub instance: String,
}

/// The gateway's upstream.
pub enum Upstream {
    Broker(BrokerLinks),
    Cluster(Arc<ClusterLink>),
}

/// Where one device's publishes go.
#[derive(Clone, Copy)]
pub enum UplinkRoute<'a> {
    Broker(&'a Arc<Link>),
    Cluster(&'a Arc<ClusterLink>),
}

impl Upstream {
    /// The route a device's publishes take (always the same one for a device).
    pub fn route_for(&self, device_key: &str) -> UplinkRoute<'_> {
        match self {
            Upstream::Broker(b) => UplinkRoute::Broker(b.link_for(device_key)),
            Upstream::Cluster(c) => UplinkRoute::Cluster(c),
        }
    }

    /// True when device traffic can flow.
    pub fn is_up(&self) -> bool {
        match self {
            Upstream::Broker(b) => b.is_up(),
            Upstream::Cluster(c) => c.is_up(),
        }
    }

    /// Starts taking a connected device's downlinks, where the upstream needs the gateway to
    /// ask for them (the cluster routes a device's downlinks by interest); the guard stops it.
    /// The broker's downlink link takes every device's, so there is nothing to do.
    pub fn attach(&self, device_key: &str, mailbox: &Arc<Mailbox>) -> Option<tokio_util::sync::DropGuard> {
        match self {
            Upstream::Broker(_) => None,
            Upstream::Cluster(c) => Some(c.attach(device_key, mailbox.clone())),
        }
    }
}

impl UplinkRoute<'_> {
    pub fn is_up(&self) -> bool {
        match self {
            UplinkRoute::Broker(l) => l.is_up(),
            UplinkRoute::Cluster(c) => c.is_up(),
        }
    }

    /// Waits for room for one more QoS 1 publish in flight.
    pub async fn reserve(&self, limit: Duration) -> Result<OwnedSemaphorePermit, LinkBusy> {
        match self {
            UplinkRoute::Broker(l) => l.reserve(limit).await,
            UplinkRoute::Cluster(c) => c.reserve(limit).await,
        }
    }

    /// Forwards a device's (checked) QoS 1 publish; its PUBACK reaches `mailbox` as
    /// [`Event::Puback`] with `device_packet_id` once the upstream holds it.
    pub fn publish_qos1(
        &self,
        publish: &Publish<'_>,
        device_packet_id: u16,
        mailbox: Arc<Mailbox>,
        slot: OwnedSemaphorePermit,
    ) {
        match self {
            UplinkRoute::Broker(l) => l.publish_qos1(publish, device_packet_id, mailbox, slot),
            UplinkRoute::Cluster(c) => c.publish_qos1(publish, device_packet_id, mailbox, slot),
        }
    }

    /// Forwards a device's (checked) QoS 0 publish; false if it was dropped.
    pub fn publish_qos0(&self, publish: &Publish<'_>) -> bool {
        match self {
            UplinkRoute::Broker(l) => l.publish_qos0(publish),
            UplinkRoute::Cluster(c) => c.publish_qos0(publish),
        }
    }
}

/// The links to the embedded broker.
pub struct BrokerLinks {
    uplinks: Vec<Arc<Link>>,
    downlink: Arc<Link>,
}

impl BrokerLinks {
    /// Starts every link on `tasks`; they run until `stop`.
    pub fn start(
        settings: &UpstreamSettings,
        sessions: Arc<DeviceSessions>,
        metrics: Arc<Metrics>,
        stop: &CancellationToken,
        tasks: &TaskTracker,
    ) -> BrokerLinks {
        let inflight = settings.inflight.clamp(1, usize::from(u16::MAX) - 1);
        let make = |name: String, role: Role| {
            let link = Arc::new(Link {
                name,
                login: settings.login.clone(),
                role,
                state: Mutex::default(),
                wake: Notify::new(),
                slots: Arc::new(Semaphore::new(inflight)),
                up: AtomicBool::new(false),
                metrics: metrics.clone(),
            });
            tasks.spawn(link.clone().run(settings.broker, stop.clone()));
            link
        };
        let uplinks = (0..settings.uplinks.max(1))
            .map(|n| make(format!("_gw{}-up{n}", settings.instance), Role::Uplinks))
            .collect();
        let downlink = make(format!("_gw{}-down", settings.instance), Role::Downlinks(sessions));
        BrokerLinks { uplinks, downlink }
    }

    /// The link a device's publishes go through (always the same one for a device).
    pub fn link_for(&self, device_key: &str) -> &Arc<Link> {
        // FNV-1a: stable, cheap, good enough to spread devices over a handful of links.
        let h = device_key
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        &self.uplinks[(h % self.uplinks.len() as u64) as usize]
    }

    /// True when every link is connected.
    pub fn is_up(&self) -> bool {
        self.downlink.is_up() && self.uplinks.iter().all(|l| l.is_up())
    }

    /// Waits until every link is connected.
    pub async fn wait_until_up(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_up() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

enum Role {
    Uplinks,
    Downlinks(Arc<DeviceSessions>),
}

/// A device publish waiting for the broker's PUBACK.
struct Pending {
    mailbox: Arc<Mailbox>,
    device_packet_id: u16,
    _slot: OwnedSemaphorePermit,
}

#[derive(Default)]
struct LinkState {
    /// Bytes waiting for the writer.
    out: BytesMut,
    pending: HashMap<u16, Pending>,
    last_id: u16,
}

/// One MQTT connection of the gateway to the broker.
pub struct Link {
    name: String,
    login: crate::broker::BrokerLogin,
    role: Role,
    state: Mutex<LinkState>,
    wake: Notify,
    slots: Arc<Semaphore>,
    up: AtomicBool,
    metrics: Arc<Metrics>,
}

/// The link could not take a publish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkBusy;

/// Waits at most `limit` for one of `slots`, the publishes a link may have in flight.
pub(crate) async fn reserve_slot(
    slots: &Arc<Semaphore>,
    limit: Duration,
) -> Result<OwnedSemaphorePermit, LinkBusy> {
    match tokio::time::timeout(limit, slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Ok(slot),
        _ => Err(LinkBusy),
    }
}

impl Link {
    fn state(&self) -> MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Relaxed)
    }

    /// Waits for room for one more QoS 1 publish in flight.
    pub async fn reserve(&self, limit: Duration) -> Result<OwnedSemaphorePermit, LinkBusy> {
        reserve_slot(&self.slots, limit).await
    }

    /// Queues a device's (checked) QoS 1 publish; the broker's PUBACK reaches `mailbox` as
    /// [`Event::Puback`] with `device_packet_id`.
    pub fn publish_qos1(
        &self,
        publish: &Publish<'_>,
        device_packet_id: u16,
        mailbox: Arc<Mailbox>,
        slot: OwnedSemaphorePermit,
    ) {
        {
            let mut s = self.state();
            // Fewer ids are in flight than exist (the semaphore holds at most 65,534), so a
            // free one is always found.
            let mut id = s.last_id;
            loop {
                id = id.wrapping_add(1).max(1);
                if !s.pending.contains_key(&id) {
                    break;
                }
            }
            s.last_id = id;
            encode::publish_v4(&mut s.out, publish, id);
            s.pending.insert(id, Pending { mailbox, device_packet_id, _slot: slot });
        }
        self.wake.notify_one();
    }

    /// Queues a device's (checked) QoS 0 publish; false if it was dropped because the link is
    /// backed up.
    pub fn publish_qos0(&self, publish: &Publish<'_>) -> bool {
        {
            let mut s = self.state();
            if s.out.len() > MAX_QOS0_BACKLOG {
                return false;
            }
            encode::publish_v4(&mut s.out, publish, 0);
        }
        self.wake.notify_one();
        true
    }

    fn enqueue(&self, write: impl FnOnce(&mut BytesMut)) {
        write(&mut self.state().out);
        self.wake.notify_one();
    }

    /// The broker acknowledged link-side id `id`.
    fn acknowledged(&self, id: u16) {
        let done = self.state().pending.remove(&id);
        if let Some(p) = done {
            p.mailbox.push(Event::Puback(p.device_packet_id));
        }
    }

    /// The connection dropped: nothing in flight will be acknowledged.
    fn fail_all(&self) {
        let pending = {
            let mut s = self.state();
            s.out.clear();
            std::mem::take(&mut s.pending)
        };
        for p in pending.into_values() {
            p.mailbox.close(End::Refused(Refusal::UpstreamUnavailable));
        }
    }

    async fn run(self: Arc<Self>, broker: SocketAddr, stop: CancellationToken) {
        let mut reconnects = RECONNECT.retries();
        loop {
            match self.connect(broker).await {
                Ok((stream, leftover)) => {
                    reconnects.reset();
                    self.up.store(true, Relaxed);
                    tracing::debug!(link = %self.name, "broker link connected");
                    let stopped = self.serve(stream, leftover, &stop).await;
                    self.up.store(false, Relaxed);
                    self.fail_all();
                    if stopped {
                        return;
                    }
                    self.metrics.upstream_reconnects.inc();
                    tracing::warn!(link = %self.name, "broker link lost; reconnecting");
                }
                Err(e) => tracing::warn!(link = %self.name, error = %e, "cannot connect to the broker"),
            }
            tokio::select! {
                _ = tokio::time::sleep(reconnects.next_delay()) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Connects, sends CONNECT (and SUBSCRIBE for the downlink link), waits for CONNACK.
    async fn connect(&self, broker: SocketAddr) -> std::io::Result<(TcpStream, BytesMut)> {
        let setup = async {
            let mut stream = TcpStream::connect(broker).await?;
            stream.set_nodelay(true)?;
            let mut out = BytesMut::new();
            encode::connect_v4_login(
                &mut out,
                &self.name,
                KEEP_ALIVE.as_secs() as u16,
                true,
                Some(self.login.pair()),
            );
            if let Role::Downlinks(_) = self.role {
                encode::subscribe_v4(&mut out, 1, &DOWNLINK_FILTERS);
            }
            stream.write_all(&out).await?;
            let mut buf = BytesMut::new();
            let refused = || std::io::Error::other("the broker refused the link");
            let h = read_packet(&mut stream, &mut buf, MAX_BROKER_PACKET).await.map_err(|_| refused())?;
            match h {
                Some(h) if h.kind == PacketType::Connack && buf.get(3) == Some(&0) => {
                    let _ = buf.split_to(h.packet_len());
                    Ok((stream, buf))
                }
                _ => Err(refused()),
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, setup)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("timed out")))
    }

    /// Runs a connected link until it fails (false) or `stop` fires (true).
    async fn serve(&self, stream: TcpStream, mut buf: BytesMut, stop: &CancellationToken) -> bool {
        let (mut r, mut w) = stream.into_split();
        // Reading never waits on anything but the socket, so the broker can always deliver
        // acknowledgements while the writer is busy: the two cannot deadlock each other.
        let reader = async {
            loop {
                match read_packet(&mut r, &mut buf, MAX_BROKER_PACKET).await {
                    Ok(Some(h)) => {
                        self.on_packet(h, &buf[..h.packet_len()]);
                        let _ = buf.split_to(h.packet_len());
                        crate::packet_io::release_if_idle(&mut buf);
                    }
                    _ => return,
                }
            }
        };
        let writer = async {
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.tick().await;
            loop {
                let stopping = tokio::select! {
                    _ = self.wake.notified() => false,
                    _ = ping.tick() => {
                        self.enqueue(encode::pingreq);
                        false
                    }
                    _ = stop.cancelled() => true,
                };
                let chunk = self.state().out.split();
                if !chunk.is_empty() && w.write_all(&chunk).await.is_err() {
                    return false;
                }
                if stopping {
                    return true;
                }
            }
        };
        tokio::select! {
            _ = reader => false,
            stopped = writer => stopped,
        }
    }

    fn on_packet(&self, h: mqtt::FixedHeader, packet: &[u8]) {
        let body = &packet[h.header_len..];
        match h.kind {
            PacketType::Puback => {
                if let Ok(id) = mqtt::packet_id(body) {
                    self.acknowledged(id);
                }
            }
            PacketType::Publish => {
                if let Role::Downlinks(sessions) = &self.role {
                    self.on_downlink(sessions, h, body);
                }
            }
            PacketType::Suback if body.get(2..).is_some_and(|codes| codes.contains(&0x80)) => {
                tracing::error!(link = %self.name, "the broker refused the downlink subscription");
            }
            _ => {}
        }
    }

    fn on_downlink(&self, sessions: &DeviceSessions, h: mqtt::FixedHeader, body: &[u8]) {
        let Ok(p) = mqtt::publish(h.flags, body, LEVEL_V4) else {
            tracing::warn!(link = %self.name, "malformed downlink from the broker ignored");
            return;
        };
        // Acknowledged at once and in arrival order (rumqttd requires that order). The
        // gateway keeps no downlink across connections; the collector repeats its
        // acknowledgements after every commit, and configuration is remembered below.
        if let Some((id, _)) = p.packet_id {
            self.enqueue(|out| encode::puback(out, id));
        }
        let Some(topic) = Topic::parse(p.topic) else { return };
        if topic.kind == TopicKind::Up {
            return;
        }
        let downlink = Downlink {
            kind: topic.kind,
            topic: Bytes::copy_from_slice(p.topic.as_bytes()),
            payload: Bytes::copy_from_slice(p.payload),
            qos: p.qos.min(1),
            retain: p.retain,
        };
        if sessions.deliver(key_of(p.topic, &topic), downlink) == Delivery::Dropped {
            self.metrics.downlinks_dropped.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::fixed_header;
    use std::collections::VecDeque;
    use tokio::net::TcpListener;

    /// A broker that accepts a link, answers CONNACK, and hands back the stream.
    async fn accept_link(listener: &TcpListener) -> (TcpStream, BytesMut) {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = BytesMut::new();
        let h = read_packet(&mut s, &mut buf, 1 << 16).await.unwrap().unwrap();
        assert_eq!(h.kind, PacketType::Connect);
        let _ = buf.split_to(h.packet_len());
        s.write_all(&[0x20, 2, 0, 0]).await.unwrap();
        (s, buf)
    }

    async fn next_packet(s: &mut TcpStream, buf: &mut BytesMut) -> (mqtt::FixedHeader, BytesMut) {
        let h = read_packet(s, buf, 1 << 16).await.unwrap().unwrap();
        (h, buf.split_to(h.packet_len()))
    }

    async fn wait_for(mailbox: &Mailbox) -> (VecDeque<Event>, Option<End>) {
        tokio::time::timeout(Duration::from_secs(5), mailbox.wait()).await.unwrap();
        let mut events = VecDeque::new();
        let end = mailbox.take(&mut events);
        (events, end)
    }

    #[tokio::test]
    async fn acks_are_routed_back_and_a_lost_link_closes_whoever_waited_on_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let settings = UpstreamSettings {
            broker: listener.local_addr().unwrap(),
            login: crate::broker::BrokerLogin { username: "u".into(), password: "p".into() },
            uplinks: 1,
            inflight: 4,
            instance: "t".into(),
        };
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let sessions = Arc::new(DeviceSessions::new(10));
        let up = BrokerLinks::start(&settings, sessions, Arc::new(Metrics::default()), &stop, &tasks);
        let (mut a, mut abuf) = accept_link(&listener).await;
        let (b, bbuf) = accept_link(&listener).await;
        // One of the two is the downlink link: it subscribes right after CONNECT.
        let first = tokio::time::timeout(Duration::from_millis(500), next_packet(&mut a, &mut abuf)).await;
        let a_is_downlink = first.is_ok_and(|(h, _)| h.kind == PacketType::Subscribe);
        let ((mut uplink, mut ubuf), _downlink) =
            if a_is_downlink { ((b, bbuf), (a, abuf)) } else { ((a, abuf), (b, bbuf)) };
        assert!(up.wait_until_up(Duration::from_secs(5)).await);

        let mut raw = BytesMut::new();
        encode::publish(&mut raw, LEVEL_V4, b"dw/v1/acme/d1/up", 1, false, 77, b"payload");
        let h = fixed_header(&raw).unwrap().unwrap();
        let p = mqtt::publish(h.flags, &raw[h.header_len..], LEVEL_V4).unwrap();
        let link = up.link_for("acme/d1");
        let mailbox = Arc::new(Mailbox::default());

        // The broker sees the link's own packet id, the device gets its PUBACK with its own.
        let slot = link.reserve(Duration::from_secs(1)).await.unwrap();
        link.publish_qos1(&p, 77, mailbox.clone(), slot);
        let (h, packet) = next_packet(&mut uplink, &mut ubuf).await;
        let seen = mqtt::publish(h.flags, &packet[h.header_len..], LEVEL_V4).unwrap();
        assert_eq!((seen.topic, seen.payload), (p.topic, p.payload));
        let link_id = seen.packet_id.unwrap().0;
        let mut ack = BytesMut::new();
        encode::puback(&mut ack, link_id);
        uplink.write_all(&ack).await.unwrap();
        assert_eq!(wait_for(&mailbox).await, (VecDeque::from([Event::Puback(77)]), None));

        // In flight when the broker connection drops: that device is closed, the link comes back.
        let slot = link.reserve(Duration::from_secs(1)).await.unwrap();
        link.publish_qos1(&p, 78, mailbox.clone(), slot);
        let _ = next_packet(&mut uplink, &mut ubuf).await;
        drop(uplink);
        assert_eq!(wait_for(&mailbox).await.1, Some(End::Refused(Refusal::UpstreamUnavailable)));
        let (mut again, mut gbuf) = accept_link(&listener).await;
        let fresh = Arc::new(Mailbox::default());
        let slot = link.reserve(Duration::from_secs(1)).await.unwrap();
        link.publish_qos1(&p, 79, fresh.clone(), slot);
        let (h, packet) = next_packet(&mut again, &mut gbuf).await;
        let id = mqtt::publish(h.flags, &packet[h.header_len..], LEVEL_V4).unwrap().packet_id.unwrap().0;
        let mut ack = BytesMut::new();
        encode::puback(&mut ack, id);
        again.write_all(&ack).await.unwrap();
        assert_eq!(wait_for(&fresh).await, (VecDeque::from([Event::Puback(79)]), None));
        // Every slot came back: the failed publish's slot was released with it.
        assert_eq!(link.slots.available_permits(), 4);
        stop.cancel();
    }
}
