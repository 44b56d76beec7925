//! Reading packets: borrows from the buffer, allocates nothing, checks every length, so hostile
//! bytes give an error, never a panic.

use super::{PacketType, LEVEL_V4, LEVEL_V5};

/// Why bytes are not a well-formed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedPacket {
    #[error("remaining length is not a valid variable byte integer")]
    RemainingLength,
    #[error("reserved packet type 0")]
    ReservedType,
    #[error("packet ends early")]
    Truncated,
    #[error("string is not UTF-8")]
    NotUtf8,
    #[error("not an MQTT CONNECT (protocol name or level)")]
    Protocol,
    #[error("reserved flags set")]
    Flags,
    #[error("unknown MQTT 5 property {0:#04x}")]
    UnknownProperty(u8),
    #[error("packet identifier 0")]
    ZeroPacketId,
}

/// The fixed header of a packet at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    pub kind: PacketType,
    /// The low nibble of the first byte (PUBLISH: dup, QoS, retain).
    pub flags: u8,
    /// Bytes taken by the fixed header itself.
    pub header_len: usize,
    /// Bytes of the packet after the fixed header.
    pub remaining_len: usize,
}

impl FixedHeader {
    /// Total size of the packet on the wire.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Reads the fixed header at the start of `buf`. `Ok(None)` means more bytes are needed.
/// The remaining length is known after at most 5 bytes, so callers can refuse an oversize
/// packet before buffering it.
pub fn fixed_header(buf: &[u8]) -> Result<Option<FixedHeader>, MalformedPacket> {
    let Some(&first) = buf.first() else { return Ok(None) };
    let kind = PacketType::from_nibble(first >> 4).ok_or(MalformedPacket::ReservedType)?;
    let mut remaining_len = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else { return Ok(None) };
        remaining_len |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some(FixedHeader { kind, flags: first & 0x0F, header_len: 2 + i, remaining_len }));
        }
    }
    Err(MalformedPacket::RemainingLength)
}

/// A cursor over a packet body.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, MalformedPacket> {
        let (&b, rest) = self.buf.split_first().ok_or(MalformedPacket::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, MalformedPacket> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], MalformedPacket> {
        if self.buf.len() < n {
            return Err(MalformedPacket::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn str(&mut self) -> Result<&'a str, MalformedPacket> {
        let n = usize::from(self.u16()?);
        std::str::from_utf8(self.bytes(n)?).map_err(|_| MalformedPacket::NotUtf8)
    }

    fn varint(&mut self) -> Result<usize, MalformedPacket> {
        let mut v = 0usize;
        for i in 0..4 {
            let b = self.u8()?;
            v |= usize::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(MalformedPacket::RemainingLength)
    }

    /// An MQTT 5 property block, as raw bytes.
    fn properties(&mut self) -> Result<&'a [u8], MalformedPacket> {
        let n = self.varint()?;
        self.bytes(n)
    }

    fn nonzero_packet_id(&mut self) -> Result<u16, MalformedPacket> {
        match self.u16()? {
            0 => Err(MalformedPacket::ZeroPacketId),
            id => Ok(id),
        }
    }
}

/// MQTT 5 property identifiers the gateway looks for.
pub mod property {
    pub const TOPIC_ALIAS: u8 = 0x23;
}

/// Walks an MQTT 5 property block, returning each property's identifier. Every identifier of
/// the specification is known with its encoding; anything else is malformed.
pub fn property_ids(block: &[u8]) -> impl Iterator<Item = Result<u8, MalformedPacket>> + '_ {
    let mut r = Reader { buf: block };
    std::iter::from_fn(move || {
        if r.buf.is_empty() {
            return None;
        }
        let item = (|| {
            let id = r.u8()?;
            match id {
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => r.bytes(1).map(drop),
                0x13 | 0x21 | 0x22 | 0x23 => r.bytes(2).map(drop),
                0x02 | 0x11 | 0x18 | 0x27 => r.bytes(4).map(drop),
                0x0B => r.varint().map(drop),
                0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => {
                    let n = usize::from(r.u16()?);
                    r.bytes(n).map(drop)
                }
                0x26 => {
                    let k = usize::from(r.u16()?);
                    r.bytes(k)?;
                    let v = usize::from(r.u16()?);
                    r.bytes(v).map(drop)
                }
                other => Err(MalformedPacket::UnknownProperty(other)),
            }?;
            Ok(id)
        })();
        if item.is_err() {
            r.buf = &[]; // stop after the first error
        }
        Some(item)
    })
}

