//! One simulated device without I/O: the real firmware core, the room it hangs in, and the
//! events of its scenario, driven by simulated time. The async task ([`crate::task`]) only
//! moves bytes between this and an MQTT connection, so everything here is tested without a
//! network.

use dampwatch_firmware::{CollectorKeys, Config, DeviceCore, Identity, IdentityError};

use crate::clock::SimClock;
pub use crate::firmware_device::UplinkSink;
use crate::firmware_device::{FirmwareDevice, Outbox};
use crate::homes::{home_for, Probes};
use crate::physics::{SimulatedRoom, Weather};
use crate::rng;
use crate::scenario::Scenario;
use crate::sensor;
use crate::timeline::Timeline;

/// Shortest real time between two rounds of uplinks from one device. At high speeds a device
/// samples many times a second; rather than one message per reading (which the gateway's
/// per-device rate limit, 10 a second by default, would refuse), readings accumulate and go in
/// batches, as they would after any delay.
pub const UPLINK_GAP_REAL_MS: f64 = 250.0;
/// How soon to retry an uplink the MQTT client's queue refused.
pub const HELD_RETRY_REAL_MS: f64 = 20.0;
/// The acknowledgement timeout is at least this much real time: a round trip through gateway,
/// broker, collector and database does not get faster when simulated time does.
pub const ACK_TIMEOUT_REAL_S: f64 = 5.0;

/// Everything needed to build one device.
#[derive(Debug, Clone)]
pub struct DeviceSetup {
    pub id: String,
    pub landlord: String,
    pub key_id: u32,
    pub signing_seed: [u8; 32],
    /// The collector's downlink public keys the device trusts (see [`crate::provision`]).
    pub collector_keys: CollectorKeys,
    pub boot: u32,
    /// The device's own scenario (not `Mixed`).
    pub scenario: Scenario,
}

/// A simulated device.
pub struct SimDevice {
    // Boxed: the core is about 11 KiB and devices are moved into tasks.
    core: Box<DeviceCore>,
    room: SimulatedRoom,
    probes: Probes,
    battery_mv: u32,
    seed: u64,
    timeline: Timeline,
    clock: SimClock,
    /// Simulated time of power-on: devices come up spread over one sample interval, so a fleet
    /// does not sample in lockstep.
    boot_at_ms: u64,
    next_uplink_ms: u64,
    outbox: Outbox,
}

impl SimDevice {
    pub fn new(setup: DeviceSetup, clock: SimClock) -> Result<SimDevice, IdentityError> {
        let identity = Identity::new(
            &setup.id,
            &setup.landlord,
            setup.key_id,
            setup.signing_seed,
            setup.collector_keys,
        )?;
        let config = device_config(clock.speed());
        let seed = rng::seed_of(&setup.id);
        let boot_at_ms = (rng::unit(seed, 0x626f_6f74, 0) * config.sample_interval_ms() as f64) as u64;
        let mut core = Box::new(DeviceCore::new(identity, setup.boot, config));
        // The simulator is the device's real-time clock: uptime 0 is the power-on moment.
        core.set_wall_clock(wall_u64(clock.wall_ms(boot_at_ms)), 0);
        let home = home_for(setup.scenario, seed);
        let room =
            SimulatedRoom::new(home.room, Weather::new(home.climate, seed), seed, clock.wall_ms(boot_at_ms));
        Ok(SimDevice {
            core,
            room,
            probes: home.probes,
            battery_mv: 2900 + (rng::unit(seed, 0x6261_7474, 0) * 300.0) as u32,
            seed,
            timeline: Timeline::for_scenario(setup.scenario, clock.span()),
            clock,
            boot_at_ms,
            next_uplink_ms: 0,
            outbox: Outbox::default(),
        })
    }

    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    fn uptime(&self, sim_ms: u64) -> u64 {
        sim_ms.saturating_sub(self.boot_at_ms)
    }

    fn sampling(&self, sim_ms: u64) -> bool {
        sim_ms < self.clock.sampling_end_sim_ms()
    }

