//! Writing the packets the gateway answers with itself (to devices) or sends on its own broker
//! links. Everything is appended to a caller's buffer, so a burst of answers goes out in one
//! write.

use super::{Publish, LEVEL_V5};
use bytes::{BufMut, BytesMut};

/// Appends an MQTT variable byte integer.
pub fn varint(out: &mut BytesMut, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.put_u8(b);
        if n == 0 {
            return;
        }
    }
}

/// Bytes a variable byte integer takes.
fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

fn string(out: &mut BytesMut, s: &[u8]) {
    out.put_u16(s.len() as u16);
    out.put_slice(s);
}

/// The outcome a CONNACK reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnackCode {
    Accepted,
    NotAuthorised,
    ServerUnavailable,
}

impl ConnackCode {
    fn byte(self, level: u8) -> u8 {
        match (self, level == LEVEL_V5) {
            (ConnackCode::Accepted, _) => 0x00,
            (ConnackCode::NotAuthorised, false) => 0x05,
            (ConnackCode::NotAuthorised, true) => 0x87,
            (ConnackCode::ServerUnavailable, false) => 0x03,
            (ConnackCode::ServerUnavailable, true) => 0x88,
        }
    }
}

/// What an MQTT 5 device is told about this server in an accepting CONNACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// QoS 1 publishes the device may have unacknowledged.
    pub receive_maximum: u16,
    /// Largest packet the device may send.
    pub maximum_packet_size: u32,
}

/// CONNACK, never with a session present (the gateway keeps no device sessions across
/// connections). MQTT 5 acceptances also state the limits and the features devices lack
/// (retain, wildcard, subscription identifiers, shared subscriptions).
pub fn connack(out: &mut BytesMut, level: u8, code: ConnackCode, limits: ServerLimits) {
    out.put_u8(0x20);
    if level != LEVEL_V5 {
        out.put_slice(&[0x02, 0x00, code.byte(level)]);
        return;
    }
    if code != ConnackCode::Accepted {
        out.put_slice(&[0x03, 0x00, code.byte(level), 0x00]);
        return;
    }
    let props: [u8; 16] = {
        let rm = limits.receive_maximum.to_be_bytes();
        let mp = limits.maximum_packet_size.to_be_bytes();
        [0x21, rm[0], rm[1], 0x27, mp[0], mp[1], mp[2], mp[3], 0x25, 0, 0x28, 0, 0x29, 0, 0x2A, 0]
    };
    out.put_slice(&[2 + 1 + props.len() as u8, 0x00, 0x00, props.len() as u8]);
    out.put_slice(&props);
}

/// PUBACK with success (the short form is valid in both protocol levels).
pub fn puback(out: &mut BytesMut, packet_id: u16) {
    out.put_u8(0x40);
    out.put_u8(0x02);
    out.put_u16(packet_id);
}

fn ack_with_codes(out: &mut BytesMut, first: u8, level: u8, packet_id: u16, codes: &[u8]) {
    let props = usize::from(level == LEVEL_V5);
    out.put_u8(first);
    varint(out, 2 + props + codes.len());
    out.put_u16(packet_id);
    if props == 1 {
        out.put_u8(0);
    }
    out.put_slice(codes);
}

/// SUBACK with one return code per filter (granted QoS, or 0x80 failure).
pub fn suback(out: &mut BytesMut, level: u8, packet_id: u16, codes: &[u8]) {
    ack_with_codes(out, 0x90, level, packet_id, codes);
}

/// UNSUBACK; MQTT 5 carries one reason code per filter, 3.1.1 none.
pub fn unsuback(out: &mut BytesMut, level: u8, packet_id: u16, codes: &[u8]) {
    if level == LEVEL_V5 {
        ack_with_codes(out, 0xB0, level, packet_id, codes);
    } else {
        ack_with_codes(out, 0xB0, level, packet_id, &[]);
    }
}

pub fn pingreq(out: &mut BytesMut) {
    out.put_slice(&[0xC0, 0x00]);
}

pub fn pingresp(out: &mut BytesMut) {
    out.put_slice(&[0xD0, 0x00]);
}

/// MQTT 5 reason code "server shutting down".
pub const SERVER_SHUTTING_DOWN: u8 = 0x8B;

/// An MQTT 5 server-side DISCONNECT with a reason (3.1.1 has none: the server just closes).
pub fn disconnect_v5(out: &mut BytesMut, reason: u8) {
    out.put_slice(&[0xE0, 0x01, reason]);
}