/// The parts of CONNECT the gateway decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    pub level: u8,
    pub client_id: &'a str,
    pub clean_start: bool,
    pub has_will: bool,
    pub keep_alive_s: u16,
}

/// Parses a CONNECT body (after the fixed header).
pub fn connect(body: &[u8]) -> Result<Connect<'_>, MalformedPacket> {
    let mut r = Reader { buf: body };
    if r.str()? != "MQTT" {
        return Err(MalformedPacket::Protocol);
    }
    let level = r.u8()?;
    if level != LEVEL_V4 && level != LEVEL_V5 {
        return Err(MalformedPacket::Protocol);
    }
    let flags = r.u8()?;
    if flags & 0x01 != 0 {
        return Err(MalformedPacket::Flags);
    }
    let keep_alive_s = r.u16()?;
    if level == LEVEL_V5 {
        r.properties()?;
    }
    let client_id = r.str()?;
    Ok(Connect {
        level,
        client_id,
        clean_start: flags & 0x02 != 0,
        has_will: flags & 0x04 != 0,
        keep_alive_s,
    })
}

/// A CONNECT body cut where the gateway replaces the login: everything before the username
/// (protocol, level, keep-alive, MQTT 5 properties, client id, will) as raw bytes, the flags
/// apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectHead<'a> {
    /// Protocol name and level.
    pub protocol: &'a [u8],
    pub flags: u8,
    /// Keep-alive, properties (MQTT 5), client id and will, as sent.
    pub rest: &'a [u8],
}

/// Cuts a CONNECT body before its username and password (see [`ConnectHead`]).
pub fn connect_head(body: &[u8]) -> Result<ConnectHead<'_>, MalformedPacket> {
    let mut r = Reader { buf: body };
    let protocol_len = body.len();
    if r.str()? != "MQTT" {
        return Err(MalformedPacket::Protocol);
    }
    let level = r.u8()?;
    let protocol = &body[..protocol_len - r.buf.len()];
    let flags = r.u8()?;
    if flags & 0x01 != 0 {
        return Err(MalformedPacket::Flags);
    }
    let rest_start = body.len() - r.buf.len();
    r.u16()?;
    if level == LEVEL_V5 {
        r.properties()?;
    }
    r.str()?;
    if flags & 0x04 != 0 {
        if level == LEVEL_V5 {
            r.properties()?;
        }
        r.str()?;
        let n = usize::from(r.u16()?);
        r.bytes(n)?;
    }
    let rest_end = body.len() - r.buf.len();
    Ok(ConnectHead { protocol, flags, rest: &body[rest_start..rest_end] })
}

/// A PUBLISH, taken apart. Offsets are relative to the start of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    pub topic: &'a str,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// Packet identifier (QoS 1 and 2 only) and where it sits in the body.
    pub packet_id: Option<(u16, usize)>,
    /// MQTT 5 properties (empty for 3.1.1).
    pub properties: &'a [u8],
    pub payload: &'a [u8],
}

/// Parses a PUBLISH body; `flags` is the fixed header's low nibble.
pub fn publish(flags: u8, body: &[u8], level: u8) -> Result<Publish<'_>, MalformedPacket> {
    let qos = (flags >> 1) & 0x03;
    if qos == 3 {
        return Err(MalformedPacket::Flags);
    }
    let mut r = Reader { buf: body };
    let topic = r.str()?;
    let packet_id = if qos > 0 {
        let at = body.len() - r.buf.len();
        Some((r.nonzero_packet_id()?, at))
    } else {
        None
    };
    let properties = if level == LEVEL_V5 { r.properties()? } else { &[] };
    Ok(Publish {
        topic,
        qos,
        retain: flags & 0x01 != 0,
        dup: flags & 0x08 != 0,
        packet_id,
        properties,
        payload: r.buf,
    })
}

