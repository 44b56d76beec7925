//! Topic layout: `dw/v1/{landlord}/{device}/{up|ack|config}`.
//!
//! Parsing borrows from the topic string, so it allocates nothing and runs on the firmware,
//! the gateway (for every packet) and the collector.

use crate::ids::{validate_device_id, validate_landlord_id};

/// Topic prefix of wire format version 1.
pub const PREFIX: &str = "dw/v1/";

/// What a device topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// Device to collector: signed uplinks.
    Up,
    /// Collector to device: commit positions.
    Ack,
    /// Collector to device: configuration.
    Config,
}

impl TopicKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TopicKind::Up => "up",
            TopicKind::Ack => "ack",
            TopicKind::Config => "config",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(TopicKind::Up),
            "ack" => Some(TopicKind::Ack),
            "config" => Some(TopicKind::Config),
            _ => None,
        }
    }
}

/// A parsed device topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    pub landlord: &'a str,
    pub device: &'a str,
    pub kind: TopicKind,
}

impl<'a> Topic<'a> {
    /// Parses a concrete topic (no wildcards); `None` if it is not a valid device topic.
    pub fn parse(topic: &'a str) -> Option<Self> {
        let rest = topic.strip_prefix(PREFIX)?;
        let mut parts = rest.split('/');
        let landlord = parts.next()?;
        let device = parts.next()?;
        let kind = TopicKind::parse(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        validate_landlord_id(landlord).ok()?;
        validate_device_id(device).ok()?;
        Some(Topic { landlord, device, kind })
    }

    /// Writes the topic into any `core::fmt::Write` (a `String` or a `heapless::String`).
    pub fn write_to<W: core::fmt::Write>(&self, out: &mut W) -> core::fmt::Result {
        write!(out, "{PREFIX}{}/{}/{}", self.landlord, self.device, self.kind.as_str())
    }
}

impl core::fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.write_to(f)
    }
}

/// The filter a collector subscribes to for every device's uplinks.
pub const ALL_UPLINKS: &str = "dw/v1/+/+/up";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_topics() {
        let t = Topic::parse("dw/v1/acme/dev-1/up").unwrap();
        assert_eq!((t.landlord, t.device, t.kind), ("acme", "dev-1", TopicKind::Up));
        assert_eq!(Topic::parse("dw/v1/acme/dev-1/config").unwrap().kind, TopicKind::Config);
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "dw/v1/acme/dev-1",
            "dw/v1/acme/dev-1/up/x",
            "dw/v1/acme/+/up",
            "dw/v1/#",
            "dw/v2/acme/dev-1/up",
            "dw/v1/ACME/dev-1/up",
            "dw/v1/acme/dev-1/down",
            "",
        ] {
            assert_eq!(Topic::parse(bad), None, "{bad}");
        }
    }
}
