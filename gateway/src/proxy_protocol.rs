//! The PROXY protocol, version 2 (binary), as HAProxy specifies it: a TCP load balancer in
//! front of the gateway starts each connection with a header carrying the client's address,
//! so that per-source limits and logs see the device rather than the balancer.
//!
//! Only configured balancers may send one (anyone else could claim any address); from them it
//! is required (without it every device would share the balancer's address and its limits).
//! Version 1 (text) is not accepted.

use crate::refusal::Refusal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// The twelve bytes every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Signature, version and command, family and protocol, and the length of what follows.
const FIXED_LEN: usize = 16;

/// The longest address block accepted (addresses plus type-length-value extensions). IPv6
/// addresses take 36 bytes; balancers add a few small extensions (a connection id, a cloud
/// endpoint id), and nothing a gateway behind a TCP balancer needs comes near this.
pub const MAX_BLOCK_LEN: usize = 1024;

const COMMAND_LOCAL: u8 = 0x0;
const COMMAND_PROXY: u8 = 0x1;
const FAMILY_UNSPEC: u8 = 0x0;
const FAMILY_INET: u8 = 0x1;
const FAMILY_INET6: u8 = 0x2;
const PROTOCOL_STREAM: u8 = 0x1;

/// What a header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The balancer relays a client connecting from this address.
    Client(SocketAddr),
    /// The balancer's own connection (a health check: command LOCAL) or one whose address it
    /// does not know (family UNSPEC): the real endpoints stand, as the specification says.
    Balancer,
}

/// Reads a version 2 header from a connection that must start with one; leaves everything
/// after it (the TLS handshake) unread. `Ok(None)` when the connection closes before sending
/// anything (a balancer's plain TCP health check).
pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Origin>, Refusal> {
    let mut fixed = [0u8; FIXED_LEN];
    let first = r.read(&mut fixed).await.map_err(|_| Refusal::ProxyHeaderMissing)?;
    if first == 0 {
        return Ok(None);
    }
    r.read_exact(&mut fixed[first..]).await.map_err(|_| Refusal::ProxyHeaderMissing)?;
    let (command, family, protocol, len) = parse_fixed(&fixed)?;
    let mut block = vec![0u8; len];
    r.read_exact(&mut block).await.map_err(|_| Refusal::ProxyHeaderMalformed)?;
    parse_block(command, family, protocol, &block).map(Some)
}

/// True if a connection from anyone but a configured balancer opens with what could be a
/// PROXY header (either version). Waits for its first bytes without consuming them; no TLS
/// record starts like this, so nothing genuine is turned away.
pub async fn offered_by(tcp: &TcpStream) -> bool {
    let mut start = [0u8; SIGNATURE.len()];
    match tcp.peek(&mut start).await {
        Ok(n) if n > 0 => looks_like_header(&start[..n]),
        _ => false,
    }
}

/// True if `start` is the beginning of a version 2 signature or of a version 1 `PROXY ` line.
pub fn looks_like_header(start: &[u8]) -> bool {
    let v1 = b"PROXY ";
    let n = start.len();
    n > 0
        && (SIGNATURE.starts_with(&start[..n.min(SIGNATURE.len())])
            || v1.starts_with(&start[..n.min(v1.len())]))
}

/// Checks the fixed part; returns command, family, protocol and the block length.
fn parse_fixed(fixed: &[u8; FIXED_LEN]) -> Result<(u8, u8, u8, usize), Refusal> {
    if fixed[..12] != SIGNATURE {
        return Err(Refusal::ProxyHeaderMissing);
    }
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0F);
    // The specification: a receiver must drop a connection with any other version or command.
    if version != 2 || !(command == COMMAND_LOCAL || command == COMMAND_PROXY) {
        return Err(Refusal::ProxyHeaderMalformed);
    }
    let (family, protocol) = (fixed[13] >> 4, fixed[13] & 0x0F);
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > MAX_BLOCK_LEN {
        return Err(Refusal::ProxyHeaderMalformed);
    }
    Ok((command, family, protocol, len))
}

/// Reads the client's address out of the block; extensions after it are skipped.
fn parse_block(command: u8, family: u8, protocol: u8, block: &[u8]) -> Result<Origin, Refusal> {
    if command == COMMAND_LOCAL || family == FAMILY_UNSPEC {
        return Ok(Origin::Balancer);
    }
    // Devices speak TLS over TCP: a datagram or UNIX socket origin is not one of them.
    if protocol != PROTOCOL_STREAM {
        return Err(Refusal::ProxyHeaderMalformed);
    }
    match family {
        // source address, destination address, source port, destination port
        FAMILY_INET if block.len() >= 12 => {
            let ip = Ipv4Addr::new(block[0], block[1], block[2], block[3]);
            let port = u16::from_be_bytes([block[8], block[9]]);
            Ok(Origin::Client(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        FAMILY_INET6 if block.len() >= 36 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&block[..16]);
            let port = u16::from_be_bytes([block[32], block[33]]);
            Ok(Origin::Client(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port)))
        }
        _ => Err(Refusal::ProxyHeaderMalformed),
    }
}

