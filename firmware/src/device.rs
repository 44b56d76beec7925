//! The sans-IO device core: numbering, store and forward, signing, acknowledgements and
//! configuration, driven entirely by calls with the current uptime. It never blocks, sleeps or
//! touches hardware, so a microcontroller loop ([`crate::Firmware`]) and an async host
//! simulator drive the very same code.

use dampwatch_wire::downlink::DownlinkKind;
use dampwatch_wire::ids::MAX_ID_LEN;
use dampwatch_wire::topic::{Topic, TopicKind, PREFIX};

use crate::ack::{AckOutcome, Delivery};
use crate::clock::WallClock;
use crate::config::{self, Config, ConfigReport};
use crate::downlink::{self, Refusal};
use crate::identity::{Identity, Signer};
use crate::proto::{CommitAck, DeviceConfig, SignedUplink, Uplink};
use crate::queue::ReadingQueue;
use crate::reading::StoredReading;
use crate::sample::{status, Sample};
use crate::stats::Stats;
use crate::uplink::{self, BatchHeader, UplinkBuffer};

/// Longest device topic: `dw/v1/{landlord}/{device}/config`.
pub const TOPIC_CAPACITY: usize = PREFIX.len() + MAX_ID_LEN + 1 + MAX_ID_LEN + 1 + "config".len();

/// A device topic.
pub type TopicString = heapless::String<TOPIC_CAPACITY>;

/// Why a downlink message was refused. Each is counted in [`Stats`] and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DownlinkError {
    #[error("downlink message does not decode")]
    Malformed,
    #[error("downlink message is not signed")]
    Unsigned,
    #[error("downlink message is signed by unknown collector key {0}")]
    UnknownKey(u32),
    #[error("downlink signature does not verify for this device")]
    BadSignature,
    #[error("configuration is for boot {0}, not this one")]
    OtherBoot(u32),
    #[error("configuration counter {0} is not above the last applied")]
    Replayed(u32),
}

/// One boot of one device. See the crate docs for its memory footprint.
pub struct DeviceCore {
    identity: Identity,
    signer: Signer,
    boot: u32,
    config: Config,
    next_seq: u32,
    queue: ReadingQueue,
    delivery: Delivery,
    connected: bool,
    next_sample_ms: u64,
    last_sample_ms: Option<u64>,
    wall: WallClock,
    stats: Stats,
    /// Counter of the last configuration applied (0: none yet). Not persisted: every
    /// configuration is bound to the boot, and the boot counter is.
    config_counter: u32,
    // Scratch space for sealing one uplink, kept here rather than on the stack so the memory
    // the core needs is fixed and visible in `size_of::<DeviceCore>()`.
    uplink: Uplink,
    envelope: SignedUplink,
}

