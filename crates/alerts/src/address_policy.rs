//! Which IP addresses a webhook may be sent to. A landlord chooses the URL, so without this a
//! landlord could make the sender reach inside the operator's network: the cloud metadata
//! service, a database on loopback, a router's admin page. Only public unicast addresses are
//! allowed; an operator may open named networks (`[alerts.webhooks] allowed_networks`), and
//! the development flag opens loopback. The cloud metadata addresses are never opened: they
//! hand out the machine's credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is not public. A small fixed set: it names metric labels and log reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// A cloud provider's instance metadata service (169.254.169.254, fd00:ec2::254, ...).
    Metadata,
    /// 0.0.0.0/8, `::`.
    Unspecified,
    /// 127.0.0.0/8, `::1`.
    Loopback,
    /// RFC 1918, IPv6 unique local (fc00::/7), site-local and local-use NAT64.
    Private,
    /// 169.254.0.0/16, fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15, 2001:2::/48.
    Benchmarking,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// Reserved, deprecated or tunnelling ranges, and IPv6 outside global unicast.
    Reserved,
}

impl AddressClass {
    /// All classes, in a fixed order (for metrics).
    pub const ALL: [AddressClass; 11] = [
        AddressClass::Metadata,
        AddressClass::Unspecified,
        AddressClass::Loopback,
        AddressClass::Private,
        AddressClass::LinkLocal,
        AddressClass::SharedAddressSpace,
        AddressClass::Documentation,
        AddressClass::Benchmarking,
        AddressClass::Multicast,
        AddressClass::Broadcast,
        AddressClass::Reserved,
    ];

    /// The class of `ip`, or `None` for a public unicast address. IPv4 addresses inside IPv6
    /// (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the
    /// IPv4 address they carry.
    pub fn of(ip: IpAddr) -> Option<AddressClass> {
        match ip {
            IpAddr::V4(v4) => v4_class(v4),
            IpAddr::V6(v6) => v6_class(v6),
        }
    }

    /// As worded in the delivery log: "... resolves to {a loopback address}".
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::Unspecified => "the unspecified address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::SharedAddressSpace => "a carrier-grade NAT address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::Benchmarking => "a benchmarking address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Reserved => "a reserved address",
        }
    }
}

/// Cloud metadata services: AWS, GCP, Azure, OCI, DigitalOcean (169.254.169.254), ECS and EKS
/// task credentials (169.254.170.2, 169.254.170.23), Alibaba (100.100.100.200), Azure's
/// WireServer (168.63.129.16, a public address), OCI's older 192.0.0.192.
const METADATA_V4: [Ipv4Addr; 6] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(192, 0, 0, 192),
];
/// AWS's IPv6 metadata service and EKS pod identity (fd00:ec2::254, fd00:ec2::23).
const METADATA_V6: [Ipv6Addr; 2] =
    [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254), Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23)];

/// IPv4 ranges, first match wins (the broadcast address before 240/4).
const V4_RANGES: [([u8; 4], u8, AddressClass); 16] = [
    ([0, 0, 0, 0], 8, AddressClass::Unspecified),
    ([10, 0, 0, 0], 8, AddressClass::Private),
    ([100, 64, 0, 0], 10, AddressClass::SharedAddressSpace),
    ([127, 0, 0, 0], 8, AddressClass::Loopback),
    ([169, 254, 0, 0], 16, AddressClass::LinkLocal),
    ([172, 16, 0, 0], 12, AddressClass::Private),
    ([192, 0, 0, 0], 24, AddressClass::Reserved),
    ([192, 0, 2, 0], 24, AddressClass::Documentation),
    ([192, 88, 99, 0], 24, AddressClass::Reserved),
    ([192, 168, 0, 0], 16, AddressClass::Private),
    ([198, 18, 0, 0], 15, AddressClass::Benchmarking),
    ([198, 51, 100, 0], 24, AddressClass::Documentation),
    ([203, 0, 113, 0], 24, AddressClass::Documentation),
    ([224, 0, 0, 0], 4, AddressClass::Multicast),
    ([255, 255, 255, 255], 32, AddressClass::Broadcast),
    ([240, 0, 0, 0], 4, AddressClass::Reserved),
];

fn v4_class(ip: Ipv4Addr) -> Option<AddressClass> {
    if METADATA_V4.contains(&ip) {
        return Some(AddressClass::Metadata);
    }
    let bits = u32::from(ip);
    V4_RANGES.iter().find_map(|&(net, prefix, class)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        (bits & mask == u32::from_be_bytes(net) & mask).then_some(class)
    })
}

fn in_v6(ip: u128, net: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    ip & mask == net & mask
}