/// The packet identifier at the start of a PUBACK (or any acknowledgement) body.
pub fn packet_id(body: &[u8]) -> Result<u16, MalformedPacket> {
    Reader { buf: body }.nonzero_packet_id()
}

/// One filter of a SUBSCRIBE with its options byte (the low two bits are the maximum QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription<'a> {
    pub filter: &'a str,
    pub options: u8,
}

impl Subscription<'_> {
    pub fn qos(&self) -> u8 {
        self.options & 0x03
    }

    /// MQTT 5 retain handling: 0 send retained messages, 1 only for a new subscription, 2 never.
    pub fn retain_handling(&self) -> u8 {
        (self.options >> 4) & 0x03
    }
}

/// The packet identifier of a SUBSCRIBE or UNSUBSCRIBE and its filters.
pub struct Filters<'a> {
    pub packet_id: u16,
    rest: Reader<'a>,
    with_options: bool,
}

impl<'a> Iterator for Filters<'a> {
    type Item = Result<Subscription<'a>, MalformedPacket>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.buf.is_empty() {
            return None;
        }
        let with_options = self.with_options;
        let r = &mut self.rest;
        let item = r.str().and_then(|filter| {
            let options = if with_options { r.u8()? } else { 0 };
            Ok(Subscription { filter, options })
        });
        if item.is_err() {
            self.rest.buf = &[]; // stop after the first error
        }
        Some(item)
    }
}

fn filters(flags: u8, body: &[u8], level: u8, with_options: bool) -> Result<Filters<'_>, MalformedPacket> {
    if flags != 0x02 {
        return Err(MalformedPacket::Flags);
    }
    let mut r = Reader { buf: body };
    let packet_id = r.nonzero_packet_id()?;
    if level == LEVEL_V5 {
        r.properties()?;
    }
    if r.buf.is_empty() {
        return Err(MalformedPacket::Truncated);
    }
    Ok(Filters { packet_id, rest: r, with_options })
}

/// The filters of a SUBSCRIBE body. `level` is the connection's protocol level.
pub fn subscriptions(flags: u8, body: &[u8], level: u8) -> Result<Filters<'_>, MalformedPacket> {
    filters(flags, body, level, true)
}