    fn next_wake(&self, sim_ms: u64) -> u64 {
        let mut wake = self.boot_at_ms.saturating_add(self.core.next_wake_ms());
        if !self.outbox.is_empty() {
            wake = wake.min(sim_ms + self.clock.sim_duration_ms(real_ms(HELD_RETRY_REAL_MS)));
        }
        if self.core.is_connected() && self.next_uplink_ms > sim_ms {
            wake = wake.min(self.next_uplink_ms);
        }
        if self.sampling(sim_ms) {
            wake = wake.min(self.clock.sampling_end_sim_ms());
        }
        if let Some(change) = self.timeline.next_change_after(self.clock.wall_ms(sim_ms)) {
            wake = wake.min(self.clock.sim_ms_at_wall(change));
        }
        wake.max(sim_ms + 1)
    }
}

impl FirmwareDevice for SimDevice {
    fn core(&self) -> &DeviceCore {
        &self.core
    }

    /// Whether the device is powered and its network is up at `sim_ms`. Once sampling has
    /// ended every cut is over: the run only waits for queues to drain.
    fn wants_link(&self, sim_ms: u64) -> bool {
        sim_ms >= self.boot_at_ms
            && !(self.sampling(sim_ms) && self.timeline.network_cut_at(self.clock.wall_ms(sim_ms)))
    }

    /// Sampling is over and nothing is left to deliver.
    fn finished(&self, sim_ms: u64) -> bool {
        !self.sampling(sim_ms) && self.outbox.is_empty() && self.core.stats().queued == 0
    }

    /// The connection is up and the device is subscribed to its ack and config topics.
    fn link_up(&mut self, sim_ms: u64) {
        self.core.on_connected(self.uptime(sim_ms));
    }

    /// The connection is gone. An uplink the client had not taken is dropped: the core resends
    /// every unconfirmed reading after the next connect anyway.
    fn link_down(&mut self) {
        self.core.on_disconnected();
        self.outbox.clear();
    }

    /// A message on the ack topic. Unsigned, forged, malformed or stale acknowledgements are
    /// counted by the core and otherwise ignored.
    fn on_ack(&mut self, payload: &[u8], sim_ms: u64) {
        let _ = self.core.on_ack(payload, self.uptime(sim_ms));
    }

    /// A message on the config topic (refused by the core unless the collector signed it for
    /// this device and boot, with a counter above the last). A clock in it is overruled: in a simulation the
    /// simulated time is the truth, and a real-time stamp would throw the device's readings
    /// out of the simulated span.
    fn on_config(&mut self, payload: &[u8], sim_ms: u64) {
        let up = self.uptime(sim_ms);
        let _ = self.core.on_config(payload, up);
        self.core.set_wall_clock(wall_u64(self.clock.wall_ms(sim_ms)), up);
    }

    /// Does whatever is due at `sim_ms` (sample, send) and returns the simulated time at which
    /// it next needs to be called.
    fn tick(&mut self, sim_ms: u64, sink: &mut dyn UplinkSink) -> u64 {
        if sim_ms < self.boot_at_ms {
            return self.boot_at_ms;
        }
        let up = self.uptime(sim_ms);
        let wall = self.clock.wall_ms(sim_ms);
        if self.sampling(sim_ms) && self.core.sample_due(up) {
            if self.timeline.sensor_unplugged_at(wall) {
                self.core.record_missed(up);
            } else {
                self.room.advance_to(wall);
                self.core.record(sensor::read(&self.room, self.probes, self.battery_mv, self.seed), up);
            }
        }
        if self.core.is_connected()
            && sim_ms >= self.next_uplink_ms
            && self.outbox.send_due(&mut self.core, up, sink)
        {
            self.next_uplink_ms = sim_ms + self.clock.sim_duration_ms(real_ms(UPLINK_GAP_REAL_MS));
        }
        self.next_wake(sim_ms)
    }
}

/// The firmware settings for a run at `speed`: the defaults, except an acknowledgement timeout
/// of at least [`ACK_TIMEOUT_REAL_S`] real seconds (within the firmware's safe range).
pub fn device_config(speed: f64) -> Config {
    let default = Config::default();
    let wanted = (speed * ACK_TIMEOUT_REAL_S).round().clamp(1.0, 3600.0) as u32;
    let timeout = wanted.max(default.ack_timeout_s());
    default.with_ack_timeout_s(timeout).unwrap_or(default)
}

