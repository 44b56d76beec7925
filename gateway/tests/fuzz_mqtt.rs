//! Random-input testing of the gateway's front door: the MQTT reader (fixed header, CONNECT,
//! PUBLISH, SUBSCRIBE, UNSUBSCRIBE, acknowledgements, MQTT 5 properties) and the PROXY v2
//! header from load balancers. Every byte here comes from an unauthenticated or untrusted peer.
//!
//! Properties: random bytes and mutated valid packets never panic and never allocate (the
//! reader borrows from the buffer); the declared size of a packet is known from at most five
//! bytes, so an oversize packet is refused before anything is buffered; a PROXY header longer
//! than its limit is refused before its block is allocated; valid packets and headers read
//! back what was written.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use bytes::BytesMut;
use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{bytes, check, counting_allocator_active, measured, mutated};
use dampwatch_gateway::mqtt::encode;
use dampwatch_gateway::mqtt::parse::property_ids;
use dampwatch_gateway::mqtt::{self, FixedHeader, PacketType, LEVEL_V4, LEVEL_V5};
use dampwatch_gateway::proxy_protocol::{self, Origin, MAX_BLOCK_LEN, SIGNATURE};
use dampwatch_gateway::Refusal;
use std::net::SocketAddr;

/// The largest remaining length four varint bytes can state.
const MAX_REMAINING: usize = 268_435_455;

/// Everything the gateway's reader does with one packet, the way its connections do it: the
/// fixed header, then the body by packet type, every filter and property walked to the end.
/// Returns how many items (filters, properties) were read, to prove each walk ends.
fn read_everything(packet: &[u8], level: u8) -> usize {
    let mut items = 0;
    let Ok(Some(h)) = mqtt::fixed_header(packet) else { return 0 };
    assert!((2..=5).contains(&h.header_len), "{h:?}");
    assert!(h.remaining_len <= MAX_REMAINING, "{h:?}");
    let end = h.packet_len().min(packet.len());
    let body = &packet[h.header_len.min(end)..end];
    match h.kind {
        PacketType::Connect => {
            if let Ok(c) = mqtt::connect(body) {
                assert!(c.level == LEVEL_V4 || c.level == LEVEL_V5);
            }
        }
        PacketType::Publish => {
            if let Ok(p) = mqtt::publish(h.flags, body, level) {
                assert!(p.qos < 3);
                assert!(body.ends_with(p.payload));
                if let Some((id, at)) = p.packet_id {
                    assert_ne!(id, 0);
                    assert_eq!(body[at..at + 2], id.to_be_bytes());
                }
                for id in property_ids(p.properties) {
                    items += 1;
                    if id.is_err() {
                        break;
                    }
                }
            }
        }
        PacketType::Subscribe => {
            if let Ok(filters) = mqtt::subscriptions(h.flags, body, level) {
                assert_ne!(filters.packet_id, 0);
                items += filters.count();
            }
        }
        PacketType::Unsubscribe => {
            if let Ok(filters) = mqtt::unsubscriptions(h.flags, body, level) {
                for f in filters {
                    items += 1;
                    if let Ok(f) = f {
                        assert_eq!(f.options, 0);
                    }
                }
            }
        }
        _ => {
            let _ = mqtt::packet_id(body);
        }
    }
    items
}

fn level() -> impl Strategy<Value = u8> {
    prop_oneof![Just(LEVEL_V4), Just(LEVEL_V5), any::<u8>()]
}

#[test]
fn the_allocation_counter_is_in_place() {
    assert!(counting_allocator_active());
}

#[test]
fn random_bytes_are_refused_without_panic_or_allocation() {
    check("gateway/mqtt random bytes", (bytes(300), level(), 0..16u8), |(buf, level, flags)| {
        let (items, heap) = measured(|| {
            let mut items = read_everything(&buf, level);
            // Each body reader on its own, whatever the first byte says.
            let _ = mqtt::connect(&buf);
            let _ = mqtt::packet_id(&buf);
            if let Ok(p) = mqtt::publish(flags, &buf, level) {
                items += property_ids(p.properties).count();
            }
            for f in [mqtt::subscriptions(flags, &buf, level), mqtt::unsubscriptions(flags, &buf, level)]
                .into_iter()
                .flatten()
            {
                items += f.count();
            }
            items += property_ids(&buf).count();
            items
        });
        prop_assert_eq!(heap.count_total, 0, "the reader allocated");
        // Every filter takes at least two bytes and every property one: the walks end.
        prop_assert!(items <= 4 * (buf.len() + 1), "{} items from {} bytes", items, buf.len());
        Ok(())
    });
}

