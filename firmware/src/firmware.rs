//! The driver loop for a microcontroller: the core plus a sensor and a transport. Each call to
//! [`Firmware::step`] does what is due and returns; the caller sleeps until
//! [`Firmware::next_wake_ms`] or until the radio has something.

use crate::boot::{next_boot, BootError, BootStorage};
use crate::clock::Clock;
use crate::config::Config;
use crate::device::DeviceCore;
use crate::identity::Identity;
use crate::sensor::Sensor;
use crate::transport::Transport;
use crate::uplink::{UplinkBuffer, UPLINK_BUFFER_LEN};

/// Largest downlink accepted: a `SignedDownlink` at its widest fits (checked in `proto.rs`).
pub const INBOUND_CAPACITY: usize = dampwatch_wire::downlink::MAX_DOWNLINK_BYTES;
/// Wait between connection attempts, so a dead network does not drain the battery.
pub const RECONNECT_BACKOFF_MS: u64 = 30_000;
/// Downlink messages handled per step, so a flood cannot starve sampling.
pub const MAX_INBOUND_PER_STEP: usize = 8;

/// Network counters of the driver loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    pub connects: u32,
    pub connect_failures: u32,
    pub publish_failures: u32,
    /// Messages on unknown topics or larger than the inbound buffer.
    pub inbound_ignored: u32,
}

pub struct Firmware<S, T> {
    core: DeviceCore,
    sensor: S,
    transport: T,
    out: UplinkBuffer,
    inbound: [u8; INBOUND_CAPACITY],
    reconnect_at_ms: u64,
    link: LinkStats,
}

impl<S: Sensor, T: Transport> Firmware<S, T> {
    /// Starts a boot: increments and persists the boot counter first, so that no reading can
    /// be numbered with a boot number that was not stored.
    pub fn start<B: BootStorage>(
        identity: Identity,
        config: Config,
        storage: &mut B,
        sensor: S,
        transport: T,
    ) -> Result<Self, BootError<B::Error>> {
        let boot = next_boot(storage)?;
        let mut sensor = sensor;
        sensor.power_up();
        Ok(Firmware {
            core: DeviceCore::new(identity, boot, config),
            sensor,
            transport,
            out: [0; UPLINK_BUFFER_LEN],
            inbound: [0; INBOUND_CAPACITY],
            reconnect_at_ms: 0,
            link: LinkStats::default(),
        })
    }

    pub fn core(&self) -> &DeviceCore {
        &self.core
    }

    pub fn core_mut(&mut self) -> &mut DeviceCore {
        &mut self.core
    }

    pub fn sensor(&self) -> &S {
        &self.sensor
    }

    pub fn sensor_mut(&mut self) -> &mut S {
        &mut self.sensor
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    pub fn link_stats(&self) -> LinkStats {
        self.link
    }

    /// [`Self::step`] at the clock's current time.
    pub fn run_once<C: Clock>(&mut self, clock: &C) -> u64 {
        self.step(clock.now_ms())
    }

    /// Does everything due at uptime `now_ms`: sample, (re)connect, handle downlinks, publish.
    /// Returns the uptime at which to call again.
    pub fn step(&mut self, now_ms: u64) -> u64 {
        if self.core.sample_due(now_ms) {
            match self.sensor.sample() {
                Ok(sample) => {
                    self.core.record(sample, now_ms);
                }
                Err(_) => self.core.record_missed(now_ms),
            }
        }
        if !self.core.is_connected() && now_ms >= self.reconnect_at_ms {
            self.connect(now_ms);
        }
        if self.core.is_connected() {
            self.receive(now_ms);
        }
        if self.core.is_connected() {
            self.publish_due(now_ms);
        }
        self.next_wake_ms()
    }

    /// Uptime of the next sample, acknowledgement deadline or reconnection attempt.
    pub fn next_wake_ms(&self) -> u64 {
        let wake = self.core.next_wake_ms();
        if self.core.is_connected() {
            wake
        } else {
            wake.min(self.reconnect_at_ms)
        }
    }

    fn connect(&mut self, now_ms: u64) {
        let ack = self.core.ack_topic();
        let config = self.core.config_topic();
        match self.transport.connect(&[ack.as_str(), config.as_str()]) {
            Ok(()) => {
                self.link.connects = self.link.connects.saturating_add(1);
                self.core.on_connected(now_ms);
            }
            Err(_) => {
                self.link.connect_failures = self.link.connect_failures.saturating_add(1);
                self.reconnect_at_ms = now_ms.saturating_add(RECONNECT_BACKOFF_MS);
            }
        }
    }

    fn lost_connection(&mut self, now_ms: u64) {
        self.core.on_disconnected();
        self.reconnect_at_ms = now_ms;
    }

    fn receive(&mut self, now_ms: u64) {
        let ack_topic = self.core.ack_topic();
        let config_topic = self.core.config_topic();
        for _ in 0..MAX_INBOUND_PER_STEP {
            let msg = match self.transport.poll(&mut self.inbound) {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(_) => return self.lost_connection(now_ms),
            };
            let Some(payload) = self.inbound.get(..msg.len) else {
                self.link.inbound_ignored = self.link.inbound_ignored.saturating_add(1);
                continue;
            };
            // Malformed downlinks are counted in the core's stats; nothing else to do here.
            if msg.topic == ack_topic {
                let _ = self.core.on_ack(payload, now_ms);
            } else if msg.topic == config_topic {
                let _ = self.core.on_config(payload, now_ms);
            } else {
                self.link.inbound_ignored = self.link.inbound_ignored.saturating_add(1);
            }
        }
    }

    fn publish_due(&mut self, now_ms: u64) {
        let topic = self.core.uplink_topic();
        while let Some(len) = self.core.poll_uplink(now_ms, &mut self.out) {
            if self.transport.publish(&topic, &self.out[..len]).is_err() {
                // The batch counts as published; it stays queued and is resent on reconnect.
                self.link.publish_failures = self.link.publish_failures.saturating_add(1);
                return self.lost_connection(now_ms);
            }
        }
    }
}
