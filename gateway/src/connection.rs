//! One client connection: TLS handshake (bounded in time), identity, CONNECT check, then a
//! packet-by-packet authorised relay to the broker on loopback.
//!
//! Client to broker, every packet is parsed and checked before its original bytes are
//! forwarded; broker to client, packets are forwarded whole. Buffers start empty and are
//! released when idle, so an idle connection costs little memory.

use crate::acl;
use crate::identity::{self, Identity};
use crate::mqtt::{self, FixedHeader, PacketType};
use crate::refusal::Refusal;
use crate::server::Shared;
use bytes::{Buf, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Buffers above this size are dropped once empty, so idle connections hold no large buffers.
const KEEP_BUFFER_BYTES: usize = 1024;

/// How a connection ended, for the log.
enum End {
    Closed,
    Refused(Refusal),
}

/// Serves one accepted TCP connection to the end. Never panics on client input.
pub async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    shared.metrics.connections_open.fetch_add(1, Relaxed);
    let (who, end) = run(&shared, tcp).await;
    shared.metrics.connections_open.fetch_sub(1, Relaxed);
    if let End::Refused(reason) = end {
        shared.metrics.refused(reason);
        match &who {
            Some(id) => tracing::warn!(
                reason = %reason, device = id.name(), landlord = id.landlord().unwrap_or("-"), source = %peer,
                "connection refused"
            ),
            None => tracing::warn!(reason = %reason, source = %peer, "connection refused"),
        }
    }
}

async fn run(shared: &Shared, tcp: TcpStream) -> (Option<Identity>, End) {
    let _ = tcp.set_nodelay(true);
    let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.load().config.clone());
    let mut tls = match tokio::time::timeout(shared.cfg.tls.handshake_timeout, acceptor.accept(tcp)).await {
        Err(_) => return (None, End::Refused(Refusal::HandshakeTimeout)),
        Ok(Err(e)) => return (None, End::Refused(Refusal::from_tls_error(&e))),
        Ok(Ok(s)) => s,
    };
    let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.as_ref().to_vec());
    let Some(Ok((id, serial))) = leaf.map(|der| identity::from_certificate(&der)) else {
        return (None, End::Refused(Refusal::BadIdentity));
    };
    shared.metrics.handshakes_completed.fetch_add(1, Relaxed);
    // Revoked between the handshake's CRL and now (a reload raced us): refuse as revoked.
    if shared.tls.load().revoked_serials.contains(&serial) {
        return (Some(id), End::Refused(Refusal::CertificateRevoked));
    }
    if let Identity::Device { device, .. } = &id {
        if !shared.device_connects.try_take(device, Instant::now()) {
            return (Some(id), End::Refused(Refusal::DeviceConnectChurn));
        }
    }
    let end = relay(shared, &mut tls, &id, serial).await;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), tls.shutdown()).await;
    (Some(id), end)
}

/// Reads until `buf` holds one whole packet; returns its header. `Ok(None)` on a clean EOF.
async fn read_packet<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<FixedHeader>, Refusal> {
    loop {
        match mqtt::fixed_header(buf) {
            Err(_) => return Err(Refusal::MalformedPacket),
            Ok(Some(h)) if h.packet_len() > max => return Err(Refusal::PacketTooLarge),
            Ok(Some(h)) if buf.len() >= h.packet_len() => return Ok(Some(h)),
            Ok(Some(h)) => buf.reserve(h.packet_len() - buf.len()),
            Ok(None) => buf.reserve(64),
        }
        match r.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(Refusal::MalformedPacket),
            Ok(_) => {}
            Err(_) => return Ok(None),
        }
    }
}

fn release_if_idle(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > KEEP_BUFFER_BYTES {
        *buf = BytesMut::new();
    }
}