/// The bytes of a remaining length as MQTT writes it.
fn remaining_length(n: usize) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode::varint(&mut out, n);
    out.to_vec()
}

#[test]
fn the_declared_size_is_known_from_the_header_alone() {
    let strategy = (1..16u8, 0..16u8, 0..=MAX_REMAINING, 64..1_000_000usize);
    check("gateway/mqtt declared size", strategy, |(kind, flags, declared, max)| {
        let mut header = vec![kind << 4 | flags];
        header.extend(remaining_length(declared));
        // Short of the whole header, the reader asks for more and reads no further.
        for cut in 1..header.len() {
            prop_assert_eq!(mqtt::fixed_header(&header[..cut]), Ok(None));
        }
        let (h, heap) = measured(|| mqtt::fixed_header(&header));
        prop_assert_eq!(heap.count_total, 0);
        let h: FixedHeader = h.unwrap().unwrap();
        prop_assert_eq!(h.header_len, header.len());
        prop_assert_eq!(h.remaining_len, declared);
        // So a connection limited to `max` bytes refuses this packet having read at most five.
        prop_assert_eq!(h.packet_len() > max, header.len() + declared > max);
        prop_assert!(h.header_len <= 5);
        Ok(())
    });
    // A fifth length byte with its continuation bit set is malformed, never "more needed".
    assert_eq!(
        mqtt::fixed_header(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01]),
        Err(mqtt::MalformedPacket::RemainingLength)
    );
}

/// A valid MQTT 5 property (identifier and value), per the specification's encodings.
fn property() -> BoxedStrategy<(u8, Vec<u8>)> {
    let utf8 = "[a-z0-9/ é]{0,12}".prop_map(|s| {
        let mut v = (s.len() as u16).to_be_bytes().to_vec();
        v.extend(s.as_bytes());
        v
    });
    prop_oneof![
        (prop::sample::select(vec![0x01u8, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A]), any::<u8>())
            .prop_map(|(id, b)| (id, vec![b])),
        (prop::sample::select(vec![0x13u8, 0x21, 0x22, 0x23]), any::<u16>())
            .prop_map(|(id, v)| (id, v.to_be_bytes().to_vec())),
        (prop::sample::select(vec![0x02u8, 0x11, 0x18, 0x27]), any::<u32>())
            .prop_map(|(id, v)| (id, v.to_be_bytes().to_vec())),
        (0..=MAX_REMAINING).prop_map(|n| (0x0B, remaining_length(n))),
        (prop::sample::select(vec![0x03u8, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F]), utf8.clone()),
        (utf8.clone(), utf8).prop_map(|(k, v)| (0x26, [k, v].concat())),
    ]
    .boxed()
}

fn property_block(props: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let inner: Vec<u8> =
        props.iter().flat_map(|(id, v)| std::iter::once(*id).chain(v.iter().copied())).collect();
    [remaining_length(inner.len()), inner].concat()
}

fn string(s: &str) -> Vec<u8> {
    [(s.len() as u16).to_be_bytes().to_vec(), s.as_bytes().to_vec()].concat()
}

fn packet(first: u8, body: Vec<u8>) -> Vec<u8> {
    [vec![first], remaining_length(body.len()), body].concat()
}

/// Topics and client ids: mostly what devices use, sometimes any UTF-8.
fn name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "dw/v1/[a-z0-9-]{1,12}/[a-z0-9-]{1,12}/(up|ack|config)",
        1 => "\\PC{0,40}",
    ]
    .boxed()
}