/// The filters of an UNSUBSCRIBE body (options are always 0).
pub fn unsubscriptions(flags: u8, body: &[u8], level: u8) -> Result<Filters<'_>, MalformedPacket> {
    filters(flags, body, level, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_v4(client_id: &str, flags: u8) -> Vec<u8> {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 60];
        body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
        body.extend_from_slice(client_id.as_bytes());
        let mut p = vec![0x10, body.len() as u8];
        p.extend(body);
        p
    }

    #[test]
    fn reads_connect() {
        let p = connect_v4("dev-1", 0x02);
        let h = fixed_header(&p).unwrap().unwrap();
        assert_eq!((h.kind, h.header_len, h.packet_len()), (PacketType::Connect, 2, p.len()));
        let c = connect(&p[2..]).unwrap();
        assert_eq!((c.level, c.client_id, c.clean_start, c.has_will), (4, "dev-1", true, false));
        assert!(connect(&connect_v4("x", 0x04)[2..]).unwrap().has_will);
    }

    #[test]
    fn needs_more_bytes_before_deciding() {
        assert_eq!(fixed_header(&[]), Ok(None));
        assert_eq!(fixed_header(&[0x30]), Ok(None));
        assert_eq!(fixed_header(&[0x30, 0x80]), Ok(None));
        let h = fixed_header(&[0x30, 0xFF, 0xFF, 0x7F]).unwrap().unwrap();
        assert_eq!(h.remaining_len, 2_097_151);
        assert_eq!(fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF]), Err(MalformedPacket::RemainingLength));
        assert_eq!(fixed_header(&[0x00, 0x00]), Err(MalformedPacket::ReservedType));
    }

    #[test]
    fn reads_publish_parts() {
        let body = [&[0u8, 3][..], b"a/b", &[0, 1], b"payload"].concat();
        let p = publish(0x02, &body, LEVEL_V4).unwrap();
        assert_eq!((p.topic, p.qos, p.retain, p.dup), ("a/b", 1, false, false));
        assert_eq!((p.packet_id, p.payload), (Some((1, 5)), &b"payload"[..]));
        assert_eq!(publish(0x06, &body, LEVEL_V4), Err(MalformedPacket::Flags));
        assert_eq!(publish(0x00, &[0, 9, b'a'], LEVEL_V4), Err(MalformedPacket::Truncated));
        let zero_id = [&[0u8, 1][..], b"a", &[0, 0]].concat();
        assert_eq!(publish(0x02, &zero_id, LEVEL_V4), Err(MalformedPacket::ZeroPacketId));
        let qos0 = [&[0u8, 1][..], b"a", b"xy"].concat();
        assert_eq!(publish(0x01, &qos0, LEVEL_V4).unwrap().payload, b"xy");
    }

    #[test]
    fn reads_v5_publish_properties() {
        // topic "t", id 7, properties: payload format (0x01 1), topic alias (0x23 0 5)
        let body = [&[0u8, 1][..], b"t", &[0, 7], &[5, 0x01, 1, 0x23, 0, 5], b"pl"].concat();
        let p = publish(0x0A, &body, LEVEL_V5).unwrap();
        assert!(p.dup);
        assert_eq!((p.packet_id, p.payload), (Some((7, 3)), &b"pl"[..]));
        let ids: Vec<_> = property_ids(p.properties).collect::<Result<_, _>>().unwrap();
        assert_eq!(ids, vec![0x01, property::TOPIC_ALIAS]);
        assert!(property_ids(&[0x7F, 0]).any(|r| r.is_err()));
        assert!(property_ids(&[0x26, 0, 1, b'k', 0]).any(|r| r.is_err()), "truncated pair");
    }

    #[test]
    fn reads_every_subscription() {
        let body = [&[0u8, 7][..], &[0, 1], b"#", &[1], &[0, 3], b"a/b", &[0x20]].concat();
        let f = subscriptions(0x02, &body, LEVEL_V4).unwrap();
        assert_eq!(f.packet_id, 7);
        let subs: Vec<_> = f.collect::<Result<_, _>>().unwrap();
        assert_eq!(subs[0], Subscription { filter: "#", options: 1 });
        assert_eq!((subs[1].filter, subs[1].qos(), subs[1].retain_handling()), ("a/b", 0, 2));
        let truncated = [&[0u8, 7][..], &[0, 5], b"a"].concat();
        assert!(subscriptions(0x02, &truncated, LEVEL_V4).unwrap().any(|s| s.is_err()));
        assert_eq!(subscriptions(0x00, &body, LEVEL_V4).err().map(|_| ()), Some(()));
        let unsub = [&[0u8, 9][..], &[0, 1], b"x", &[0, 1], b"y"].concat();
        let names: Vec<_> =
            unsubscriptions(0x02, &unsub, LEVEL_V4).unwrap().map(|s| s.unwrap().filter).collect();
        assert_eq!(names, vec!["x", "y"]);
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let mut seed = 0x1234_5678u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let _ = fixed_header(&bytes);
            let _ = connect(&bytes);
            let _ = packet_id(&bytes);
            for level in [LEVEL_V4, LEVEL_V5] {
                if let Ok(p) = publish(0x02, &bytes, level) {
                    property_ids(p.properties).take(100).for_each(drop);
                }
                if let Ok(it) = subscriptions(0x02, &bytes, level) {
                    it.take(100).for_each(drop);
                }
                if let Ok(it) = unsubscriptions(0x02, &bytes, level) {
                    it.take(100).for_each(drop);
                }
            }
            property_ids(&bytes).take(100).for_each(drop);
        }
    }
}
