//! Just enough MQTT 3.1.1 / 5.0 parsing for the gateway to authorise what a client sends.
//!
//! The gateway never re-encodes: it reads a whole packet, checks the few fields that decide
//! authorisation (packet type, CONNECT client id and flags, PUBLISH topic and QoS, SUBSCRIBE
//! filters) and forwards the original bytes. Parsing borrows from the buffer and allocates
//! nothing; every length is checked, so hostile bytes give an error, never a panic.

/// MQTT control packet types (first nibble of the fixed header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Connect = 1,
    Connack = 2,
    Publish = 3,
    Puback = 4,
    Pubrec = 5,
    Pubrel = 6,
    Pubcomp = 7,
    Subscribe = 8,
    Suback = 9,
    Unsubscribe = 10,
    Unsuback = 11,
    Pingreq = 12,
    Pingresp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    fn from_nibble(n: u8) -> Option<Self> {
        use PacketType::*;
        Some(match n {
            1 => Connect,
            2 => Connack,
            3 => Publish,
            4 => Puback,
            5 => Pubrec,
            6 => Pubrel,
            7 => Pubcomp,
            8 => Subscribe,
            9 => Suback,
            10 => Unsubscribe,
            11 => Unsuback,
            12 => Pingreq,
            13 => Pingresp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }
}

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

    /// Skips an MQTT 5 property block.
    fn skip_properties(&mut self) -> Result<(), MalformedPacket> {
        let n = self.varint()?;
        self.bytes(n).map(|_| ())
    }
}

/// MQTT protocol level from CONNECT: 4 is 3.1.1, 5 is 5.0.
pub const LEVEL_V4: u8 = 4;
pub const LEVEL_V5: u8 = 5;

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
        r.skip_properties()?;
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

/// The parts of PUBLISH the gateway decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    pub topic: &'a str,
    pub qos: u8,
    pub retain: bool,
}

/// Parses the topic of a PUBLISH; `flags` is the fixed header's low nibble.
pub fn publish(flags: u8, body: &[u8]) -> Result<Publish<'_>, MalformedPacket> {
    let qos = (flags >> 1) & 0x03;
    if qos == 3 {
        return Err(MalformedPacket::Flags);
    }
    let mut r = Reader { buf: body };
    let topic = r.str()?;
    Ok(Publish { topic, qos, retain: flags & 0x01 != 0 })
}

/// One filter of a SUBSCRIBE with its requested maximum QoS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription<'a> {
    pub filter: &'a str,
    pub qos: u8,
}

/// Iterates the filters of a SUBSCRIBE body. `level` is the connection's protocol level.
pub fn subscriptions(
    flags: u8,
    body: &[u8],
    level: u8,
) -> Result<impl Iterator<Item = Result<Subscription<'_>, MalformedPacket>>, MalformedPacket> {
    if flags != 0x02 {
        return Err(MalformedPacket::Flags);
    }
    let mut r = Reader { buf: body };
    r.u16()?; // packet identifier
    if level == LEVEL_V5 {
        r.skip_properties()?;
    }
    if r.buf.is_empty() {
        return Err(MalformedPacket::Truncated);
    }
    Ok(std::iter::from_fn(move || {
        if r.buf.is_empty() {
            return None;
        }
        let item = r.str().and_then(|filter| Ok(Subscription { filter, qos: r.u8()? & 0x03 }));
        if item.is_err() {
            r.buf = &[]; // stop after the first error
        }
        Some(item)
    }))
}

/// CONNACK refusing the connection as "not authorised", in the client's protocol level.
pub fn connack_not_authorised(level: u8) -> &'static [u8] {
    if level == LEVEL_V5 {
        &[0x20, 0x03, 0x00, 0x87, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x05]
    }
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
    fn reads_publish_topic_and_qos() {
        let body = [&[0u8, 3][..], b"a/b", &[0, 1], b"payload"].concat();
        let p = publish(0x02, &body).unwrap();
        assert_eq!((p.topic, p.qos, p.retain), ("a/b", 1, false));
        assert_eq!(publish(0x06, &body), Err(MalformedPacket::Flags));
        assert_eq!(publish(0x00, &[0, 9, b'a']), Err(MalformedPacket::Truncated));
    }

    #[test]
    fn reads_every_subscription() {
        let body = [&[0u8, 7][..], &[0, 1], b"#", &[1], &[0, 3], b"a/b", &[0]].concat();
        let subs: Vec<_> = subscriptions(0x02, &body, LEVEL_V4).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(subs, vec![Subscription { filter: "#", qos: 1 }, Subscription { filter: "a/b", qos: 0 }]);
        let truncated = [&[0u8, 7][..], &[0, 5], b"a"].concat();
        assert!(subscriptions(0x02, &truncated, LEVEL_V4).unwrap().any(|s| s.is_err()));
        assert_eq!(subscriptions(0x00, &body, LEVEL_V4).err(), Some(MalformedPacket::Flags));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let mut seed = 0x1234_5678u32;
        for len in 0..200 {
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
            let _ = publish(0x02, &bytes);
            if let Ok(it) = subscriptions(0x02, &bytes, LEVEL_V5) {
                it.take(100).for_each(drop);
            }
        }
    }
}