/// A valid packet of any kind the gateway reads, in either protocol level.
fn valid_packet() -> impl Strategy<Value = (Vec<u8>, u8)> {
    let props = prop::collection::vec(property(), 0..4);
    let connect = (name(), any::<u16>(), any::<bool>(), any::<bool>(), props.clone()).prop_map(
        |(id, keep_alive, clean, v5, props)| {
            if !v5 {
                let mut out = BytesMut::new();
                encode::connect_v4(&mut out, &id, keep_alive, clean);
                return (out.to_vec(), LEVEL_V4);
            }
            let body = [
                string("MQTT"),
                vec![LEVEL_V5, u8::from(clean) << 1],
                keep_alive.to_be_bytes().to_vec(),
                property_block(&props),
                string(&id),
            ]
            .concat();
            (packet(0x10, body), LEVEL_V5)
        },
    );
    let publish = (name(), 0..2u8, any::<bool>(), 1..=u16::MAX, bytes(200), any::<bool>(), props.clone())
        .prop_map(|(topic, qos, retain, id, payload, v5, props)| {
            if !v5 || props.is_empty() {
                let level = if v5 { LEVEL_V5 } else { LEVEL_V4 };
                let mut out = BytesMut::new();
                encode::publish(&mut out, level, topic.as_bytes(), qos, retain, id, &payload);
                return (out.to_vec(), level);
            }
            let pid = if qos > 0 { id.to_be_bytes().to_vec() } else { vec![] };
            let body = [string(&topic), pid, property_block(&props), payload].concat();
            (packet(0x30 | qos << 1 | u8::from(retain), body), LEVEL_V5)
        });
    let filters = prop::collection::vec((name(), 0..3u8), 1..5);
    let subscribe =
        (1..=u16::MAX, filters.clone(), any::<bool>(), props).prop_map(|(id, filters, v5, props)| {
            if !v5 {
                let mut out = BytesMut::new();
                let f: Vec<(&str, u8)> = filters.iter().map(|(f, q)| (f.as_str(), *q)).collect();
                encode::subscribe_v4(&mut out, id, &f);
                return (out.to_vec(), LEVEL_V4);
            }
            let list: Vec<u8> =
                filters.iter().flat_map(|(f, q)| [string(f), vec![*q | 0x20]].concat()).collect();
            (packet(0x82, [id.to_be_bytes().to_vec(), property_block(&props), list].concat()), LEVEL_V5)
        });
    let unsubscribe = (1..=u16::MAX, filters, level()).prop_map(|(id, filters, level)| {
        let props = if level == LEVEL_V5 { vec![0] } else { vec![] };
        let list: Vec<u8> = filters.iter().flat_map(|(f, _)| string(f)).collect();
        (packet(0xA2, [id.to_be_bytes().to_vec(), props, list].concat()), level)
    });
    let ack = (prop::sample::select(vec![0x40u8, 0x50, 0x62, 0x70, 0xC0, 0xE0]), 1..=u16::MAX)
        .prop_map(|(first, id)| (packet(first, id.to_be_bytes().to_vec()), LEVEL_V4));
    prop_oneof![connect, publish, subscribe, unsubscribe, ack]
}

#[test]
fn mutated_packets_are_refused_without_panic_or_allocation() {
    let strategy = valid_packet().prop_flat_map(|(p, level)| (mutated(Just(p)), Just(level)));
    check("gateway/mqtt mutated packets", strategy, |(packet, level)| {
        let (items, heap) = measured(|| read_everything(&packet, level));
        prop_assert_eq!(heap.count_total, 0, "the reader allocated");
        prop_assert!(items <= packet.len());
        Ok(())
    });
}

#[test]
fn valid_packets_read_back_what_was_written() {
    let strategy = (
        name(),
        0..2u8,
        any::<bool>(),
        any::<bool>(),
        1..=u16::MAX,
        bytes(300),
        prop::collection::vec(property(), 0..6),
    );
    check("gateway/mqtt round trip", strategy, |(topic, qos, retain, dup, id, payload, props)| {
        // A device's MQTT 5 publish with properties, read, then re-encoded as 3.1.1 for the
        // broker: topic, flags and payload survive, the properties are walked one by one.
        let pid = if qos > 0 { id.to_be_bytes().to_vec() } else { vec![] };
        let body = [string(&topic), pid, property_block(&props), payload.clone()].concat();
        let first = 0x30 | u8::from(dup) << 3 | qos << 1 | u8::from(retain);
        let v5 = packet(first, body);
        let h = mqtt::fixed_header(&v5).unwrap().unwrap();
        prop_assert_eq!(h.packet_len(), v5.len());
        let p = mqtt::publish(h.flags, &v5[h.header_len..], LEVEL_V5).unwrap();
        prop_assert_eq!((p.topic, p.qos, p.retain, p.dup), (topic.as_str(), qos, retain, dup));
        prop_assert_eq!(p.packet_id.map(|x| x.0), (qos > 0).then_some(id));
        prop_assert_eq!(p.payload, &payload[..]);
        let ids: Vec<u8> = property_ids(p.properties).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(ids, props.iter().map(|(id, _)| *id).collect::<Vec<_>>());

        let mut v4 = BytesMut::new();
        encode::publish_v4(&mut v4, &p, id);
        let h = mqtt::fixed_header(&v4).unwrap().unwrap();
        prop_assert_eq!(h.packet_len(), v4.len());
        let q = mqtt::publish(h.flags, &v4[h.header_len..], LEVEL_V4).unwrap();
        prop_assert_eq!((q.topic, q.qos, q.retain, q.dup, q.payload), (p.topic, qos, retain, dup, p.payload));
        prop_assert!(q.properties.is_empty());

        // CONNECT and SUBSCRIBE as the gateway's own links write them.
        let mut c = BytesMut::new();
        encode::connect_v4(&mut c, &topic, id, retain);
        let h = mqtt::fixed_header(&c).unwrap().unwrap();
        let connect = mqtt::connect(&c[h.header_len..]).unwrap();
        prop_assert_eq!(
            (connect.client_id, connect.keep_alive_s, connect.clean_start),
            (topic.as_str(), id, retain)
        );
        let mut s = BytesMut::new();
        encode::subscribe_v4(&mut s, id, &[(topic.as_str(), qos), ("dw/v1/+/+/up", 1)]);
        let h = mqtt::fixed_header(&s).unwrap().unwrap();
        let subs: Vec<_> = mqtt::subscriptions(h.flags, &s[h.header_len..], LEVEL_V4)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(subs.len(), 2);
        prop_assert_eq!((subs[0].filter, subs[0].qos()), (topic.as_str(), qos));
        Ok(())
    });
}