/// A PUBLISH without properties, in either protocol level. `packet_id` must be given for QoS 1.
pub fn publish(
    out: &mut BytesMut,
    level: u8,
    topic: &[u8],
    qos: u8,
    retain: bool,
    packet_id: u16,
    payload: &[u8],
) {
    let id_len = if qos > 0 { 2 } else { 0 };
    let props = usize::from(level == LEVEL_V5);
    let remaining = 2 + topic.len() + id_len + props + payload.len();
    out.reserve(1 + varint_len(remaining) + remaining);
    out.put_u8(0x30 | (qos << 1) | u8::from(retain));
    varint(out, remaining);
    string(out, topic);
    if qos > 0 {
        out.put_u16(packet_id);
    }
    if props == 1 {
        out.put_u8(0);
    }
    out.put_slice(payload);
}

/// Re-encodes a (checked) PUBLISH as MQTT 3.1.1 with a new packet identifier, dropping any
/// MQTT 5 properties: the broker links speak 3.1.1, and an uplink is fully described by its
/// topic and its signed payload.
pub fn publish_v4(out: &mut BytesMut, p: &Publish<'_>, packet_id: u16) {
    let id_len = if p.qos > 0 { 2 } else { 0 };
    let remaining = 2 + p.topic.len() + id_len + p.payload.len();
    out.reserve(1 + varint_len(remaining) + remaining);
    out.put_u8(0x30 | (u8::from(p.dup) << 3) | (p.qos << 1) | u8::from(p.retain));
    varint(out, remaining);
    string(out, p.topic.as_bytes());
    if p.qos > 0 {
        out.put_u16(packet_id);
    }
    out.put_slice(p.payload);
}

/// CONNECT (MQTT 3.1.1, no credentials, no will).
pub fn connect_v4(out: &mut BytesMut, client_id: &str, keep_alive_s: u16, clean_session: bool) {
    connect_v4_login(out, client_id, keep_alive_s, clean_session, None);
}

/// CONNECT (MQTT 3.1.1, no will) with a username and password when `login` is given.
pub fn connect_v4_login(
    out: &mut BytesMut,
    client_id: &str,
    keep_alive_s: u16,
    clean_session: bool,
    login: Option<(&str, &str)>,
) {
    let login_len = login.map_or(0, |(u, p)| 4 + u.len() + p.len());
    let remaining = 10 + 2 + client_id.len() + login_len;
    out.put_u8(0x10);
    varint(out, remaining);
    string(out, b"MQTT");
    out.put_u8(4);
    let login_flags = if login.is_some() { 0xC0 } else { 0x00 };
    out.put_u8(login_flags | if clean_session { 0x02 } else { 0x00 });
    out.put_u16(keep_alive_s);
    string(out, client_id.as_bytes());
    if let Some((username, password)) = login {
        string(out, username.as_bytes());
        string(out, password.as_bytes());
    }
}

/// A client's CONNECT with its username and password replaced by `login`: everything else
/// (level, clean start, keep-alive, properties, client id, will) as the client sent it.
pub fn connect_with_login(out: &mut BytesMut, head: &super::parse::ConnectHead<'_>, login: (&str, &str)) {
    let (username, password) = login;
    let remaining = head.protocol.len() + 1 + head.rest.len() + 4 + username.len() + password.len();
    out.put_u8(0x10);
    varint(out, remaining);
    out.put_slice(head.protocol);
    out.put_u8((head.flags & 0x3E) | 0xC0);
    out.put_slice(head.rest);
    string(out, username.as_bytes());
    string(out, password.as_bytes());
}

/// SUBSCRIBE (MQTT 3.1.1) to `filters`, each with its maximum QoS.
pub fn subscribe_v4(out: &mut BytesMut, packet_id: u16, filters: &[(&str, u8)]) {
    let remaining = 2 + filters.iter().map(|(f, _)| 2 + f.len() + 1).sum::<usize>();
    out.put_u8(0x82);
    varint(out, remaining);
    out.put_u16(packet_id);
    for (f, qos) in filters {
        string(out, f.as_bytes());
        out.put_u8(*qos);
    }
}

#[cfg(test)]
mod tests {

