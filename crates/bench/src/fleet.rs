//! Load devices for the ingest benchmark and the whole-stack tests: each runs the real firmware
//! core (`DeviceCore`: numbering, store and forward, Ed25519 signing, commit acknowledgements)
//! and records synthetic readings at a fixed rate, or as fast as its queue allows. They are
//! driven over mutual-TLS MQTT by the simulator's one device driver
//! ([`dampwatch_sim::task::run_device`]), so they connect, subscribe, back off, reconnect and
//! resend exactly as the simulated homes do.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dampwatch_firmware::{
    AckOutcome, Config as DeviceConfig, DeviceCore, Identity, Sample, Stats, QUEUE_CAPACITY,
};
use dampwatch_sim::clock::SimClock;
use dampwatch_sim::firmware_device::{FirmwareDevice, Outbox, UplinkSink};
use dampwatch_sim::link::GatewayAddr;
use dampwatch_sim::pacer::ConnectPacer;
use dampwatch_sim::task::{run_device, Shared};
use dampwatch_sim::totals::Totals;
use rumqttc::{AsyncClient, MqttOptions, TlsConfiguration, Transport};
use tokio_util::sync::CancellationToken;

pub use dampwatch_stack::DeviceSpec;

/// What every device of a fleet does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Readings to record in total.
    pub readings: u32,
    /// Readings per second; `None`: as fast as the queue allows (never dropping one).
    pub rate: Option<f64>,
    /// An uplink is sealed once this many readings wait, or after `linger`.
    pub batch: u32,
    pub linger: Duration,
    /// Seconds without a commit acknowledgement before the device resends (10 at least).
    pub ack_timeout_s: u32,
    /// The gateway's port on 127.0.0.1.
    pub port: u16,
    /// New connections a second, fleet-wide (a burst of as many is allowed): at most what the
    /// gateway admits from one source address.
    pub connect_rate: f64,
    /// Record nothing after this time (then wait for the confirmations); `None`: no limit.
    pub stop_recording: Option<Instant>,
    /// Give up (and report what was confirmed) at this time.
    pub deadline: Instant,
    /// Latencies are kept only for readings recorded at or after this time (after a warm-up,
    /// say); `None`: all of them.
    pub latency_from: Option<Instant>,
    /// The collector's downlink public keys every device trusts (see [`collector_keys`]).
    pub collector_keys: dampwatch_firmware::CollectorKeys,
}

/// The collector's downlink public keys a device is provisioned with: the newest two in the
/// PKI directory `pki`.
pub fn collector_keys(pki: &Path) -> anyhow::Result<dampwatch_firmware::CollectorKeys> {
    Ok(dampwatch_sim::provision::collector_keys(pki)?)
}

/// What a load device achieved.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub device: String,
    pub recorded: u32,
    pub confirmed: u32,
    pub resent: u32,
    pub uplinks: u32,
    /// For each confirmed reading: the time from recording it (the sample) to the commit
    /// acknowledgement that covered it, waiting for its batch and any resend included.
    pub latencies: Vec<Duration>,
    /// Whether every recorded reading was confirmed before the deadline.
    pub complete: bool,
    /// The core's own counts at the end: readings dropped, acknowledgements applied and
    /// ignored (stale or replayed), downlinks refused for their signature. What tells a lost
    /// acknowledgement from a refused one when a device is not confirmed.
    pub dropped: u32,
    pub acks_applied: u32,
    pub acks_ignored: u32,
    pub downlinks_refused: u32,
    /// Times the link went down.
    pub disconnects: u32,
}

/// The TLS client configuration of device `device` from its bundle in `bundles`.
pub fn device_tls(bundles: &Path, device: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    Ok(dampwatch_pki::Bundle::of(bundles, device).client_tls()?)
}