/// Reads a PROXY header from `bytes`; returns the result and what was left unread.
fn read_proxy(rt: &tokio::runtime::Runtime, bytes: &[u8]) -> (Result<Option<Origin>, Refusal>, usize) {
    let mut r = bytes;
    let result = rt.block_on(proxy_protocol::read(&mut r));
    (result, r.len())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
}

/// A header as a balancer sends it, with type-length-value extensions after the addresses.
fn proxy_header() -> impl Strategy<Value = (Vec<u8>, SocketAddr)> {
    let tlv = (any::<u8>(), bytes(40))
        .prop_map(|(t, v)| [vec![t], (v.len() as u16).to_be_bytes().to_vec(), v].concat());
    (socket_addr(), socket_addr(), prop::collection::vec(tlv, 0..4)).prop_map(|(client, server, tlvs)| {
        let mut h = proxy_protocol::encode(client, server);
        let extra: Vec<u8> = tlvs.concat();
        let len = u16::from_be_bytes([h[14], h[15]]) + extra.len() as u16;
        h[14..16].copy_from_slice(&len.to_be_bytes());
        h.extend(extra);
        (h, client)
    })
}

#[test]
fn proxy_headers_read_back_and_damaged_ones_are_refused() {
    let rt = runtime();
    let strategy = (proxy_header(), bytes(8));
    check("gateway/proxy round trip", strategy, |((header, client), tls)| {
        let bytes = [header.clone(), tls.clone()].concat();
        let (origin, left) = read_proxy(&rt, &bytes);
        let expected = SocketAddr::new(client.ip().to_canonical(), client.port());
        let read = match origin {
            Ok(Some(Origin::Client(a))) => SocketAddr::new(a.ip().to_canonical(), a.port()),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(read, expected);
        prop_assert_eq!(left, tls.len(), "what follows the header stays unread");
        Ok(())
    });
    let strategy = mutated(proxy_header().prop_map(|(h, _)| h));
    check("gateway/proxy mutated headers", strategy, |bytes| {
        let ((result, left), heap) = measured(|| read_proxy(&rt, &bytes));
        prop_assert!(left <= bytes.len());
        if let Ok(Some(_)) = result {
            prop_assert!(bytes.len() - left >= 16, "a header is at least its fixed part");
        }
        // The address block is the only allocation, and never above its limit.
        prop_assert!(heap.bytes_max <= (MAX_BLOCK_LEN + 512) as u64, "{:?}", heap);
        Ok(())
    });
    check("gateway/proxy random bytes", bytes(200), |bytes| {
        let _ = proxy_protocol::looks_like_header(&bytes);
        let with_signature = [SIGNATURE.to_vec(), bytes.clone()].concat();
        for input in [&bytes, &with_signature] {
            let ((_, left), heap) = measured(|| read_proxy(&rt, input));
            prop_assert!(left <= input.len());
            prop_assert!(heap.bytes_max <= (MAX_BLOCK_LEN + 512) as u64, "{:?}", heap);
        }
        Ok(())
    });
}

#[test]
fn an_oversize_proxy_block_is_refused_before_it_is_allocated() {
    let rt = runtime();
    let strategy = (MAX_BLOCK_LEN as u16 + 1..=u16::MAX, 0..2u8, bytes(64));
    check("gateway/proxy oversize block", strategy, |(len, command, rest)| {
        let mut h = SIGNATURE.to_vec();
        h.extend([0x20 | command, 0x11]);
        h.extend(len.to_be_bytes());
        h.extend(rest);
        let ((result, _), heap) = measured(|| read_proxy(&rt, &h));
        prop_assert_eq!(result, Err(Refusal::ProxyHeaderMalformed));
        prop_assert!(heap.bytes_max < u64::from(len), "allocated {:?} for a block of {}", heap, len);
        Ok(())
    });
}