    /// A client's MQTT 5 CONNECT with properties, a will and its own login: rewritten with the
    /// gateway's login, everything else kept byte for byte.
    #[test]
    fn a_connect_keeps_everything_but_its_login() {
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02 | 0x04 | 0x08 | 0xC0, 0, 45];
        body.extend([5, 0x11, 0, 0, 0, 60]); // properties: session expiry interval 60
        body.extend([0, 9]);
        body.extend(b"collector");
        body.extend([0]); // will properties
        body.extend([0, 3]);
        body.extend(b"w/t");
        body.extend([0, 2, b'h', b'i']);
        body.extend([0, 4]);
        body.extend(b"user");
        body.extend([0, 6]);
        body.extend(b"secret");
        let head = crate::mqtt::parse::connect_head(&body).unwrap();
        let mut out = BytesMut::new();
        connect_with_login(&mut out, &head, ("gw", "pw"));
        let h = crate::mqtt::parse::fixed_header(&out).unwrap().unwrap();
        assert_eq!(h.packet_len(), out.len());
        let rewritten = &out[h.header_len..];
        let parsed = crate::mqtt::parse::connect(rewritten).unwrap();
        assert_eq!((parsed.level, parsed.client_id, parsed.keep_alive_s), (5, "collector", 45));
        assert!(parsed.clean_start && parsed.has_will);
        assert!(rewritten.ends_with(b"\0\x02gw\0\x02pw"));
        assert!(!rewritten.windows(6).any(|w| w == b"secret"), "the client's own password is dropped");
        // Everything before the login is the client's, unchanged but for the login flags.
        let cut = body.len() - (2 + 4 + 2 + 6);
        assert_eq!(&rewritten[..7], &body[..7]);
        assert_eq!(rewritten[7], body[7]);
        assert_eq!(&rewritten[8..cut], &body[8..cut]);
    }

    use super::super::{parse, PacketType, LEVEL_V4};
    use super::*;

    fn header(b: &[u8]) -> parse::FixedHeader {
        let h = parse::fixed_header(b).unwrap().unwrap();
        assert_eq!(h.packet_len(), b.len(), "length field matches the bytes written");
        h
    }

    #[test]
    fn varints_round_trip_through_the_header_parser() {
        for n in [0usize, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let mut out = BytesMut::new();
            out.put_u8(0x30);
            varint(&mut out, n);
            assert_eq!(out.len() - 1, varint_len(n));
            out.resize(out.len() + n, 0);
            assert_eq!(header(&out).remaining_len, n);
        }
    }

    #[test]
    fn publishes_parse_back_in_both_levels() {
        for level in [LEVEL_V4, LEVEL_V5] {
            let mut out = BytesMut::new();
            publish(&mut out, level, b"dw/v1/a/b/ack", 1, true, 9, b"xyz");
            let h = header(&out);
            assert_eq!(h.kind, PacketType::Publish);
            let p = parse::publish(h.flags, &out[h.header_len..], level).unwrap();
            assert_eq!(
                (p.topic, p.qos, p.retain, p.packet_id.map(|x| x.0)),
                ("dw/v1/a/b/ack", 1, true, Some(9))
            );
            assert_eq!(p.payload, b"xyz");
        }
    }

    #[test]
    fn a_v5_publish_becomes_v4_without_properties() {
        let body = [&[0u8, 1][..], b"t", &[0, 7], &[2, 0x01, 1], b"pl"].concat();
        let v5 = parse::publish(0x0A, &body, LEVEL_V5).unwrap();
        let mut out = BytesMut::new();
        publish_v4(&mut out, &v5, 300);
        let h = header(&out);
        let p = parse::publish(h.flags, &out[h.header_len..], LEVEL_V4).unwrap();
        assert_eq!((p.topic, p.packet_id.map(|x| x.0), p.payload, p.dup), ("t", Some(300), &b"pl"[..], true));
    }

    #[test]
    fn acknowledgements_have_consistent_lengths() {
        let limits = ServerLimits { receive_maximum: 32, maximum_packet_size: 4096 };
        for level in [LEVEL_V4, LEVEL_V5] {
            for code in [ConnackCode::Accepted, ConnackCode::NotAuthorised, ConnackCode::ServerUnavailable] {
                let mut out = BytesMut::new();
                connack(&mut out, level, code, limits);
                assert_eq!(header(&out).kind, PacketType::Connack);
            }
            let mut out = BytesMut::new();
            suback(&mut out, level, 5, &[1, 0x80]);
            assert_eq!(header(&out).kind, PacketType::Suback);
            let mut out = BytesMut::new();
            unsuback(&mut out, level, 5, &[0, 0]);
            assert_eq!(header(&out).kind, PacketType::Unsuback);
        }
        let mut out = BytesMut::new();
        connect_v4(&mut out, "gw", 60, true);
        let h = header(&out);
        let c = parse::connect(&out[h.header_len..]).unwrap();
        assert_eq!((c.client_id, c.keep_alive_s, c.clean_start), ("gw", 60, true));
        let mut out = BytesMut::new();
        subscribe_v4(&mut out, 1, &[("a/+", 1), ("b", 0)]);
        let h = header(&out);
        let f: Vec<_> = parse::subscriptions(h.flags, &out[h.header_len..], LEVEL_V4)
            .unwrap()
            .map(|s| s.unwrap().filter)
            .collect();
        assert_eq!(f, vec!["a/+", "b"]);
    }
}