impl DeviceCore {
    /// Starts a boot. `boot` must come from [`crate::next_boot`] (or an equivalent persisted
    /// counter), so that `(boot, seq)` never repeats. The first sample is due at once.
    pub fn new(identity: Identity, boot: u32, config: Config) -> Self {
        DeviceCore {
            signer: Signer::from(&identity),
            identity,
            boot,
            config,
            next_seq: 1,
            queue: ReadingQueue::new(),
            delivery: Delivery::new(),
            connected: false,
            next_sample_ms: 0,
            last_sample_ms: None,
            wall: WallClock::default(),
            stats: Stats { boot, ..Stats::default() },
            config_counter: 0,
            uplink: Uplink::default(),
            envelope: SignedUplink::default(),
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn boot(&self) -> u32 {
        self.boot
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Ed25519 public key the collector must hold for this device.
    pub fn public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    /// Where uplinks are published.
    pub fn uplink_topic(&self) -> TopicString {
        self.topic(TopicKind::Up)
    }

    /// Where commit acknowledgements arrive (subscribe to it).
    pub fn ack_topic(&self) -> TopicString {
        self.topic(TopicKind::Ack)
    }

    /// Where the configuration arrives (subscribe to it; the collector retains it).
    pub fn config_topic(&self) -> TopicString {
        self.topic(TopicKind::Config)
    }

    fn topic(&self, kind: TopicKind) -> TopicString {
        let mut s = TopicString::new();
        let topic = Topic { landlord: self.identity.landlord_id(), device: self.identity.device_id(), kind };
        // Cannot fail: the ids are validated and TOPIC_CAPACITY holds the longest topic.
        let _ = topic.write_to(&mut s);
        s
    }

    /// Whether a sample is due at uptime `now_ms`.
    pub fn sample_due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_sample_ms
    }

    /// Uptime at which the next sample is due.
    pub fn next_sample_ms(&self) -> u64 {
        self.next_sample_ms
    }

    /// Uptime at which the core next needs attention: the next sample or, while connected, the
    /// acknowledgement deadline. A device may sleep until then (or until a message arrives).
    pub fn next_wake_ms(&self) -> u64 {
        match self.delivery.ack_deadline_ms {
            Some(d) if self.connected => d.min(self.next_sample_ms),
            _ => self.next_sample_ms,
        }
    }

    /// Wall-clock time at uptime `now_ms`, once the clock has been set.
    pub fn wall_clock_ms(&self, now_ms: u64) -> Option<u64> {
        self.wall.at(now_ms)
    }

    /// Sets the wall clock (from a real-time clock, or by the simulator). The configuration
    /// downlink does the same through its `time_ms` field.
    pub fn set_wall_clock(&mut self, wall_ms: u64, now_ms: u64) {
        self.wall.set(wall_ms, now_ms);
    }

    /// Numbers and queues a sample taken at uptime `now_ms`, and schedules the next one.
    /// Returns its sequence number. If the queue is full the oldest reading is dropped and
    /// counted. `None` only when this boot has used every sequence number (after 2^32 - 1
    /// readings): the device must then reboot, since numbers are never reused.
    pub fn record(&mut self, sample: Sample, now_ms: u64) -> Option<u32> {
        self.schedule_next_sample(now_ms);
        let seq = self.next_seq;
        if seq == u32::MAX {
            self.stats.sensor_failed = self.stats.sensor_failed.saturating_add(1);
            return None;
        }
        let (time_ms, extra) = match self.wall.at(now_ms) {
            Some(wall) => (wall, 0),
            None => (now_ms, status::CLOCK_UNSET),
        };
        let reading = StoredReading::from_sample(&sample, seq, time_ms, extra);
        if self.queue.push(reading).is_some() {
            self.stats.dropped = self.stats.dropped.saturating_add(1);
        }
        self.next_seq = seq + 1;
        self.stats.recorded = self.stats.recorded.saturating_add(1);
        Some(seq)
    }

    /// Notes a sample time at which no reading could be made at all; reported in the next
    /// uplink as `dropped.sensor_failed`. Uses no sequence number.
    pub fn record_missed(&mut self, now_ms: u64) {
        self.schedule_next_sample(now_ms);
        self.stats.sensor_failed = self.stats.sensor_failed.saturating_add(1);
    }

    fn schedule_next_sample(&mut self, now_ms: u64) {
        self.last_sample_ms = Some(now_ms);
        self.next_sample_ms = now_ms.saturating_add(self.config.sample_interval_ms());
    }

    /// Lowest sequence number of this boot still held unconfirmed.
    fn floor_seq(&self) -> u32 {
        self.queue.front().map_or(self.next_seq, |r| r.seq)
    }

    /// Seals the next due batch into `out` and returns its length, or `None` when nothing is
    /// due. Due means: readings not yet published since the last (re)connect, or, once the
    /// acknowledgement timeout has passed, every unconfirmed reading again. Call it until it
    /// returns `None` and publish each result on [`Self::uplink_topic`]. Nothing is due while
    /// disconnected.
    pub fn poll_uplink(&mut self, now_ms: u64, out: &mut UplinkBuffer) -> Option<usize> {
        if !self.connected {
            return None;
        }
        if self.delivery.timed_out(now_ms) {
            self.delivery.rewind(self.floor_seq());
        }
        let from = self.delivery.next_to_send;
        let header = BatchHeader {
            boot: self.boot,
            floor_seq: self.floor_seq(),
            dropped_queue_full: self.stats.dropped,
            sensor_failed: self.stats.sensor_failed,
        };
        let pending = self.queue.iter().skip_while(|r| r.seq < from);
        let max = self.config.max_batch() as usize;
        let taken = uplink::fill(&mut self.uplink, self.identity.device_id(), header, pending, max).ok()?;
        let last = self.uplink.readings.last()?.seq;
        // Sealing cannot fail for a batch `fill` built (capacities are checked at compile
        // time); were it to, nothing is marked published and the batch stays due.
        let len =
            uplink::seal(&self.signer, self.identity.key_id(), &self.uplink, &mut self.envelope, out).ok()?;

        let resent = self.uplink.readings.iter().filter(|r| r.seq <= self.delivery.sent_upto).count() as u32;
        self.stats.resent = self.stats.resent.saturating_add(resent);
        self.stats.sent = self.stats.sent.saturating_add(taken as u32 - resent);
        self.stats.uplinks = self.stats.uplinks.saturating_add(1);
        self.delivery.published(last, now_ms, self.config.ack_timeout_ms());
        Some(len)
    }

    /// Handles a message from the ack topic: a `SignedDownlink` carrying a `CommitAck`. Nothing
    /// leaves the queue unless the collector's signature verifies for this device, and the
    /// acknowledgement is for this boot, above the confirmed position (else stale: a duplicate
    /// or a replay) and within what was sent.
    pub fn on_ack(&mut self, payload: &[u8], now_ms: u64) -> Result<AckOutcome, DownlinkError> {
        let mut ack = CommitAck::default();
        self.open(DownlinkKind::Ack, payload, &mut ack)?;
        match self.delivery.judge(self.boot, &ack) {
            Err(ignored) => {
                self.stats.acks_ignored = self.stats.acks_ignored.saturating_add(1);
                Ok(ignored)
            }
            Ok(seq) => {
                let released = self.queue.release_through(seq);
                self.delivery.confirm(seq, now_ms, self.config.ack_timeout_ms());
                self.stats.acked = self.stats.acked.saturating_add(released);
                self.stats.acks_applied = self.stats.acks_applied.saturating_add(1);
                self.stats.confirmed_seq = seq;
                Ok(AckOutcome::Confirmed { seq, released })
            }
        }
    }

    /// Handles a message from the config topic: a `SignedDownlink` carrying a `DeviceConfig`.
    /// Refused unless the collector's signature verifies for this device, the configuration is
    /// for this boot and its counter is above the last applied. Then applies every field within
    /// its safe range, ignores and counts the others, and sets the wall clock if `time_ms` is
    /// given (unless it would turn an already set clock back by more than
    /// `CLOCK_MAX_STEP_BACK_MS`).
    pub fn on_config(&mut self, payload: &[u8], now_ms: u64) -> Result<ConfigReport, DownlinkError> {
        let mut downlink = DeviceConfig::default();
        self.open(DownlinkKind::Config, payload, &mut downlink)?;
        if downlink.boot != self.boot {
            self.stats.configs_other_boot = self.stats.configs_other_boot.saturating_add(1);
            return Err(DownlinkError::OtherBoot(downlink.boot));
        }
        if downlink.counter <= self.config_counter {
            self.stats.configs_replayed = self.stats.configs_replayed.saturating_add(1);
            return Err(DownlinkError::Replayed(downlink.counter));
        }
        self.config_counter = downlink.counter;
        let before = self.config;
        let mut report = config::apply(&mut self.config, &downlink);
        if let Some(wall_ms) = report.clock_ms {
            let current = self.wall.at(now_ms);
            if current.is_some_and(|c| wall_ms.saturating_add(config::CLOCK_MAX_STEP_BACK_MS) < c) {
                report.clock_ms = None;
                report.applied -= 1;
                report.rejected += 1;
            } else {
                self.wall.set(wall_ms, now_ms);
            }
        }
        if self.config.sample_interval_s() != before.sample_interval_s() {
            if let Some(last) = self.last_sample_ms {
                self.next_sample_ms = last.saturating_add(self.config.sample_interval_ms());
            }
        }
        self.stats.config_applied = self.stats.config_applied.saturating_add(u32::from(report.applied));
        self.stats.config_rejected = self.stats.config_rejected.saturating_add(u32::from(report.rejected));
        Ok(report)
    }

    /// Verifies a signed downlink of `kind` and decodes its payload into `message`, counting a
    /// refusal.
    fn open<M: micropb::MessageDecode>(
        &mut self,
        kind: DownlinkKind,
        bytes: &[u8],
        message: &mut M,
    ) -> Result<(), DownlinkError> {
        let keys = self.identity.collector_keys();
        let refusal = match downlink::open(kind, keys, self.identity.device_id(), bytes, message) {
            Ok(()) => return Ok(()),
            Err(refusal) => refusal,
        };
        let s = &mut self.stats;
        let (counter, error) = match refusal {
            Refusal::Malformed => (&mut s.malformed_downlinks, DownlinkError::Malformed),
            Refusal::Unsigned => (&mut s.downlinks_unsigned, DownlinkError::Unsigned),
            Refusal::UnknownKey(id) => (&mut s.downlinks_unknown_key, DownlinkError::UnknownKey(id)),
            Refusal::BadSignature => (&mut s.downlinks_bad_signature, DownlinkError::BadSignature),
        };
        *counter = counter.saturating_add(1);
        Err(error)
    }

    /// The transport is connected (and subscribed): every unconfirmed reading is due again,
    /// since acknowledgements may have been lost with the old connection.
    pub fn on_connected(&mut self, _now_ms: u64) {
        self.connected = true;
        self.delivery.rewind(self.floor_seq());
    }

    /// The transport lost its connection: nothing is due until it is back.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
        self.delivery.ack_deadline_ms = None;
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn stats(&self) -> Stats {
        Stats { queued: self.queue.len() as u32, config_counter: self.config_counter, ..self.stats }
    }

    /// The queued readings, oldest first (for diagnostics and tests).
    pub fn queued(&self) -> impl Iterator<Item = &StoredReading> + '_ {
        self.queue.iter()
    }
}