/// A version 2 PROXY header for a TCP client at `client` reaching `server` (what a balancer
/// sends; tests play the balancer with it).
pub fn encode(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(0x20 | COMMAND_PROXY);
    match (client.ip().to_canonical(), server.ip().to_canonical()) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            out.push(FAMILY_INET << 4 | PROTOCOL_STREAM);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&c.octets());
            out.extend_from_slice(&s.octets());
        }
        (c, s) => {
            let v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            out.push(FAMILY_INET6 << 4 | PROTOCOL_STREAM);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6(c).octets());
            out.extend_from_slice(&v6(s).octets());
        }
    }
    out.extend_from_slice(&client.port().to_be_bytes());
    out.extend_from_slice(&server.port().to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Option<Origin>, Refusal> {
        let mut r = bytes;
        read(&mut r).await
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn ipv4_and_ipv6_clients_are_read_and_the_rest_left_unread() {
        let mut bytes = encode(addr("203.0.113.7:40000"), addr("192.0.2.1:8883"));
        bytes.extend_from_slice(b"\x16\x03\x01");
        let mut r = &bytes[..];
        assert_eq!(read(&mut r).await, Ok(Some(Origin::Client(addr("203.0.113.7:40000")))));
        assert_eq!(r, b"\x16\x03\x01", "the TLS handshake stays unread");
        let v6 = encode(addr("[2001:db8::9]:5000"), addr("[2001:db8::1]:8883"));
        assert_eq!(parse(&v6).await, Ok(Some(Origin::Client(addr("[2001:db8::9]:5000")))));
    }

    #[tokio::test]
    async fn extensions_after_the_addresses_are_skipped() {
        let mut bytes = encode(addr("203.0.113.7:1"), addr("192.0.2.1:8883"));
        // An extension of type 0x05 (unique id), 3 bytes; the block length grows by 6.
        bytes.extend_from_slice(&[0x05, 0x00, 0x03, b'a', b'b', b'c']);
        bytes[15] += 6;
        bytes.extend_from_slice(b"TLS");
        let mut r = &bytes[..];
        assert_eq!(read(&mut r).await, Ok(Some(Origin::Client(addr("203.0.113.7:1")))));
        assert_eq!(r, b"TLS");
    }

    #[tokio::test]
    async fn health_checks_keep_the_real_endpoints() {
        let mut local = SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        assert_eq!(parse(&local).await, Ok(Some(Origin::Balancer)));
        assert_eq!(parse(b"").await, Ok(None), "connected and closed");
    }

    #[tokio::test]
    async fn anything_else_is_refused() {
        let good = encode(addr("203.0.113.7:1"), addr("192.0.2.1:8883"));
        assert_eq!(parse(b"\x16\x03\x01\x00\x10 a ClientHello..").await, Err(Refusal::ProxyHeaderMissing));
        assert_eq!(
            parse(b"PROXY TCP4 203.0.113.7 192.0.2.1 1 8883\r\n").await,
            Err(Refusal::ProxyHeaderMissing)
        );
        let mut v3 = good.clone();
        v3[12] = 0x31;
        assert_eq!(parse(&v3).await, Err(Refusal::ProxyHeaderMalformed));
        let mut command = good.clone();
        command[12] = 0x22;
        assert_eq!(parse(&command).await, Err(Refusal::ProxyHeaderMalformed));
        let mut udp = good.clone();
        udp[13] = 0x12;
        assert_eq!(parse(&udp).await, Err(Refusal::ProxyHeaderMalformed));
        let mut short = good.clone();
        short[15] = 8;
        short.truncate(FIXED_LEN + 8);
        assert_eq!(parse(&short).await, Err(Refusal::ProxyHeaderMalformed));
        let mut huge = good.clone();
        huge[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(parse(&huge).await, Err(Refusal::ProxyHeaderMalformed));
        assert_eq!(parse(&good[..10]).await, Err(Refusal::ProxyHeaderMissing), "cut short");
    }

    #[test]
    fn only_header_openings_look_like_headers() {
        assert!(looks_like_header(b"\r"));
        assert!(looks_like_header(&SIGNATURE[..5]));
        assert!(looks_like_header(&SIGNATURE));
        assert!(looks_like_header(b"PROXY TCP4"));
        assert!(looks_like_header(b"PRO"));
        assert!(!looks_like_header(b"\x16\x03\x01"), "a TLS ClientHello");
        assert!(!looks_like_header(b""));
    }
}
