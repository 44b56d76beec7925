//! Simulated devices for the ingest benchmark and the collector's end-to-end tests: each runs
//! the real firmware core (`DeviceCore`: numbering, store and forward, Ed25519 signing, commit
//! acknowledgements) over a real mutual-TLS MQTT connection to the gateway, and reconnects and
//! resends the way a real device does.
//!
//! This file depends only on external crates, so the test suite includes it as well.

use dampwatch_firmware::{Config as DeviceConfig, DeviceCore, Identity, Sample, QUEUE_CAPACITY};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use dampwatch_stack::DeviceSpec;

/// What a simulated device does.
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
    /// Record nothing after this time (then wait for the confirmations); `None`: no limit.
    pub stop_recording: Option<Instant>,
    /// Give up (and report what was confirmed) at this time.
    pub deadline: Instant,
    /// The collector's downlink public keys every device trusts (see [`collector_keys`]).
    pub collector_keys: dampwatch_firmware::CollectorKeys,
}

/// The collector's downlink public keys a device is provisioned with: the newest two in the
/// PKI directory `pki`.
pub fn collector_keys(pki: &std::path::Path) -> anyhow::Result<dampwatch_firmware::CollectorKeys> {
    Ok(dampwatch_sim::provision::collector_keys(pki)?)
}

/// What a simulated device achieved.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub device: String,
    pub recorded: u32,
    pub confirmed: u32,
    pub resent: u32,
    pub uplinks: u32,
    /// Time from publishing an uplink to the commit acknowledgement covering it (first sends
    /// only).
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

/// The TLS client configuration of device `device` in a `dampwatch pki` directory.
pub fn device_tls(pki: &Path, device: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    Ok(dampwatch_pki::client_tls(pki, dampwatch_pki::Holder::Device(device))?)
}

/// An MQTT client connected as `device` (clean session, as devices do).
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

enum Link {
    Up,
    Down,
    Ack(bytes::Bytes),
}

/// Runs one device until all its readings are confirmed, `stop` fires or the deadline passes.
pub async fn run_device(spec: DeviceSpec, plan: Plan, stop: CancellationToken) -> anyhow::Result<Outcome> {
    let config = DeviceConfig::new(600, plan.batch, plan.ack_timeout_s)
        .map_err(|e| anyhow::anyhow!("device configuration: {e}"))?;
    let identity = Identity::new(&spec.device, &spec.landlord, 1, spec.seed, plan.collector_keys)
        .map_err(|e| anyhow::anyhow!("device identity: {e:?}"))?;
    let mut core = DeviceCore::new(identity, spec.boot, config);
    let started = Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let wall = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    core.set_wall_clock(wall, 0);
    let uplink_topic = core.uplink_topic().to_string();
    let ack_topic = core.ack_topic().to_string();

    let (client, eventloop) = device_client(&spec.device, plan.port, spec.tls.clone());
    let (tx, mut rx) = mpsc::channel(1024);
    let link_stop = CancellationToken::new();
    let driver = tokio::spawn(drive(eventloop, client.clone(), ack_topic, tx, link_stop.clone()));

    let mut out = Outcome { device: spec.device.clone(), ..Default::default() };
    let mut in_flight: VecDeque<(u32, Instant)> = VecDeque::new();
    let mut last_publish = Instant::now();
    let mut buf = [0u8; dampwatch_firmware::UPLINK_BUFFER_LEN];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0u32;
    loop {
        let stats = core.stats();
        let recording = plan.stop_recording.is_none_or(|t| Instant::now() < t);
        if (stats.recorded >= plan.readings || !recording) && stats.queued == 0 {
            out.complete = true;
            break;
        }
        if Instant::now() >= plan.deadline || stop.is_cancelled() {
            break;
        }
        tokio::select! {
            _ = tick.tick() => {}
            ev = rx.recv() => match ev {
                Some(Link::Up) => core.on_connected(now_ms()),
                Some(Link::Down) => {
                    out.disconnects += 1;
                    core.on_disconnected();
                    in_flight.clear();
                }
                Some(Link::Ack(payload)) => {
                    if let Ok(dampwatch_firmware::AckOutcome::Confirmed { seq: upto, .. }) =
                        core.on_ack(&payload, now_ms())
                    {
                        let now = Instant::now();
                        while in_flight.front().is_some_and(|(s, _)| *s <= upto) {
                            if let Some((_, at)) = in_flight.pop_front() {
                                out.latencies.push(now - at);
                            }
                        }
                    }
                }
                None => break,
            },
            _ = stop.cancelled() => break,
        }
        // Record what is due, never more than the queue holds unconfirmed.
        let elapsed = started.elapsed().as_secs_f64();
        let due = match plan.rate {
            _ if !recording => 0,
            Some(r) => ((r * elapsed) as u32).min(plan.readings),
            None => plan.readings,
        };
        while seq < due && (core.stats().queued as usize) < QUEUE_CAPACITY {
            let n = seq as i32;
            let sample = Sample {
                temperature_centi_c: 1500 + (n % 700),
                rh_centi_pct: 4000 + (n % 5000) as u32,
                battery_mv: 3000,
                ..Default::default()
            };
            let Some(s) = core.record(sample, now_ms()) else { break };
            seq = s;
        }
        // Publish: a full batch, or whatever waits once linger has passed (resends included).
        let s = core.stats();
        let waiting = s.recorded.saturating_sub(s.sent);
        if waiting >= plan.batch
            || last_publish.elapsed() >= plan.linger
            || seq >= plan.readings
            || !recording
        {
            let mut resent_before = s.resent;
            while let Some(n) = core.poll_uplink(now_ms(), &mut buf) {
                let after = core.stats();
                let first_send = after.resent == resent_before;
                resent_before = after.resent;
                let topic = uplink_topic.clone();
                if client.publish(topic, QoS::AtLeastOnce, false, buf[..n].to_vec()).await.is_err() {
                    break;
                }
                if first_send {
                    in_flight.push_back((after.sent, Instant::now()));
                }
                last_publish = Instant::now();
            }
        }
    }
    let s = core.stats();
    out.recorded = s.recorded;
    out.confirmed = s.acked;
    out.resent = s.resent;
    out.uplinks = s.uplinks;
    out.dropped = s.dropped;
    out.acks_applied = s.acks_applied;
    out.acks_ignored = s.acks_ignored;
    out.downlinks_refused = s.downlinks_unsigned + s.downlinks_unknown_key + s.downlinks_bad_signature;
    link_stop.cancel();
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    Ok(out)
}

/// Drives the MQTT connection: (re)subscribes to the ack topic after every connect, reports
/// the link going up (subscribed) and down, and hands acknowledgements over.
async fn drive(
    mut eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    ack_topic: String,
    tx: mpsc::Sender<Link>,
    stop: CancellationToken,
) {
    let mut up = false;
    loop {
        let ev = tokio::select! {
            e = eventloop.poll() => e,
            _ = stop.cancelled() => return,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = client.try_subscribe(ack_topic.clone(), QoS::AtLeastOnce);
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                up = true;
                if tx.send(Link::Up).await.is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == ack_topic => {
                if tx.send(Link::Ack(p.payload)).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => {
                if up {
                    up = false;
                    if tx.send(Link::Down).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}