fn wall_u64(wall_ms: i64) -> u64 {
    u64::try_from(wall_ms).unwrap_or(0)
}

fn real_ms(ms: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(ms / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::time::{DAY_MS, MINUTE_MS};
    use dampwatch_firmware::CollectorKey;
    use dampwatch_proto::v1::{CommitAck, SignedUplink, Uplink};
    use dampwatch_proto::wire::DownlinkKind;
    use prost::Message;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    /// The collector's downlink key in these tests.
    const COLLECTOR_SEED: [u8; 32] = [0xC0; 32];

    fn collector() -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&COLLECTOR_SEED).unwrap()
    }
    use std::time::{Duration, Instant};

    #[derive(Default)]
    struct Recorder {
        uplinks: Vec<Vec<u8>>,
        refuse: bool,
    }

    impl UplinkSink for Recorder {
        fn try_send(&mut self, uplink: Vec<u8>) -> Result<(), Vec<u8>> {
            if self.refuse {
                return Err(uplink);
            }
            self.uplinks.push(uplink);
            Ok(())
        }
    }

    fn device(scenario: Scenario, clock: SimClock) -> SimDevice {
        let setup = DeviceSetup {
            id: "sim-00001".into(),
            landlord: "demo".into(),
            key_id: 1,
            signing_seed: [7; 32],
            collector_keys: CollectorKeys::new(&[CollectorKey {
                key_id: 1,
                public_key: collector().public_key().as_ref().try_into().unwrap(),
            }])
            .unwrap(),
            boot: 3,
            scenario,
        };
        SimDevice::new(setup, clock).unwrap()
    }

    /// One uplink as the collector sees it: (boot, first seq, last seq, sample times).
    fn decode(raw: &[u8]) -> (u32, Vec<u32>, Vec<i64>) {
        let env = SignedUplink::decode(raw).unwrap();
        let up = Uplink::decode(env.payload.as_slice()).unwrap();
        (
            up.boot,
            up.readings.iter().map(|r| r.seq).collect(),
            up.readings.iter().map(|r| r.time_ms as i64).collect(),
        )
    }

    /// What happened on the wire: (simulated time of sending, boot, seqs, sample times).
    type Sent = Vec<(i64, u32, Vec<u32>, Vec<i64>)>;

    /// Runs a device against a perfect network (every uplink committed at once) that is up
    /// whenever the device wants it, until it has finished.
    fn run_to_end(dev: &mut SimDevice, clock: SimClock) -> Sent {
        let mut sent = Sent::new();
        let (mut sim, mut connected) = (0u64, false);
        while !dev.finished(sim) {
            let want = dev.wants_link(sim);
            if want && !connected {
                dev.link_up(sim);
            } else if !want && connected {
                dev.link_down();
            }
            connected = want;
            let mut sink = Recorder::default();
            let wake = dev.tick(sim, &mut sink);
            for raw in sink.uplinks {
                let (boot, seqs, times) = decode(&raw);
                let ack = CommitAck { boot, seq: *seqs.last().unwrap() }.encode_to_vec();
                let signed =
                    dampwatch_proto::sign_downlink(DownlinkKind::Ack, dev.id(), &collector(), 1, ack);
                dev.on_ack(&signed.unwrap().encode_to_vec(), sim);
                sent.push((clock.wall_ms(sim), boot, seqs, times));
            }
            assert!(wake > sim);
            sim = wake;
            assert!(sim < clock.sampling_end_sim_ms() + DAY_MS as u64, "the device never finished");
        }
        sent
    }

    #[test]
    fn an_outage_sends_nothing_during_the_cut_then_everything_once() {
        let clock = SimClock::new(Instant::now(), 1_800_000_000_000, 7200.0, Duration::from_secs(30));
        let mut dev = device(Scenario::Outage, clock);
        let cut = dev.timeline().network_cut.unwrap();
        assert_eq!(cut.len_ms(), DAY_MS, "a 60-hour run cuts a whole day");
        let sent = run_to_end(&mut dev, clock);

        assert!(sent.iter().all(|(at, ..)| !cut.contains(*at)), "nothing is published during the cut");
        let seqs: Vec<u32> = sent.iter().flat_map(|s| s.2.clone()).collect();
        let stats = dev.stats();
        assert_eq!(seqs, (1..=stats.recorded).collect::<Vec<_>>(), "every reading once, in order");
        assert_eq!(
            (stats.sent, stats.acked, stats.queued, stats.dropped),
            (stats.recorded, stats.recorded, 0, 0)
        );
        assert!(sent.iter().all(|s| s.1 == 3), "numbered in the device's boot");

        // The day's readings were sampled during the cut and arrive in a burst after it.
        let in_cut: Vec<i64> = sent.iter().flat_map(|s| s.3.clone()).filter(|t| cut.contains(*t)).collect();
        assert!((143..=145).contains(&in_cut.len()), "{} readings sampled during the cut", in_cut.len());
        let first_after = sent.iter().find(|s| s.0 >= cut.to_ms).unwrap();
        assert!(first_after.0 - cut.to_ms < 10 * MINUTE_MS, "sent as soon as the network is back");
        assert!(first_after.2.len() > 30, "the backlog goes in full batches");
    }

    #[test]
    fn an_unplugged_sensor_leaves_a_counted_gap() {
        let clock = SimClock::new(Instant::now(), 1_800_000_000_000, 7200.0, Duration::from_secs(90));
        let mut dev = device(Scenario::Offline, clock);
        let gap = dev.timeline().sensor_unplugged.unwrap();
        assert_eq!(gap.len_ms(), 3 * DAY_MS);
        let sent = run_to_end(&mut dev, clock);
        let times: Vec<i64> = sent.iter().flat_map(|s| s.3.clone()).collect();
        assert!(times.iter().all(|t| !gap.contains(*t)), "no readings while unplugged");
        assert!(times.iter().any(|t| *t < gap.from_ms) && times.iter().any(|t| *t >= gap.to_ms));
        assert!((431..=433).contains(&dev.stats().sensor_failed), "{}", dev.stats().sensor_failed);
    }

    #[test]
    fn readings_are_dated_inside_the_simulated_span() {
        let clock = SimClock::new(Instant::now(), 1_800_000_000_000, 600.0, Duration::from_secs(10));
        let mut dev = device(Scenario::Healthy, clock);
        let sent = run_to_end(&mut dev, clock);
        let times: Vec<i64> = sent.iter().flat_map(|s| s.3.clone()).collect();
        assert!((9..=10).contains(&times.len()), "100 simulated minutes: {} readings", times.len());
        assert!(times.iter().all(|t| clock.span().contains(*t)));
    }

    #[test]
    fn a_full_client_queue_holds_the_uplink_until_it_has_room() {
        let clock = SimClock::new(Instant::now(), 1_800_000_000_000, 600.0, Duration::from_secs(60));
        let mut dev = device(Scenario::Healthy, clock);
        let boot = dev.boot_at_ms;
        dev.link_up(boot);
        let mut full = Recorder { refuse: true, ..Recorder::default() };
        let wake = dev.tick(boot, &mut full);
        assert!(!dev.outbox.is_empty());
        assert!(wake - boot <= 20 * 600, "retried within 20 real ms");
        let mut open = Recorder::default();
        dev.tick(wake, &mut open);
        assert_eq!(open.uplinks.len(), 1);
        assert_eq!(decode(&open.uplinks[0]).1, vec![1]);
        assert_eq!(dev.stats().resent, 0, "holding is not resending");
    }

    #[test]
    fn the_ack_timeout_never_drops_below_a_few_real_seconds() {
        assert_eq!(device_config(1.0).ack_timeout_s(), 300);
        assert_eq!(device_config(600.0).ack_timeout_s(), 3000);
        assert_eq!(device_config(100_000.0).ack_timeout_s(), 3600);
        assert_eq!(device_config(600.0).sample_interval_s(), 600);
    }
}
