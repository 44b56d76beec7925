//! A service connection (the collector): relayed packet by packet to a broker connection of its
//! own, because a service's session (persistent subscriptions, manual acknowledgements, shared
//! subscriptions) lives in the broker.
//!
//! Client to broker, every packet is parsed and authorised before its original bytes are
//! forwarded; broker to client, packets are forwarded whole, several per flush when the broker
//! sends a burst. Both directions run concurrently, so neither side's slowness can block the
//! other. On shutdown the gateway stops reading from the service and waits (up to the drain
//! timeout) until the broker has acknowledged every QoS 1 publish the service had sent.

use crate::acl;
use crate::identity::{Identity, Peer};
use crate::mailbox::{End, Mailbox};
use crate::mqtt::{self, FixedHeader, PacketType};
use crate::packet_io::{complete_packet, read_packet, release_if_idle};
use crate::refusal::Refusal;
use crate::server::Shared;
use bytes::BytesMut;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest packet accepted from the broker: anything a device may send, plus room for the
/// properties the broker adds.
fn max_from_broker(shared: &Shared) -> usize {
    shared.cfg.limits.max_packet_bytes + 64 * 1024
}

/// Relays an authorised service connection; `connect` is the CONNECT packet, `inbound` what
/// followed it.
pub async fn run<S>(
    shared: &Shared,
    tls: &mut S,
    peer: &Peer,
    level: u8,
    connect: &[u8],
    inbound: &mut BytesMut,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Services are admitted only where there is a broker (see `connection.rs`).
    let Some((broker, broker_login)) = &shared.broker else {
        return End::Refused(Refusal::ServiceWithoutRole);
    };
    let upstream_addr = if level == mqtt::LEVEL_V5 { broker.v5 } else { broker.v4 };
    let Ok(mut upstream) = TcpStream::connect(upstream_addr).await else {
        return End::Refused(Refusal::UpstreamUnavailable);
    };
    let _ = upstream.set_nodelay(true);
    // The service proved who it is with its certificate; the broker is told with the gateway's
    // login, whatever username and password the service's CONNECT carried.
    let mut login_connect = BytesMut::new();
    let head = mqtt::parse::fixed_header(connect)
        .ok()
        .flatten()
        .map(|h| mqtt::parse::connect_head(&connect[h.header_len..]));
    let Some(Ok(head)) = head else {
        return End::Refused(Refusal::MalformedPacket);
    };
    mqtt::encode::connect_with_login(&mut login_connect, &head, broker_login.pair());
    let persistent = head.flags & 0x02 == 0;
    if upstream.write_all(&login_connect).await.is_err() {
        return End::Refused(Refusal::UpstreamUnavailable);
    }
    let mailbox = Arc::new(Mailbox::default());
    let live = match shared.register_live(peer, &mailbox) {
        Ok(live) => live,
        Err(refusal) => return End::Refused(refusal),
    };
    let session = Session { level, persistent };
    let end = relay(shared, tls, &peer.identity, session, upstream, inbound, &mailbox).await;
    shared.live.unregister(live);
    end
}

/// What the service's CONNECT said that later packets are judged by.
#[derive(Debug, Clone, Copy)]
struct Session {
    level: u8,
    /// Not a clean start: the broker keeps the session across connections.
    persistent: bool,
}

