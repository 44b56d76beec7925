//! What each identity may do. Everything not allowed here is refused.
//!
//! - A device may connect only with client id = its certificate CN, publish only to
//!   `dw/v1/{landlord}/{device}/up`, and subscribe only to its own `ack` and `config` topics.
//! - A service (the collector) may connect with client id = its name or `{name}-{suffix}` (so
//!   several collectors share one certificate), subscribe to uplinks (plain or as an MQTT 5
//!   shared subscription `$share/{group}/...`), and publish acks and configuration. Only the
//!   service names in `[services] collectors` get this far: any other service certificate is
//!   refused right after its handshake (`connection.rs`).
//! - Nobody may use QoS 2, a will message, or retained uplinks.

use crate::refusal::Refusal;
use dampwatch_pki::Identity;
use dampwatch_wire::topic::{Topic, TopicKind, PREFIX};

/// Checks the CONNECT client id and flags.
pub fn check_connect(id: &Identity, client_id: &str, has_will: bool) -> Result<(), Refusal> {
    let ok = match id {
        Identity::Device { device, .. } => client_id == device,
        Identity::Service { name } => {
            client_id == name || client_id.strip_prefix(name.as_str()).is_some_and(|s| s.starts_with('-'))
        }
    };
    if !ok {
        return Err(Refusal::ClientIdMismatch);
    }
    if has_will {
        return Err(Refusal::WillNotAllowed);
    }
    Ok(())
}

/// Checks a PUBLISH.
pub fn check_publish(id: &Identity, topic: &str, qos: u8, retain: bool) -> Result<(), Refusal> {
    if qos > 1 {
        return Err(Refusal::Qos2);
    }
    let parsed = Topic::parse(topic).ok_or(Refusal::TopicNotAllowed)?;
    match id {
        Identity::Device { landlord, device } => {
            if parsed.kind != TopicKind::Up || retain {
                return Err(Refusal::TopicNotAllowed);
            }
            if parsed.landlord != landlord {
                return Err(Refusal::OtherLandlordTopic);
            }
            if parsed.device != device {
                return Err(Refusal::OtherDeviceTopic);
            }
            Ok(())
        }
        Identity::Service { .. } => match parsed.kind {
            TopicKind::Ack | TopicKind::Config => Ok(()),
            TopicKind::Up => Err(Refusal::TopicNotAllowed),
        },
    }
}

/// Checks one SUBSCRIBE filter.
pub fn check_subscribe(id: &Identity, filter: &str, qos: u8) -> Result<(), Refusal> {
    if qos > 1 {
        return Err(Refusal::Qos2);
    }
    match id {
        Identity::Device { landlord, device } => {
            let parsed = Topic::parse(filter).ok_or(Refusal::FilterNotAllowed)?;
            if parsed.landlord != landlord {
                return Err(Refusal::OtherLandlordTopic);
            }
            if parsed.device != device {
                return Err(Refusal::OtherDeviceTopic);
            }
            match parsed.kind {
                TopicKind::Ack | TopicKind::Config => Ok(()),
                TopicKind::Up => Err(Refusal::FilterNotAllowed),
            }
        }
        Identity::Service { .. } => {
            let filter = match filter.strip_prefix("$share/") {
                Some(rest) => match rest.split_once('/') {
                    Some((group, f)) if !group.is_empty() && !group.contains(['+', '#']) => f,
                    _ => return Err(Refusal::FilterNotAllowed),
                },
                None => filter,
            };
            if is_uplink_filter(filter) {
                Ok(())
            } else {
                Err(Refusal::FilterNotAllowed)
            }
        }
    }
}

/// `dw/v1/{landlord or +}/{device or +}/up`: any set of uplink topics and nothing else.
fn is_uplink_filter(filter: &str) -> bool {
    let Some(rest) = filter.strip_prefix(PREFIX) else { return false };
    let parts: Vec<&str> = rest.split('/').collect();
    let segment_ok = |s: &str| s == "+" || dampwatch_wire::validate_device_id(s).is_ok();
    matches!(parts.as_slice(), [l, d, "up"] if segment_ok(l) && segment_ok(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Identity {
        Identity::Device { landlord: "acme".into(), device: "dev-1".into() }
    }
    fn collector() -> Identity {
        Identity::Service { name: "collector".into() }
    }

    #[test]
    fn device_is_confined_to_its_own_topics() {
        let d = device();
        assert_eq!(check_connect(&d, "dev-1", false), Ok(()));
        assert_eq!(check_connect(&d, "dev-2", false), Err(Refusal::ClientIdMismatch));
        assert_eq!(check_connect(&d, "dev-1", true), Err(Refusal::WillNotAllowed));
        assert_eq!(check_publish(&d, "dw/v1/acme/dev-1/up", 1, false), Ok(()));
        assert_eq!(check_publish(&d, "dw/v1/acme/dev-1/up", 2, false), Err(Refusal::Qos2));
        assert_eq!(check_publish(&d, "dw/v1/acme/dev-1/up", 1, true), Err(Refusal::TopicNotAllowed));
        assert_eq!(check_publish(&d, "dw/v1/acme/dev-2/up", 1, false), Err(Refusal::OtherDeviceTopic));
        assert_eq!(check_publish(&d, "dw/v1/other/dev-1/up", 1, false), Err(Refusal::OtherLandlordTopic));
        assert_eq!(check_publish(&d, "dw/v1/acme/dev-1/ack", 1, false), Err(Refusal::TopicNotAllowed));
        assert_eq!(check_publish(&d, "", 1, false), Err(Refusal::TopicNotAllowed));
        assert_eq!(check_subscribe(&d, "dw/v1/acme/dev-1/ack", 1), Ok(()));
        assert_eq!(check_subscribe(&d, "dw/v1/acme/dev-1/config", 0), Ok(()));
        assert_eq!(check_subscribe(&d, "#", 0), Err(Refusal::FilterNotAllowed));
        assert_eq!(check_subscribe(&d, "dw/v1/acme/+/ack", 0), Err(Refusal::FilterNotAllowed));
        assert_eq!(check_subscribe(&d, "dw/v1/acme/dev-2/ack", 0), Err(Refusal::OtherDeviceTopic));
        assert_eq!(check_subscribe(&d, "dw/v1/acme/dev-1/up", 0), Err(Refusal::FilterNotAllowed));
    }

    #[test]
    fn service_reads_uplinks_and_writes_downlinks() {
        let c = collector();
        assert_eq!(check_connect(&c, "collector", false), Ok(()));
        assert_eq!(check_connect(&c, "collector-2", false), Ok(()));
        assert_eq!(check_connect(&c, "collectorx", false), Err(Refusal::ClientIdMismatch));
        assert_eq!(check_subscribe(&c, "dw/v1/+/+/up", 1), Ok(()));
        assert_eq!(check_subscribe(&c, "$share/collectors/dw/v1/+/+/up", 1), Ok(()));
        assert_eq!(check_subscribe(&c, "$share//dw/v1/+/+/up", 1), Err(Refusal::FilterNotAllowed));
        assert_eq!(check_subscribe(&c, "dw/v1/#", 1), Err(Refusal::FilterNotAllowed));
        assert_eq!(check_subscribe(&c, "#", 1), Err(Refusal::FilterNotAllowed));
        assert_eq!(check_publish(&c, "dw/v1/acme/dev-1/ack", 1, false), Ok(()));
        assert_eq!(check_publish(&c, "dw/v1/acme/dev-1/config", 1, true), Ok(()));
        assert_eq!(check_publish(&c, "dw/v1/acme/dev-1/up", 1, false), Err(Refusal::TopicNotAllowed));
    }
}