/// An MQTT client connected as `device` (clean session, as devices do), for tests that speak
/// MQTT themselves instead of running the firmware.
pub fn device_client(
    device: &str,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> (AsyncClient, rumqttc::EventLoop) {
    let mut opts = MqttOptions::new(device, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(15))
        .set_clean_session(true)
        .set_transport(Transport::Tls(TlsConfiguration::Rustls(tls)));
    AsyncClient::new(opts, 256)
}

/// Runs every device of `specs` on `plan` concurrently, until each has every reading
/// confirmed, the plan's deadline passes or `stop` fires; returns their outcomes.
pub async fn run_fleet(
    specs: Vec<DeviceSpec>,
    plan: Plan,
    stop: CancellationToken,
) -> anyhow::Result<Vec<Outcome>> {
    let origin = Instant::now();
    let wall_ms = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    // Real time: one simulated millisecond is one real millisecond since `origin`.
    let span = plan.deadline.saturating_duration_since(origin);
    let shared = Arc::new(Shared {
        clock: SimClock::new(origin, wall_ms, 1.0, span),
        gateway: GatewayAddr { host: "127.0.0.1".to_owned(), port: plan.port },
        pacer: ConnectPacer::new(plan.connect_rate, plan.connect_rate.max(1.0) as u32, origin),
        stop: stop.child_token(),
        totals: Totals::default(),
    });
    let deadline = {
        let (stop, at) = (shared.stop.clone(), plan.deadline);
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        })
    };
    let mut tasks = Vec::with_capacity(specs.len());
    for spec in specs {
        let tls = spec.tls.clone();
        let device = LoadDevice::new(spec, &plan, origin, wall_ms)?;
        tasks.push(tokio::spawn(run_device(device, tls, shared.clone())));
    }
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await?.outcome());
    }
    shared.stop.cancel();
    let _ = deadline.await;
    Ok(outcomes)
}

/// A device recording synthetic readings on a plan.
struct LoadDevice {
    core: Box<DeviceCore>,
    plan: Plan,
    /// Simulated time (real milliseconds since the fleet started) at which recording ends.
    stop_recording_ms: Option<u64>,
    seq: u32,
    /// Where in its period the device records, as a fraction of a period: devices spread over
    /// the period as real sensors are, instead of all recording in the same instant.
    phase: f64,
    outbox: Outbox,
    last_publish_ms: u64,
    /// When each unconfirmed reading was recorded, oldest first (at most a queue's worth).
    recorded_at: VecDeque<(u32, Instant)>,
    latencies: Vec<Duration>,
    disconnects: u32,
}

impl LoadDevice {
    fn new(spec: DeviceSpec, plan: &Plan, origin: Instant, wall_ms: i64) -> anyhow::Result<LoadDevice> {
        let config = DeviceConfig::new(600, plan.batch, plan.ack_timeout_s)
            .map_err(|e| anyhow::anyhow!("device configuration: {e}"))?;
        let identity = Identity::new(&spec.device, &spec.landlord, 1, spec.seed, plan.collector_keys)
            .map_err(|e| anyhow::anyhow!("device {}: identity: {e}", spec.device))?;
        let mut core = Box::new(DeviceCore::new(identity, spec.boot, config));
        // Uptime 0 is the moment the fleet started.
        core.set_wall_clock(u64::try_from(wall_ms)?, 0);
        Ok(LoadDevice {
            core,
            plan: plan.clone(),
            stop_recording_ms: plan
                .stop_recording
                .map(|t| t.saturating_duration_since(origin).as_millis() as u64),
            seq: 0,
            phase: dampwatch_sim::rng::unit(dampwatch_sim::rng::seed_of(&spec.device), 0x7068_6173, 0),
            outbox: Outbox::default(),
            last_publish_ms: 0,
            recorded_at: VecDeque::new(),
            latencies: Vec::new(),
            disconnects: 0,
        })
    }

    fn recording(&self, sim_ms: u64) -> bool {
        self.stop_recording_ms.is_none_or(|end| sim_ms < end)
    }

    /// Records what is due at `sim_ms`, never more than the queue holds unconfirmed.
    fn record_due(&mut self, sim_ms: u64) {
        let due = match self.plan.rate {
            _ if !self.recording(sim_ms) => 0,
            Some(rate) => ((rate * sim_ms as f64 / 1000.0 + self.phase) as u32).min(self.plan.readings),
            None => self.plan.readings,
        };
        while self.seq < due && (self.core.stats().queued as usize) < QUEUE_CAPACITY {
            let n = self.seq as i32;
            let sample = Sample {
                temperature_centi_c: 1500 + (n % 700),
                rh_centi_pct: 4000 + (n % 5000) as u32,
                battery_mv: 3000,
                ..Default::default()
            };
            let Some(seq) = self.core.record(sample, sim_ms) else { break };
            self.seq = seq;
            let now = Instant::now();
            if self.plan.latency_from.is_none_or(|from| now >= from) {
                self.recorded_at.push_back((seq, now));
            }
        }
    }

