//! The network as the driver loop ([`crate::Firmware`]) sees it. A microcontroller plugs in a
//! no_std MQTT client (over TLS with the device certificate). On a host, rumqttc plugs in:
//! `dampwatch_sim::blocking_transport::MqttTransport` implements this trait over rumqttc's
//! blocking client, with the device's mutual-TLS credentials, so the very same driver loop runs
//! against a real gateway. The simulator's fleet does not use this trait: it drives
//! [`crate::DeviceCore`] directly from async rumqttc, one tokio task per device, to run
//! thousands of devices in one process.

use crate::device::TopicString;

/// One message received on a subscribed topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub topic: TopicString,
    /// Full length of the payload. If it is larger than the buffer passed to
    /// [`Transport::poll`], the payload was cut and the message is ignored.
    pub len: usize,
}

/// A message transport with at-least-once delivery (MQTT QoS 1).
pub trait Transport {
    type Error: core::fmt::Debug;

    /// Connects and subscribes to `subscriptions` (the device's ack and config topics).
    fn connect(&mut self, subscriptions: &[&str]) -> Result<(), Self::Error>;

    /// Publishes `payload` on `topic` with at-least-once delivery.
    fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), Self::Error>;

    /// Returns the next received message, if any, with its payload copied into `payload`.
    /// Never blocks. An error means the connection is lost.
    fn poll(&mut self, payload: &mut [u8]) -> Result<Option<Inbound>, Self::Error>;
}
