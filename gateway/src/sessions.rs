//! The devices connected to this gateway, by `landlord/device`, and the last configuration
//! message of each device.
//!
//! One connection per device: MQTT says a new connection with the same client id replaces the
//! old one, and the gateway holds device sessions itself, so it does the replacing. Downlinks
//! from the broker are routed here by topic; the key is the middle of the topic
//! (`dw/v1/{landlord}/{device}/ack`), so routing allocates nothing.

use crate::mailbox::{Downlink, End, Event, Mailbox};
use dampwatch_wire::topic::{Topic, TopicKind, PREFIX};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Connected devices and remembered configurations.
pub struct DeviceSessions {
    live: Mutex<HashMap<String, Arc<Mailbox>>>,
    configs: Mutex<HashMap<String, Downlink>>,
    max_configs: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `landlord/device` part of a device topic.
pub fn key_of<'a>(topic: &'a str, parsed: &Topic<'_>) -> &'a str {
    let end = topic.len() - parsed.kind.as_str().len() - 1;
    &topic[PREFIX.len()..end]
}

/// What happened to a downlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// The device is not connected here.
    NotConnected,
    /// The device's queue is full.
    Dropped,
}

impl DeviceSessions {
    /// `max_configs` bounds the remembered configurations (one per device that has one).
    pub fn new(max_configs: usize) -> Self {
        DeviceSessions { live: Mutex::default(), configs: Mutex::default(), max_configs }
    }

    /// Registers a device's new connection and closes the one it replaces, if any; returns
    /// true when it replaced one.
    pub fn attach(&self, key: &str, mailbox: Arc<Mailbox>) -> bool {
        let old = lock(&self.live).insert(key.to_owned(), mailbox);
        if let Some(old) = &old {
            old.close(End::TakenOver);
        }
        old.is_some()
    }

    /// Forgets a connection, unless a newer one of the same device has replaced it.
    pub fn detach(&self, key: &str, mailbox: &Arc<Mailbox>) {
        let mut live = lock(&self.live);
        if live.get(key).is_some_and(|m| Arc::ptr_eq(m, mailbox)) {
            live.remove(key);
        }
    }

    /// Devices connected now.
    pub fn len(&self) -> usize {
        lock(&self.live).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Routes a downlink from the broker to the device's connection, remembering the latest
    /// configuration for devices that subscribe later (the collector publishes configuration
    /// retained, but the broker clears the retain flag on live deliveries, so the gateway keeps
    /// the last one itself; an empty payload clears it, as for retained messages).
    pub fn deliver(&self, key: &str, downlink: Downlink) -> Delivery {
        if downlink.kind == TopicKind::Config {
            let mut configs = lock(&self.configs);
            if downlink.payload.is_empty() {
                configs.remove(key);
            } else if configs.len() < self.max_configs || configs.contains_key(key) {
                configs.insert(key.to_owned(), Downlink { retain: true, ..downlink.clone() });
            }
        }
        let Some(mailbox) = lock(&self.live).get(key).cloned() else { return Delivery::NotConnected };
        if mailbox.push(Event::Downlink(downlink)) {
            Delivery::Queued
        } else {
            Delivery::Dropped
        }
    }

    /// The remembered configuration of a device, marked retained.
    pub fn config(&self, key: &str) -> Option<Downlink> {
        lock(&self.configs).get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::collections::VecDeque;

    fn config(payload: &'static [u8]) -> Downlink {
        Downlink {
            kind: TopicKind::Config,
            topic: Bytes::from_static(b"dw/v1/acme/d1/config"),
            payload: Bytes::from_static(payload),
            qos: 1,
            retain: false,
        }
    }

    #[test]
    fn keys_are_the_middle_of_the_topic() {
        let t = "dw/v1/acme/dev-1/config";
        assert_eq!(key_of(t, &Topic::parse(t).unwrap()), "acme/dev-1");
    }

    #[test]
    fn a_new_connection_replaces_the_old_and_the_old_cannot_detach_it() {
        let s = DeviceSessions::new(10);
        let (a, b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
        assert!(!s.attach("acme/d1", a.clone()));
        assert!(s.attach("acme/d1", b.clone()));
        assert_eq!(a.take(&mut VecDeque::new()), Some(End::TakenOver));
        s.detach("acme/d1", &a);
        assert_eq!(s.len(), 1);
        s.detach("acme/d1", &b);
        assert!(s.is_empty());
    }

    #[test]
    fn the_last_configuration_is_remembered_until_cleared() {
        let s = DeviceSessions::new(1);
        assert_eq!(s.deliver("acme/d1", config(b"v1")), Delivery::NotConnected);
        assert_eq!(s.deliver("acme/d1", config(b"v2")), Delivery::NotConnected);
        let c = s.config("acme/d1").unwrap();
        assert_eq!((&c.payload[..], c.retain), (&b"v2"[..], true));
        s.deliver("acme/d2", config(b"x"));
        assert!(s.config("acme/d2").is_none(), "bounded");
        s.deliver("acme/d1", config(b""));
        assert!(s.config("acme/d1").is_none());
        let m = Arc::new(Mailbox::default());
        s.attach("acme/d1", m.clone());
        assert_eq!(s.deliver("acme/d1", config(b"v3")), Delivery::Queued);
    }
}
