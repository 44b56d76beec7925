//! A device's MQTT session, held by the gateway itself.
//!
//! After CONNECT has been checked, the gateway answers the device directly: CONNACK, SUBACK,
//! UNSUBACK and PINGRESP come from here; publishes go to the broker over a shared link
//! (`crate::upstream`) and the device's PUBACK is sent only when the broker has acknowledged the
//! publish; `ack` and `config` messages come back from the broker's shared downlink
//! subscription. One task per connection, reading and writing in turn; everything it holds
//! while idle is small (see the crate docs on memory).
//!
//! Sessions are always clean: the device subscribes again after every CONNECT (the firmware
//! does), and the last configuration message of the device is handed to it on subscribing, as a
//! retained message would be.

use crate::acl;
use crate::identity::Peer;
use crate::mailbox::{Downlink, End, Event, Mailbox};
use crate::mqtt::{self, encode, FixedHeader, PacketType, LEVEL_V5};
use crate::packet_io::{complete_packet, read_packet, release_if_idle, write_within, WriteError};
use crate::refusal::Refusal;
use crate::server::Shared;
use crate::upstream::UplinkRoute;
use bytes::BytesMut;
use dampwatch_wire::topic::{Topic, TopicKind};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// QoS 1 downlinks a device may leave unacknowledged; more are dropped until it catches up.
const DOWNLINK_WINDOW: usize = 16;

/// What CONNECT said that the session needs.
#[derive(Debug, Clone, Copy)]
pub struct Hello {
    pub level: u8,
    pub keep_alive_s: u16,
}

/// Session state besides the stream.
struct Session<'a> {
    shared: &'a Shared,
    peer: &'a Peer,
    key: &'a str,
    level: u8,
    link: UplinkRoute<'a>,
    mailbox: Arc<Mailbox>,
    /// Uplinks forwarded and not yet acknowledged by the broker.
    inflight: usize,
    /// Granted QoS of the device's `ack` and `config` subscriptions.
    ack_qos: Option<u8>,
    config_qos: Option<u8>,
    /// Downlink packet ids the device has not acknowledged yet.
    unacked: Vec<u16>,
    last_id: u16,
    out: BytesMut,
}

/// Runs a device session after its CONNECT passed the checks; `inbound` holds whatever the
/// device sent after CONNECT.
pub async fn run<S>(
    shared: &Shared,
    io: &mut S,
    peer: &Peer,
    key: &str,
    hello: Hello,
    inbound: &mut BytesMut,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = encode::ServerLimits {
        receive_maximum: shared.cfg.limits.device_inflight,
        maximum_packet_size: u32::try_from(shared.cfg.limits.max_packet_bytes).unwrap_or(u32::MAX),
    };
    let link = shared.upstream.route_for(key);
    let mut out = BytesMut::new();
    if !link.is_up() {
        encode::connack(&mut out, hello.level, encode::ConnackCode::ServerUnavailable, limits);
        let _ = write_within(io, &mut out, shared.cfg.limits.write_timeout).await;
        return End::Refused(Refusal::UpstreamUnavailable);
    }
    let mailbox = Arc::new(Mailbox::default());
    let live = match shared.register_live(peer, &mailbox) {
        Ok(live) => live,
        Err(refusal) => return End::Refused(refusal),
    };
    if shared.sessions.attach(key, mailbox.clone()) {
        shared.metrics.sessions_taken_over.inc();
        tracing::info!(device = peer.name(), landlord = peer.landlord().unwrap_or("-"), "session taken over");
    }
    // Stops taking the device's downlinks from the upstream when the session ends.
    let _downlinks = shared.upstream.attach(key, &mailbox);
    shared.metrics.devices_connected.inc();
    encode::connack(&mut out, hello.level, encode::ConnackCode::Accepted, limits);
    let mut session = Session {
        shared,
        peer,
        key,
        level: hello.level,
        link,
        mailbox: mailbox.clone(),
        inflight: 0,
        ack_qos: None,
        config_qos: None,
        unacked: Vec::new(),
        last_id: 0,
        out,
    };
    let end = match session.flush(io).await {
        Ok(()) => session.serve(io, inbound, keep_alive_limit(shared, hello.keep_alive_s)).await,
        Err(end) => end,
    };
    shared.metrics.devices_connected.dec();
    shared.live.unregister(live);
    shared.sessions.detach(key, &mailbox);
    end
}

/// MQTT: the server may close a connection that is silent for 1.5 times its keep-alive. A
/// keep-alive of 0 (none) or above the configured maximum is held to the maximum.
fn keep_alive_limit(shared: &Shared, keep_alive_s: u16) -> Duration {
    let max = shared.cfg.limits.max_keep_alive;
    let asked = Duration::from_secs(u64::from(keep_alive_s));
    let k = if asked.is_zero() || asked > max { max } else { asked };
    k + k / 2
}

