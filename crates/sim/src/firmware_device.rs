//! What the MQTT driver ([`crate::task`]) needs of a device: the firmware core plus whatever
//! feeds it readings, driven by simulated time and without I/O. Two kinds exist: a device in a
//! simulated room ([`crate::device::SimDevice`], the demo and the scenarios) and a load
//! device that records synthetic readings at a fixed rate (`dampwatch bench`, the fault
//! tests). Both go through the one driver, so connecting, subscribing, back-off, pacing and
//! holding an uplink the client could not take behave the same in every use.

use dampwatch_firmware::{DeviceCore, Stats, TopicString, UPLINK_BUFFER_LEN};

/// Where sealed uplinks go: the MQTT client's request queue, or a test's list.
pub trait UplinkSink {
    /// Hands one uplink over, or gives it back when the queue is full (try again later).
    fn try_send(&mut self, uplink: Vec<u8>) -> Result<(), Vec<u8>>;
}

/// One device as the driver sees it. Times are simulated milliseconds since the run's clock
/// started (see [`crate::clock::SimClock`]).
pub trait FirmwareDevice: Send + 'static {
    /// The firmware core inside: identity, topics, counters and link state come from it.
    fn core(&self) -> &DeviceCore;
    /// The device id, also its MQTT client id.
    fn id(&self) -> &str {
        self.core().identity().device_id()
    }
    fn uplink_topic(&self) -> TopicString {
        self.core().uplink_topic()
    }
    fn ack_topic(&self) -> TopicString {
        self.core().ack_topic()
    }
    fn config_topic(&self) -> TopicString {
        self.core().config_topic()
    }
    /// The firmware core's counters.
    fn stats(&self) -> Stats {
        self.core().stats()
    }
    /// Whether the core believes its link is up (connected and subscribed).
    fn is_connected(&self) -> bool {
        self.core().is_connected()
    }
    /// Whether the device is powered and its network up at `sim_ms`.
    fn wants_link(&self, sim_ms: u64) -> bool;
    /// Nothing more to record and nothing left to deliver.
    fn finished(&self, sim_ms: u64) -> bool;
    /// The connection is up and the device is subscribed to its ack and config topics.
    fn link_up(&mut self, sim_ms: u64);
    /// The connection is gone.
    fn link_down(&mut self);
    /// A message on the ack topic (the core refuses and counts anything not signed for it).
    fn on_ack(&mut self, payload: &[u8], sim_ms: u64);
    /// A message on the config topic.
    fn on_config(&mut self, payload: &[u8], sim_ms: u64);
    /// Does whatever is due at `sim_ms` (record, send) and returns the simulated time at which
    /// it next needs to be called.
    fn tick(&mut self, sim_ms: u64, sink: &mut dyn UplinkSink) -> u64;
}

/// At most one sealed uplink the MQTT client could not take yet. The core has already counted
/// it as sent; it goes before anything newer, so uplinks leave in the order they were sealed.
#[derive(Debug, Default)]
pub struct Outbox {
    held: Option<Vec<u8>>,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.held.is_none()
    }

    /// Forgets the held uplink (the link went down): the core resends every unconfirmed
    /// reading after the next connect anyway.
    pub fn clear(&mut self) {
        self.held = None;
    }

    /// Hands the held uplink, then every uplink `core` has due at uptime `up`, to `sink`;
    /// true if any went.
    pub fn send_due(&mut self, core: &mut DeviceCore, up: u64, sink: &mut dyn UplinkSink) -> bool {
        let mut sent = false;
        if let Some(held) = self.held.take() {
            match sink.try_send(held) {
                Ok(()) => sent = true,
                Err(back) => {
                    self.held = Some(back);
                    return false;
                }
            }
        }
        let mut buf = [0u8; UPLINK_BUFFER_LEN];
        while let Some(n) = core.poll_uplink(up, &mut buf) {
            match sink.try_send(buf[..n].to_vec()) {
                Ok(()) => sent = true,
                Err(back) => {
                    self.held = Some(back);
                    break;
                }
            }
        }
        sent
    }
}