fn v6_class(ip: Ipv6Addr) -> Option<AddressClass> {
    if METADATA_V6.contains(&ip) {
        return Some(AddressClass::Metadata);
    }
    let bits = u128::from(ip);
    let embedded_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64 well-known prefix) reach the IPv4
    // address they carry.
    if in_v6(bits, 0xffff_0000_0000, 96) || in_v6(bits, 0x0064_ff9b << 96, 96) {
        return v4_class(embedded_v4);
    }
    // 2002:AABB:CCDD::/48 is 6to4 for AA.BB.CC.DD.
    if in_v6(bits, 0x2002 << 112, 16) {
        return v4_class(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    let ranges: [(u128, u32, AddressClass); 10] = [
        // IPv4-compatible (deprecated) and IPv4-translated forms.
        (0, 96, AddressClass::Reserved),
        (0xffff_0000_0000_0000 << 32, 96, AddressClass::Reserved),
        (0x0064_ff9b_0001 << 80, 48, AddressClass::Private),
        (0x2001_0002_0000 << 80, 48, AddressClass::Benchmarking),
        // Teredo tunnels carry an obscured IPv4 address.
        (0x2001_0000 << 96, 32, AddressClass::Reserved),
        (0x2001_0db8 << 96, 32, AddressClass::Documentation),
        (0x3fff << 112, 20, AddressClass::Documentation),
        (0xfc << 120, 7, AddressClass::Private),
        (0xfe80 << 112, 10, AddressClass::LinkLocal),
        (0xfec0 << 112, 10, AddressClass::Private),
    ];
    if let Some(&(_, _, class)) = ranges.iter().find(|&&(net, prefix, _)| in_v6(bits, net, prefix)) {
        return Some(class);
    }
    if in_v6(bits, 0xff << 120, 8) {
        return Some(AddressClass::Multicast);
    }
    // Only 2000::/3 is global unicast; the rest is unassigned or special.
    if !in_v6(bits, 0x2000 << 112, 3) {
        return Some(AddressClass::Reserved);
    }
    None
}

/// The addresses the sender may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Non-public networks the operator opened (`allowed_networks`).
    pub allowed_networks: Vec<IpNet>,
    /// The development flag: loopback is allowed (and with it plain http to loopback).
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// `Ok` if a webhook may be sent to `ip`; otherwise the class that refuses it.
    pub fn check(&self, ip: IpAddr) -> Result<(), AddressClass> {
        let Some(class) = AddressClass::of(ip) else {
            return Ok(());
        };
        // A mapped address is opened by the IPv4 network it carries.
        let canonical = ip.to_canonical();
        let opened = match class {
            AddressClass::Metadata => false,
            AddressClass::Loopback if self.allow_loopback => true,
            _ => self.allowed_networks.iter().any(|n| n.contains(&ip) || n.contains(&canonical)),
        };
        if opened {
            Ok(())
        } else {
            Err(class)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<AddressClass> {
        AddressClass::of(s.parse().expect("address"))
    }

    #[test]
    fn every_non_public_range_is_named() {
        use AddressClass::*;
        let table = [
            ("169.254.169.254", Some(Metadata)),
            ("100.100.100.200", Some(Metadata)),
            ("168.63.129.16", Some(Metadata)),
            ("fd00:ec2::254", Some(Metadata)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("169.254.1.1", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.127.255.255", Some(SharedAddressSpace)),
            ("192.0.2.1", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.9", Some(Documentation)),
            ("2001:db8::1", Some(Documentation)),
            ("198.18.0.1", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("ff02::1", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.8", Some(Reserved)),
            ("::7f00:1", Some(Reserved)),
            ("2001::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            // Public.
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("169.253.255.255", None),
            ("::ffff:8.8.8.8", None),
            ("2606:4700::1111", None),
            ("2002:808:808::1", None),
        ];
        for (ip, expected) in table {
            assert_eq!(class(ip), expected, "{ip}");
        }
    }

    #[test]
    fn an_operator_opens_networks_but_never_the_metadata_service() {
        let policy = AddressPolicy {
            allowed_networks: vec![
                "10.20.0.0/16".parse().expect("net"),
                "169.254.0.0/16".parse().expect("net"),
            ],
            allow_loopback: false,
        };
        assert_eq!(policy.check("10.20.3.4".parse().expect("ip")), Ok(()));
        assert_eq!(policy.check("::ffff:10.20.3.4".parse().expect("ip")), Ok(()));
        assert_eq!(policy.check("10.21.0.1".parse().expect("ip")), Err(AddressClass::Private));
        assert_eq!(policy.check("169.254.169.254".parse().expect("ip")), Err(AddressClass::Metadata));
        assert_eq!(policy.check("127.0.0.1".parse().expect("ip")), Err(AddressClass::Loopback));
        let development = AddressPolicy { allow_loopback: true, ..AddressPolicy::default() };
        assert_eq!(development.check("127.0.0.1".parse().expect("ip")), Ok(()));
        assert_eq!(development.check("192.168.0.1".parse().expect("ip")), Err(AddressClass::Private));
    }
}