impl Session<'_> {
    async fn serve<S>(&mut self, io: &mut S, inbound: &mut BytesMut, silence: Duration) -> End
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let max = self.shared.cfg.limits.max_packet_bytes;
        let window = usize::from(self.shared.cfg.limits.device_inflight);
        let deadline = tokio::time::sleep(silence);
        tokio::pin!(deadline);
        let mut events = VecDeque::new();
        let mut draining = false;
        loop {
            if draining && self.inflight == 0 {
                return self.goodbye(io).await;
            }
            tokio::select! {
                biased;
                _ = self.mailbox.wait() => {
                    if let Some(end) = self.mailbox.take(&mut events) {
                        return end;
                    }
                    for event in events.drain(..) {
                        self.on_event(event);
                    }
                }
                read = read_packet(io, inbound, max), if !draining && self.inflight < window => {
                    match read {
                        Ok(Some(_)) => {}
                        Ok(None) => return End::Closed,
                        Err(r) => return End::Refused(r),
                    }
                    deadline.as_mut().reset(Instant::now() + silence);
                    if let Some(end) = self.on_buffered_packets(inbound, max, window).await {
                        return end;
                    }
                }
                _ = self.shared.shutdown.cancelled(), if !draining => {
                    // Stop reading; finish what the device already sent and what is in flight.
                    draining = true;
                    deadline.as_mut().reset(Instant::now() + self.shared.cfg.limits.drain_timeout);
                    if let Some(end) = self.on_buffered_packets(inbound, max, usize::MAX).await {
                        return end;
                    }
                }
                _ = &mut deadline => {
                    return if draining { End::Closed } else { End::Refused(Refusal::KeepAliveTimeout) };
                }
            }
            if let Err(end) = self.flush(io).await {
                return end;
            }
        }
    }

    /// Handles every whole packet in `inbound`, as long as the in-flight window allows.
    async fn on_buffered_packets(
        &mut self,
        inbound: &mut BytesMut,
        max: usize,
        window: usize,
    ) -> Option<End> {
        while self.inflight < window {
            let h = match complete_packet(inbound, max) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(r) => return Some(End::Refused(r)),
            };
            let packet = inbound.split_to(h.packet_len());
            self.shared.metrics.bytes_in.inc_by(packet.len() as u64);
            if let Err(end) = self.on_packet(&h, &packet[h.header_len..]).await {
                return Some(end);
            }
        }
        release_if_idle(inbound);
        None
    }

    async fn flush<S: AsyncWrite + Unpin>(&mut self, io: &mut S) -> Result<(), End> {
        let n = self.out.len() as u64;
        match write_within(io, &mut self.out, self.shared.cfg.limits.write_timeout).await {
            Ok(()) => {
                self.shared.metrics.bytes_out.inc_by(n);
                Ok(())
            }
            Err(WriteError::TooSlow) => Err(End::Refused(Refusal::ClientTooSlow)),
            Err(WriteError::Closed) => Err(End::Closed),
        }
    }

    /// Ends a drained session: MQTT 5 devices are told the server is shutting down.
    async fn goodbye<S: AsyncWrite + Unpin>(&mut self, io: &mut S) -> End {
        if self.level == LEVEL_V5 {
            encode::disconnect_v5(&mut self.out, encode::SERVER_SHUTTING_DOWN);
        }
        let _ = self.flush(io).await;
        End::Closed
    }

    async fn on_packet(&mut self, h: &FixedHeader, body: &[u8]) -> Result<(), End> {
        let refuse = |r: Refusal| End::Refused(r);
        match h.kind {
            PacketType::Publish => self.on_publish(h, body).await,
            PacketType::Puback => {
                let id = mqtt::packet_id(body).map_err(|_| refuse(Refusal::MalformedPacket))?;
                self.unacked.retain(|&u| u != id);
                Ok(())
            }
            PacketType::Subscribe => self.on_subscribe(h, body),
            PacketType::Unsubscribe => self.on_unsubscribe(h, body),
            PacketType::Pingreq => {
                encode::pingresp(&mut self.out);
                Ok(())
            }
            PacketType::Disconnect => Err(End::Closed),
            PacketType::Connect => Err(refuse(Refusal::NotConnectFirst)),
            // QoS 2 flows, AUTH and server-to-client packet types have no business here.
            _ => Err(refuse(Refusal::PacketTypeNotAllowed)),
        }
    }

    async fn on_publish(&mut self, h: &FixedHeader, body: &[u8]) -> Result<(), End> {
        let refuse = |r: Refusal| End::Refused(r);
        let p = mqtt::publish(h.flags, body, self.level).map_err(|_| refuse(Refusal::MalformedPacket))?;
        acl::check_publish(&self.peer.identity, p.topic, p.qos, p.retain).map_err(refuse)?;
        for id in mqtt::parse::property_ids(p.properties) {
            // Topic aliases are per connection, and the link is shared: CONNACK allows none.
            match id {
                Ok(mqtt::parse::property::TOPIC_ALIAS) | Err(_) => {
                    return Err(refuse(Refusal::MalformedPacket))
                }
                Ok(_) => {}
            }
        }
        if !self.shared.device_messages.try_take(self.key, std::time::Instant::now()) {
            return Err(refuse(Refusal::MessageRateExceeded));
        }
        self.shared.metrics.messages_in.inc();
        match p.packet_id {
            None => {
                if !self.link.publish_qos0(&p) {
                    self.shared.metrics.uplinks_dropped.inc();
                }
            }
            Some((device_id, _)) => {
                let slot = self
                    .link
                    .reserve(self.shared.cfg.limits.write_timeout)
                    .await
                    .map_err(|_| refuse(Refusal::UpstreamUnavailable))?;
                self.link.publish_qos1(&p, device_id, self.mailbox.clone(), slot);
                self.inflight += 1;
            }
        }
        Ok(())
    }

    /// Which of the device's own downlink topics a (checked) filter is.
    fn kind_of(filter: &str) -> Option<TopicKind> {
        Topic::parse(filter).map(|t| t.kind)
    }

    fn on_subscribe(&mut self, h: &FixedHeader, body: &[u8]) -> Result<(), End> {
        let refuse = |r: Refusal| End::Refused(r);
        let filters =
            mqtt::subscriptions(h.flags, body, self.level).map_err(|_| refuse(Refusal::MalformedPacket))?;
        let packet_id = filters.packet_id;
        let mut codes = Vec::with_capacity(2);
        let mut send_config = false;
        for s in filters {
            let s = s.map_err(|_| refuse(Refusal::MalformedPacket))?;
            acl::check_subscribe(&self.peer.identity, s.filter, s.qos()).map_err(refuse)?;
            let granted = s.qos().min(1);
            match Self::kind_of(s.filter) {
                Some(TopicKind::Ack) => self.ack_qos = Some(granted),
                Some(TopicKind::Config) => {
                    let new = self.config_qos.replace(granted).is_none();
                    send_config |= match s.retain_handling() {
                        0 => true,
                        1 => new,
                        _ => false,
                    };
                }
                // The ACL admits only the device's own ack and config topics.
                _ => return Err(refuse(Refusal::FilterNotAllowed)),
            }
            codes.push(granted);
        }
        encode::suback(&mut self.out, self.level, packet_id, &codes);
        if send_config {
            if let Some(config) = self.shared.sessions.config(self.key) {
                self.on_event(Event::Downlink(config));
            }
        }
        Ok(())
    }

    fn on_unsubscribe(&mut self, h: &FixedHeader, body: &[u8]) -> Result<(), End> {
        let filters = mqtt::unsubscriptions(h.flags, body, self.level)
            .map_err(|_| End::Refused(Refusal::MalformedPacket))?;
        let packet_id = filters.packet_id;
        let mut codes = Vec::with_capacity(2);
        for s in filters {
            let s = s.map_err(|_| End::Refused(Refusal::MalformedPacket))?;
            let own = Topic::parse(s.filter).filter(|t| self.key_matches(t));
            let slot = match own.map(|t| t.kind) {
                Some(TopicKind::Ack) => &mut self.ack_qos,
                Some(TopicKind::Config) => &mut self.config_qos,
                _ => {
                    codes.push(0x11); // no subscription existed
                    continue;
                }
            };
            codes.push(if slot.take().is_some() { 0x00 } else { 0x11 });
        }
        encode::unsuback(&mut self.out, self.level, packet_id, &codes);
        Ok(())
    }

    fn key_matches(&self, t: &Topic<'_>) -> bool {
        self.key.split_once('/') == Some((t.landlord, t.device))
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Puback(id) => {
                self.inflight = self.inflight.saturating_sub(1);
                encode::puback(&mut self.out, id);
            }
            Event::Downlink(d) => self.on_downlink(&d),
        }
    }

    fn on_downlink(&mut self, d: &Downlink) {
        let granted = match d.kind {
            TopicKind::Ack => self.ack_qos,
            TopicKind::Config => self.config_qos,
            TopicKind::Up => None,
        };
        let Some(granted) = granted else { return };
        let qos = d.qos.min(granted);
        let mut id = 0;
        if qos == 1 {
            if self.unacked.len() >= DOWNLINK_WINDOW {
                self.shared.metrics.downlinks_dropped.inc();
                return;
            }
            id = self.last_id;
            loop {
                id = id.wrapping_add(1).max(1);
                if !self.unacked.contains(&id) {
                    break;
                }
            }
            self.last_id = id;
            self.unacked.push(id);
        }
        encode::publish(&mut self.out, self.level, &d.topic, qos, d.retain, id, &d.payload);
        self.shared.metrics.messages_out.inc();
    }
}
