//! One client connection up to its MQTT CONNECT: TLS handshake (bounded in time, in its own
//! task), identity from the certificate, revocation and churn checks, the CONNECT check; then a
//! device session (`crate::device`) or a service relay (`crate::relay`). Every refusal is
//! counted and logged once, here, with device, landlord, source address and reason.

use crate::acl;
use crate::device::{self, Hello};
use crate::identity::{Identity, Peer};
use crate::mailbox::End;
use crate::mqtt::{self, encode, PacketType};
use crate::packet_io::{read_packet, write_within};
use crate::refusal::Refusal;
use crate::server::Shared;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves one accepted TCP connection to the end. Never panics on client input.
pub async fn serve(shared: Arc<Shared>, tcp: TcpStream, source: SocketAddr) {
    shared.metrics.connections_open.fetch_add(1, Relaxed);
    let (peer, end) = run(&shared, tcp).await;
    shared.metrics.connections_open.fetch_sub(1, Relaxed);
    if let End::Refused(reason) = end {
        shared.metrics.refused(reason);
        match &peer {
            Some(p) => tracing::warn!(
                reason = %reason,
                device = p.name(),
                landlord = p.landlord().unwrap_or("-"),
                %source,
                "connection refused"
            ),
            None => tracing::warn!(reason = %reason, %source, "connection refused"),
        }
    }
}

async fn run(shared: &Shared, tcp: TcpStream) -> (Option<Peer>, End) {
    let _ = tcp.set_nodelay(true);
    let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.load().config.clone());
    let mut tls = match tokio::time::timeout(shared.cfg.tls.handshake_timeout, acceptor.accept(tcp)).await {
        Err(_) => return (None, End::Refused(Refusal::HandshakeTimeout)),
        Ok(Err(e)) => return (None, End::Refused(Refusal::from_tls_error(&e))),
        Ok(Ok(s)) => s,
    };
    let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first());
    let Some(Ok(peer)) = leaf.map(Peer::from_certificate) else {
        return (None, End::Refused(Refusal::BadIdentity));
    };
    shared.metrics.handshakes_completed.fetch_add(1, Relaxed);
    let end = admit(shared, &mut tls, &peer).await;
    // close_notify, so a well-behaved client sees an orderly end.
    let _ = tokio::time::timeout(Duration::from_millis(200), tls.shutdown()).await;
    (Some(peer), end)
}

/// Everything after the handshake.
async fn admit<S: AsyncRead + AsyncWrite + Unpin>(shared: &Shared, tls: &mut S, peer: &Peer) -> End {
    // Revoked between the handshake's CRL and now (a reload raced us): refuse as revoked.
    if shared.tls.load().revoked_serials.contains(&peer.serial) {
        return End::Refused(Refusal::CertificateRevoked);
    }
    let key = peer.device_key();
    if let Some(key) = &key {
        if !shared.device_connects.try_take(key, Instant::now()) {
            return End::Refused(Refusal::DeviceConnectChurn);
        }
    }
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
    let connect_bytes = inbound.split_to(connect.packet_len());
    let Ok(c) = mqtt::connect(&connect_bytes[connect.header_len..]) else {
        return End::Refused(Refusal::MalformedPacket);
    };
    let hello = Hello { level: c.level, keep_alive_s: c.keep_alive_s };
    if let Err(r) = acl::check_connect(&peer.identity, c.client_id, c.has_will) {
        let mut out = BytesMut::new();
        let limits = encode::ServerLimits { receive_maximum: 1, maximum_packet_size: 1 };
        encode::connack(&mut out, c.level, encode::ConnackCode::NotAuthorised, limits);
        let _ = write_within(tls, &mut out, shared.cfg.limits.write_timeout).await;
        return End::Refused(r);
    }
    shared.metrics.bytes_in.fetch_add(connect_bytes.len() as u64, Relaxed);
    match (&peer.identity, key) {
        (Identity::Device { .. }, Some(key)) => {
            device::run(shared, tls, peer, &key, hello, &mut inbound).await
        }
        _ => crate::relay::run(shared, tls, peer, hello.level, &connect_bytes, &mut inbound).await,
    }
}
