//! Just enough MQTT 3.1.1 / 5.0 for the gateway: reading what clients send, and writing the
//! few packets the gateway answers with itself.
//!
//! For services the gateway never re-encodes: it checks the fields that decide authorisation
//! (packet type, CONNECT client id and flags, PUBLISH topic and QoS, SUBSCRIBE filters) and
//! forwards the original bytes. For devices it holds the MQTT session itself (see
//! `crate::device`) and writes CONNACK, SUBACK, PUBACK and downlink PUBLISH packets.

pub mod encode;
pub mod parse;

pub use parse::{
    connect, fixed_header, packet_id, publish, subscriptions, unsubscriptions, Connect, FixedHeader,
    MalformedPacket, Publish, Subscription,
};

/// MQTT protocol level from CONNECT: 4 is 3.1.1, 5 is 5.0.
pub const LEVEL_V4: u8 = 4;
pub const LEVEL_V5: u8 = 5;

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
