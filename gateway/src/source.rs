//! Who a connection's source is, for the per-source connection limit.
//!
//! An IPv4 address is one source. An IPv6 client is keyed by its /64: that is the smallest
//! block a network hands a subscriber, and every host in it may pick any of its 2^64 addresses
//! (privacy addresses change daily), so keying by the full address would give one attacker an
//! endless supply of fresh sources.

use crate::limits::KeyedBuckets;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

/// The key a source's connections are counted under: the IPv4 address, or the IPv6 /64 (its
/// host bits zeroed). An IPv4 client seen on a dual-stack listener (`::ffff:a.b.c.d`) is keyed
/// as the IPv4 address it is.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

/// New connections per source (token buckets keyed by [`source_key`]).
pub struct SourceLimiter(KeyedBuckets<IpAddr>);

impl SourceLimiter {
    pub fn new(rate: f64, burst: f64, max_sources: usize) -> Self {
        SourceLimiter(KeyedBuckets::new(rate, burst, max_sources))
    }

    /// Takes a token for a new connection from `ip`'s source.
    pub fn try_take(&self, ip: IpAddr, now: Instant) -> bool {
        self.0.try_take(&source_key(ip), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> IpAddr {
        source_key(s.parse().unwrap())
    }

    #[test]
    fn ipv6_sources_are_their_64() {
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), key("2001:db8:1:2::1"));
        assert_eq!(key("2001:db8:1:2::ffff"), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"), "the next /64 is another source");
    }

    #[test]
    fn ipv4_sources_are_whole_addresses_even_when_mapped() {
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[test]
    fn the_ipv6_limit_holds_across_a_64() {
        let limiter = SourceLimiter::new(0.001, 2.0, 1024);
        let now = Instant::now();
        // One host walking through its /64: its third address is already over the limit.
        for (i, addr) in ["2001:db8:7:7::1", "2001:db8:7:7::2", "2001:db8:7:7:ffff::3"].iter().enumerate() {
            assert_eq!(limiter.try_take(addr.parse().unwrap(), now), i < 2, "{addr}");
        }
        assert!(
            limiter.try_take("2001:db8:7:8::1".parse().unwrap(), now),
            "a neighbouring /64 is not limited"
        );
    }
}
