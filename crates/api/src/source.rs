//! Where a request comes from, for the per-source rate limits: the peer address of its TCP
//! connection, or, when that peer is a trusted reverse proxy, the address the proxy says it
//! forwarded for.
//!
//! An IPv6 source counts by its /64 prefix: one subscriber usually holds a whole /64 and could
//! otherwise take a fresh address (and a fresh bucket) for every request.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, HeaderName, Request};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The address a request is limited under; `None` when the server that runs the router gives
/// no peer address (then only the per-key limit applies).
pub fn source_of<B>(request: &Request<B>, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    source_in(request.extensions(), request.headers(), trusted_proxies)
}

/// [`source_of`] from a request's parts.
pub fn source_in(extensions: &Extensions, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(bucket(resolve(peer.ip(), headers, trusted_proxies)))
}

/// The client's address: the peer, or the last address in `X-Forwarded-For` that is not a
/// trusted proxy when the peer is one. Entries further left were written by the client itself
/// and prove nothing. An entry that does not parse stops the walk at the last trusted hop.
fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| unmapped(*t) == unmapped(*ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut source = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return source;
        };
        source = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    source
}

/// An address as proxies write it: bare, bracketed IPv6, or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[').and_then(|h| h.strip_suffix(']')).and_then(|h| h.parse().ok()))
}

/// IPv4-mapped IPv6 addresses (a dual-stack listener's view of IPv4 peers) as IPv4.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key of the address's bucket: IPv4 as it is, IPv6 by its /64.
fn bucket(ip: IpAddr) -> IpAddr {
    match unmapped(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_source_whatever_it_claims() {
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(resolve(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        assert_eq!(resolve(ip("198.51.100.1"), &h, &[ip("127.0.0.1")]), ip("198.51.100.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_is_the_source() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        // The client forged the first entry; the proxies appended the rest.
        let h = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted), ip("127.0.0.1"));
        assert_eq!(resolve(ip("127.0.0.1"), &forwarded(&["[2001:db8::1]:443"]), &trusted), ip("2001:db8::1"));
        assert_eq!(resolve(ip("127.0.0.1"), &forwarded(&["garbage, 10.0.0.2"]), &trusted), ip("10.0.0.2"));
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &forwarded(&["203.0.113.9"]), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv6_sources_share_a_bucket_per_64() {
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), bucket(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
