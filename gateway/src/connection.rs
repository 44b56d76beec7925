//! One client connection up to its MQTT CONNECT: a load balancer's PROXY header, the TLS
//! handshake (bounded in time, in its own task, in the budget of `crate::handshakes`), identity
//! from the certificate, a device or service slot, revocation and churn checks, the CONNECT
//! check; then a device session (`crate::device`) or a service relay (`crate::relay`). Every refusal is
//! counted and logged once, here, with device, landlord, source address and reason.

use crate::acl;
use crate::device::{self, Hello};
use crate::handshakes::Handshake;
use crate::identity::{Identity, Peer};
use crate::mailbox::End;
use crate::mqtt::{self, encode, PacketType};
use crate::packet_io::{read_packet, write_within};
use crate::proxy_protocol::{self, Origin};
use crate::refusal::Refusal;
use crate::server::Shared;
use crate::tls_stream::TlsStream;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves one accepted TCP connection to the end. Never panics on client input. `handshake`
/// is its place in the budget of connections still in their TLS handshake.
pub async fn serve(shared: Arc<Shared>, tcp: TcpStream, from: SocketAddr, handshake: Handshake) {
    shared.metrics.connections_open.inc();
    // The client's address: `from`, or what a load balancer's PROXY header says.
    let mut source = from;
    let (peer, end) = run(&shared, tcp, from, &mut source, handshake).await;
    shared.metrics.connections_open.dec();
    if let End::Refused(reason) = end {
        shared.metrics.refused(reason);
        // `via`: the load balancer a connection came through (absent when none).
        let via = (source != from).then_some(tracing::field::display(from));
        match &peer {
            Some(p) => tracing::warn!(
                reason = %reason,
                device = p.name(),
                landlord = p.landlord().unwrap_or("-"),
                %source,
                via,
                "connection refused"
            ),
            None => tracing::warn!(reason = %reason, %source, via, "connection refused"),
        }
    }
}

async fn run(
    shared: &Shared,
    tcp: TcpStream,
    from: SocketAddr,
    source: &mut SocketAddr,
    handshake: Handshake,
) -> (Option<Peer>, End) {
    let opened = tokio::select! {
        biased;
        _ = handshake.displaced() => Err(Refusal::HandshakeDisplaced),
        opened = tokio::time::timeout(shared.cfg.tls.handshake_timeout, open(shared, tcp, from, source)) => {
            opened.unwrap_or(Err(Refusal::HandshakeTimeout))
        }
    };
    // Handshake over: its place goes to the next connection, whatever came of it.
    drop(handshake);
    let mut tls = match opened {
        Ok(Some(tls)) => tls,
        Ok(None) => return (None, End::Closed),
        Err(r) => return (None, End::Refused(r)),
    };
    let leaf = tls.peer_certificates().and_then(|c| c.first());
    let Some(Ok(peer)) = leaf.map(Peer::from_certificate) else {
        return (None, End::Refused(Refusal::BadIdentity));
    };
    shared.metrics.handshakes_completed.inc();
    // A service certificate proves who issued it, not what it may do: only the named roles may
    // take a service slot, so another service's certificate cannot crowd out the collectors.
    // With the cluster upstream no service has a role here (collectors use the cluster).
    let has_role = match &peer.identity {
        Identity::Service { name } => shared.broker.is_some() && shared.cfg.services.is_collector(name),
        Identity::Device { .. } => true,
    };
    let end = if !has_role {
        End::Refused(Refusal::ServiceWithoutRole)
    } else {
        match shared.slots.take(&peer.identity) {
            Ok(_slot) => admit(shared, &mut tls, &peer).await,
            Err(r) => End::Refused(r),
        }
    };
    // close_notify, so a well-behaved client sees an orderly end.
    let _ = tokio::time::timeout(Duration::from_millis(200), tls.shutdown()).await;
    (Some(peer), end)
}

/// Up to a finished TLS handshake: the PROXY header of a load balancer's connection (and the
/// per-source limit on the client it names), then TLS. `Ok(None)`: a load balancer's health
/// check connected and closed.
async fn open(
    shared: &Shared,
    mut tcp: TcpStream,
    from: SocketAddr,
    source: &mut SocketAddr,
) -> Result<Option<TlsStream>, Refusal> {
    let _ = tcp.set_nodelay(true);
    if shared.cfg.listen.is_load_balancer(from.ip()) {
        match proxy_protocol::read(&mut tcp).await? {
            None => return Ok(None),
            Some(Origin::Client(client)) => *source = client,
            Some(Origin::Balancer) => {}
        }
        if !shared.sources.try_take(source.ip(), Instant::now()) {
            return Err(Refusal::SourceRateLimited);
        }
    } else if proxy_protocol::offered_by(&tcp).await {
        // Anyone could claim any address: only configured balancers are believed.
        return Err(Refusal::ProxyHeaderNotAllowed);
    }
    let config = shared.tls.load().config.clone();
    TlsStream::accept(tcp, config).await.map(Some).map_err(|e| Refusal::from_tls_error(&e))
}

/// Everything after the handshake.
async fn admit<S: AsyncRead + AsyncWrite + Unpin>(shared: &Shared, tls: &mut S, peer: &Peer) -> End {
    // Revoked between the handshake's CRL and now (a reload raced us): refuse as revoked.
    if shared.tls.load().revoked_serials.contains(&peer.serial) {
        return End::Refused(Refusal::CertificateRevoked);
    }
    let key = peer.device_key();
    if key.is_some() && shared.refusing_devices_for_stale_crl() {
        return End::Refused(Refusal::CrlStale);
    }
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
    shared.metrics.bytes_in.inc_by(connect_bytes.len() as u64);
    match (&peer.identity, key) {
        (Identity::Device { .. }, Some(key)) => {
            device::run(shared, tls, peer, &key, hello, &mut inbound).await
        }
        _ => crate::relay::run(shared, tls, peer, hello.level, &connect_bytes, &mut inbound).await,
    }
}