    fn outcome(&self) -> Outcome {
        let s = self.core.stats();
        Outcome {
            device: self.id().to_owned(),
            recorded: s.recorded,
            confirmed: s.acked,
            resent: s.resent,
            uplinks: s.uplinks,
            latencies: self.latencies.clone(),
            complete: self.done(s, u64::MAX),
            dropped: s.dropped,
            acks_applied: s.acks_applied,
            acks_ignored: s.acks_ignored,
            downlinks_refused: s.downlinks_unsigned + s.downlinks_unknown_key + s.downlinks_bad_signature,
            disconnects: self.disconnects,
        }
    }

    /// When the device next needs a tick: its next reading, the end of the linger over what
    /// waits, or the core's acknowledgement deadline (acknowledgements themselves wake it as
    /// they arrive). Thousands of devices then cost no more wake-ups than they have work.
    fn next_wake(&self, sim_ms: u64) -> u64 {
        let mut wake = self.core.next_wake_ms().max(sim_ms + 1);
        if self.recording(sim_ms) && self.seq < self.plan.readings {
            match self.plan.rate {
                Some(rate) if rate > 0.0 => {
                    let next = ((f64::from(self.seq) + 1.0 - self.phase) / rate * 1000.0).ceil() as u64;
                    wake = wake.min(next.max(sim_ms + 1));
                }
                // As fast as the queue allows: room appears when an acknowledgement arrives.
                _ => {}
            }
            if let Some(end) = self.stop_recording_ms {
                wake = wake.min(end.max(sim_ms + 1));
            }
        }
        let s = self.core.stats();
        if s.recorded > s.sent || !self.outbox.is_empty() {
            let linger = (self.plan.linger.as_millis() as u64).max(1);
            wake = wake.min((self.last_publish_ms + linger).max(sim_ms + 1));
        }
        wake
    }

    /// Everything it was to record is recorded (or recording is over) and confirmed.
    fn done(&self, s: Stats, sim_ms: u64) -> bool {
        (s.recorded >= self.plan.readings || !self.recording(sim_ms))
            && s.queued == 0
            && self.outbox.is_empty()
    }
}

impl FirmwareDevice for LoadDevice {
    fn core(&self) -> &DeviceCore {
        &self.core
    }

    fn wants_link(&self, _sim_ms: u64) -> bool {
        true
    }

    fn finished(&self, sim_ms: u64) -> bool {
        self.done(self.core.stats(), sim_ms)
    }

    fn link_up(&mut self, sim_ms: u64) {
        self.core.on_connected(sim_ms);
    }

    fn link_down(&mut self) {
        if self.core.is_connected() {
            self.disconnects += 1;
        }
        self.core.on_disconnected();
        self.outbox.clear();
    }

    fn on_ack(&mut self, payload: &[u8], sim_ms: u64) {
        if let Ok(AckOutcome::Confirmed { seq: upto, .. }) = self.core.on_ack(payload, sim_ms) {
            let now = Instant::now();
            while let Some(&(seq, at)) = self.recorded_at.front() {
                if seq > upto {
                    break;
                }
                self.latencies.push(now - at);
                self.recorded_at.pop_front();
            }
        }
    }

    fn on_config(&mut self, payload: &[u8], sim_ms: u64) {
        let _ = self.core.on_config(payload, sim_ms);
    }

    fn tick(&mut self, sim_ms: u64, sink: &mut dyn UplinkSink) -> u64 {
        self.record_due(sim_ms);
        if self.core.is_connected() {
            // A full batch, or whatever waits once the linger has passed (resends included).
            let s = self.core.stats();
            let waiting = s.recorded.saturating_sub(s.sent);
            let linger_ms = self.plan.linger.as_millis() as u64;
            if (waiting >= self.plan.batch
                || sim_ms >= self.last_publish_ms + linger_ms
                || self.seq >= self.plan.readings
                || !self.recording(sim_ms)
                || !self.outbox.is_empty())
                && self.outbox.send_due(&mut self.core, sim_ms, sink)
            {
                self.last_publish_ms = sim_ms;
            }
        }
        self.next_wake(sim_ms)
    }
}