async fn relay<S>(shared: &Shared, tls: &mut S, id: &Identity, serial: Vec<u8>) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let max = shared.cfg.limits.max_packet_bytes;
    let mut inbound = BytesMut::new();
    let connect =
        match tokio::time::timeout(shared.cfg.limits.connect_timeout, read_packet(tls, &mut inbound, max))
            .await
        {
            Err(_) => return End::Refused(Refusal::ConnectTimeout),
            Ok(Err(r)) => return End::Refused(r),
            Ok(Ok(None)) => return End::Closed,
            Ok(Ok(Some(h))) => h,
        };
    if connect.kind != PacketType::Connect {
        return End::Refused(Refusal::NotConnectFirst);
    }
    let level = {
        let Ok(c) = mqtt::connect(&inbound[connect.header_len..connect.packet_len()]) else {
            return End::Refused(Refusal::MalformedPacket);
        };
        if let Err(r) = acl::check_connect(id, c.client_id, c.has_will) {
            let _ = tls.write_all(mqtt::connack_not_authorised(c.level)).await;
            let _ = tls.flush().await;
            return End::Refused(r);
        }
        c.level
    };
    let upstream_addr = if level == mqtt::LEVEL_V5 { shared.broker.v5 } else { shared.broker.v4 };
    let Ok(mut upstream) = TcpStream::connect(upstream_addr).await else {
        return End::Refused(Refusal::UpstreamUnavailable);
    };
    let _ = upstream.set_nodelay(true);
    if upstream.write_all(&inbound[..connect.packet_len()]).await.is_err() {
        return End::Refused(Refusal::UpstreamUnavailable);
    }
    inbound.advance(connect.packet_len());

    let cancel = CancellationToken::new();
    let conn_id = shared.live.register(serial, cancel.clone());
    let (mut client_r, mut client_w) = tokio::io::split(tls);
    let (mut up_r, mut up_w) = upstream.split();

    let client_to_broker = async {
        loop {
            let h = tokio::select! {
                r = read_packet(&mut client_r, &mut inbound, max) => r,
                _ = shared.shutdown.cancelled() => return End::Closed,
            };
            let h = match h {
                Ok(Some(h)) => h,
                Ok(None) => return End::Closed,
                Err(r) => return End::Refused(r),
            };
            if let Err(r) = check_packet(shared, id, level, &h, &inbound[h.header_len..h.packet_len()]) {
                return End::Refused(r);
            }
            shared.metrics.bytes_in.fetch_add(h.packet_len() as u64, Relaxed);
            if up_w.write_all(&inbound[..h.packet_len()]).await.is_err() {
                return End::Refused(Refusal::UpstreamUnavailable);
            }
            inbound.advance(h.packet_len());
            release_if_idle(&mut inbound);
        }
    };
    let broker_to_client = async {
        let mut outbound = BytesMut::new();
        loop {
            let h = match read_packet(&mut up_r, &mut outbound, usize::MAX).await {
                Ok(Some(h)) => h,
                _ => return End::Closed,
            };
            if h.kind == PacketType::Publish {
                shared.metrics.messages_out.fetch_add(1, Relaxed);
            }
            shared.metrics.bytes_out.fetch_add(h.packet_len() as u64, Relaxed);
            if client_w.write_all(&outbound[..h.packet_len()]).await.is_err()
                || client_w.flush().await.is_err()
            {
                return End::Closed;
            }
            outbound.advance(h.packet_len());
            release_if_idle(&mut outbound);
        }
    };
    tokio::pin!(broker_to_client);
    let end = tokio::select! {
        end = client_to_broker => {
            // Let the broker's answers to what was already forwarded (PUBACKs) reach the
            // client before closing: graceful shutdown lets in-flight publishes finish.
            if matches!(end, End::Closed) {
                let _ = tokio::time::timeout(shared.cfg.limits.drain_timeout, &mut broker_to_client).await;
            }
            end
        }
        end = &mut broker_to_client => end,
        _ = cancel.cancelled() => End::Refused(Refusal::RevokedWhileConnected),
    };
    shared.live.unregister(conn_id);
    end
}

/// Authorises one client packet after CONNECT.
fn check_packet(
    shared: &Shared,
    id: &Identity,
    level: u8,
    h: &FixedHeader,
    body: &[u8],
) -> Result<(), Refusal> {
    match h.kind {
        PacketType::Publish => {
            let p = mqtt::publish(h.flags, body).map_err(|_| Refusal::MalformedPacket)?;
            acl::check_publish(id, p.topic, p.qos, p.retain)?;
            if let Identity::Device { device, .. } = id {
                if !shared.device_messages.try_take(device, Instant::now()) {
                    return Err(Refusal::MessageRateExceeded);
                }
            }
            shared.metrics.messages_in.fetch_add(1, Relaxed);
            Ok(())
        }
        PacketType::Subscribe => {
            for s in mqtt::subscriptions(h.flags, body, level).map_err(|_| Refusal::MalformedPacket)? {
                let s = s.map_err(|_| Refusal::MalformedPacket)?;
                acl::check_subscribe(id, s.filter, s.qos)?;
            }
            Ok(())
        }
        PacketType::Puback | PacketType::Unsubscribe | PacketType::Pingreq | PacketType::Disconnect => Ok(()),
        PacketType::Connect => Err(Refusal::NotConnectFirst),
        // QoS 2 flows, AUTH and server-to-client packet types have no business coming from a client.
        _ => Err(Refusal::PacketTypeNotAllowed),
    }
}