async fn relay<S>(
    shared: &Shared,
    tls: &mut S,
    id: &Identity,
    session: Session,
    mut upstream: TcpStream,
    inbound: &mut BytesMut,
    mailbox: &Mailbox,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = shared.cfg.limits.max_packet_bytes;
    let (mut client_r, mut client_w) = tokio::io::split(tls);
    let (mut up_r, mut up_w) = upstream.split();
    // QoS 1 publishes of the service the broker has not acknowledged yet.
    let unacked: Mutex<HashSet<u16>> = Mutex::default();
    let unacked_len = || unacked.lock().map_or(0, |u| u.len());

    let client_to_broker = async {
        loop {
            let h = tokio::select! {
                r = read_packet(&mut client_r, inbound, max) => r,
                _ = shared.shutdown.cancelled() => return End::Closed,
            };
            match h {
                Ok(Some(_)) => {}
                Ok(None) => return End::Closed,
                Err(r) => return End::Refused(r),
            }
            // Authorise every whole packet already here, then forward them in one write (a
            // service acknowledging a stream of messages sends many small PUBACKs).
            let mut checked = 0;
            let refused = loop {
                let h = match complete_packet(&inbound[checked..], max) {
                    Ok(Some(h)) => h,
                    Ok(None) => break None,
                    Err(r) => break Some(r),
                };
                let body = &inbound[checked + h.header_len..checked + h.packet_len()];
                match check_packet(id, session, &h, body) {
                    Ok(Some(packet_id)) => {
                        if let Ok(mut u) = unacked.lock() {
                            u.insert(packet_id);
                        }
                    }
                    Ok(None) => {}
                    Err(r) => break Some(r),
                }
                if h.kind == PacketType::Publish {
                    shared.metrics.messages_in.inc();
                }
                checked += h.packet_len();
            };
            // What was authorised before a refused packet still goes to the broker.
            shared.metrics.bytes_in.inc_by(checked as u64);
            if up_w.write_all(&inbound[..checked]).await.is_err() {
                return End::Refused(Refusal::UpstreamUnavailable);
            }
            if let Some(r) = refused {
                return End::Refused(r);
            }
            let _ = inbound.split_to(checked);
            release_if_idle(inbound);
        }
    };
    let broker_to_client = async {
        let max = max_from_broker(shared);
        let mut outbound = BytesMut::new();
        loop {
            if read_packet(&mut up_r, &mut outbound, max).await.ok().flatten().is_none() {
                return End::Closed;
            }
            // Forward every whole packet already here, then flush once.
            let mut sent = 0;
            while let Ok(Some(h)) = complete_packet(&outbound[sent..], max) {
                let body = &outbound[sent + h.header_len..sent + h.packet_len()];
                match h.kind {
                    PacketType::Publish => {
                        shared.metrics.messages_out.inc();
                    }
                    PacketType::Puback => {
                        if let (Ok(packet_id), Ok(mut u)) = (mqtt::packet_id(body), unacked.lock()) {
                            u.remove(&packet_id);
                        }
                    }
                    _ => {}
                }
                sent += h.packet_len();
            }
            shared.metrics.bytes_out.inc_by(sent as u64);
            if client_w.write_all(&outbound[..sent]).await.is_err() || client_w.flush().await.is_err() {
                return End::Closed;
            }
            let _ = outbound.split_to(sent);
            release_if_idle(&mut outbound);
        }
    };
    tokio::pin!(broker_to_client);
    let closed = async {
        let mut events = VecDeque::new();
        loop {
            mailbox.wait().await;
            if let Some(end) = mailbox.take(&mut events) {
                return end;
            }
        }
    };
    tokio::select! {
        end = client_to_broker => {
            if end != End::Closed || !shared.shutdown.is_cancelled() {
                return end;
            }
            // Shutting down: let the broker acknowledge what the service already sent.
            let drained = async {
                while unacked_len() > 0 {
                    tokio::select! {
                        _ = &mut broker_to_client => return,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
                    }
                }
            };
            let _ = tokio::time::timeout(shared.cfg.limits.drain_timeout, drained).await;
            End::Closed
        }
        end = &mut broker_to_client => end,
        end = closed => end,
    }
}

/// Authorises one service packet after CONNECT; returns the packet id of a QoS 1 publish.
fn check_packet(
    id: &Identity,
    session: Session,
    h: &FixedHeader,
    body: &[u8],
) -> Result<Option<u16>, Refusal> {
    let level = session.level;
    match h.kind {
        PacketType::Publish => {
            let p = mqtt::publish(h.flags, body, level).map_err(|_| Refusal::MalformedPacket)?;
            acl::check_publish(id, p.topic, p.qos, p.retain)?;
            Ok(p.packet_id.map(|(packet_id, _)| packet_id))
        }
        PacketType::Subscribe => {
            for s in mqtt::subscriptions(h.flags, body, level).map_err(|_| Refusal::MalformedPacket)? {
                let s = s.map_err(|_| Refusal::MalformedPacket)?;
                acl::check_subscribe(id, s.filter, s.qos())?;
                // rumqttd 0.20 panics when a persistent session holds a shared subscription
                // (taking every service's connection with it): a shared subscription needs a
                // clean start.
                if session.persistent && s.filter.starts_with("$share/") {
                    return Err(Refusal::PersistentSharedSubscription);
                }
            }
            Ok(None)
        }
        PacketType::Puback | PacketType::Unsubscribe | PacketType::Pingreq | PacketType::Disconnect => {
            Ok(None)
        }
        PacketType::Connect => Err(Refusal::NotConnectFirst),
        // QoS 2 flows, AUTH and server-to-client packet types have no business coming from a client.
        _ => Err(Refusal::PacketTypeNotAllowed),
    }
}
