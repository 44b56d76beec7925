//! Signed downlinks end to end: the firmware's own driver loop ([`Firmware`]) over
//! [`MqttTransport`] (mutual TLS to the real gateway, embedded broker, collector and
//! PostgreSQL) while an intruder holding the collector's own certificate (stolen: no other
//! service certificate may publish there) publishes on the device's ack and config topics. A forged acknowledgement, another device's
//! genuine one and a replay of the device's own all leave its queue intact and are counted; a
//! forged configuration changes nothing and a replayed genuine one is refused; the genuine
//! collector's acknowledgements still release the readings, and what was stored is exactly
//! what was sent.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::Stack;
use dampwatch_collector::Collector;
use dampwatch_collector::DownlinkSigner;
use dampwatch_firmware::{
    Config, Firmware, Identity, Inbound, RamBootStorage, Sample, Sensor, SensorUnavailable, Stats, Transport,
};
use dampwatch_proto::v1::{CommitAck, DeviceConfig};
use dampwatch_proto::wire::DownlinkKind;
use dampwatch_sim::blocking_transport::{MqttTransport, TransportError};
use dampwatch_sim::link::{tls_config, GatewayAddr};
use dampwatch_sim::{fleet, provision};
use prost::Message;
use ring::signature::Ed25519KeyPair;

const DEVICE: &str = "guarded-1";
const OTHER_DEVICE: &str = "guarded-2";
const LANDLORD: &str = "acme";
/// The intruder's client id: a second collector's, as the stolen certificate allows.
const INTRUDER: &str = "collector-intruder";
/// Real time allowed for each thing the test waits for.
const WAIT: Duration = Duration::from_secs(40);
const STEP_PAUSE: Duration = Duration::from_millis(20);
/// Real time between the device's resends while it waits for the collector to come back.
const RESEND_EVERY: Duration = Duration::from_secs(2);

type Device = Firmware<Room, Recording>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_misbound_and_replayed_downlinks_release_nothing_and_genuine_acks_still_do(
) -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let (pki, bundles) = (stack.pki(), stack.bundles());
    let Stack { pg, gateway, collector, .. } = stack;
    let (gateway, collector) = (gateway.expect("a gateway"), collector.expect("a collector"));
    let ids = [DEVICE.to_owned(), OTHER_DEVICE.to_owned()];
    let provisioned_at = chrono::Utc::now() - chrono::Duration::days(1);
    provision::provision(&pki, &bundles, &pg.url(), LANDLORD, &ids, provisioned_at).await?;
    let addr = GatewayAddr { host: "127.0.0.1".into(), port: gateway.local_addr().port() };
    let collector_cfg = {
        let mut c = dampwatch_collector::Config::default().with_pki_dir(&pki);
        c.database.url = pg.url();
        c.mqtt.port = addr.port;
        c.http.address = String::new();
        c.metrics.address = String::new();
        c
    };

    // 1. The device starts, samples once and the collector confirms it: the genuine
    // acknowledgement is recorded on its way into the device.
    let mut fw = {
        let (pki, bundles, addr) = (pki.clone(), bundles.clone(), addr.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<Device> {
            let creds = fleet::load(&bundles, LANDLORD, &[DEVICE.to_owned()])?.remove(0);
            let identity = Identity::new(
                DEVICE,
                LANDLORD,
                provision::KEY_ID,
                creds.signing_seed,
                provision::collector_keys(&pki)?,
            )?;
            let config = Config::default().with_ack_timeout_s(10)?;
            let transport =
                Recording { inner: MqttTransport::new(DEVICE, addr, creds.tls), seen: Vec::new() };
            let mut fw = Firmware::start(identity, config, &mut RamBootStorage::default(), Room, transport)?;
            let now = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
            fw.core_mut().set_wall_clock(now, 0);
            step_until(&mut fw, 0, "the first reading is confirmed", |s| s.acked == 1)?;
            Ok(fw)
        })
        .await??
    };
    let genuine_ack = fw.transport().seen_on("ack").last().cloned().expect("the genuine ack was seen");

    // 2. The collector stops; two more readings are published and wait for confirmation.
    collector.shutdown().await;
    let interval = fw.core().config().sample_interval_ms();
    let (mut fw, mut uptime) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Device, u64)> {
        fw.step(interval);
        fw.step(2 * interval);
        let s = fw.core().stats();
        anyhow::ensure!((s.recorded, s.sent, s.queued, s.confirmed_seq) == (3, 3, 2, 1), "{s:?}");
        Ok((fw, 2 * interval))
    })
    .await??;

    // 3. The intruder publishes on the device's topics with the collector's certificate.
    let signer = DownlinkSigner::load(&pki)?;
    let forged_key = Ed25519KeyPair::from_seed_unchecked(&[0x66; 32]).expect("key");
    let forged = |kind, payload: Vec<u8>| -> anyhow::Result<Vec<u8>> {
        // The collector's key id, someone else's key.
        let env = dampwatch_proto::sign_downlink(kind, DEVICE, &forged_key, signer.key_id(), payload)?;
        Ok(env.encode_to_vec())
    };
    let ack_topic = fw.core().ack_topic().to_string();
    let config_topic = fw.core().config_topic().to_string();
    let day = DeviceConfig { sample_interval_s: 86_400, boot: 1, counter: 1_000, ..DeviceConfig::default() };
    let attacks = vec![
        // Releases everything published, if believed.
        (ack_topic.clone(), forged(DownlinkKind::Ack, CommitAck { boot: 1, seq: 3 }.encode_to_vec())?),
        // The collector's genuine signature, for another device.
        (ack_topic.clone(), signer.ack(OTHER_DEVICE, 1, 3)?),
        // The device's own genuine acknowledgement, replayed.
        (ack_topic.clone(), genuine_ack.clone()),
        // An acknowledgement as downlink revision 1 sent them: bare.
        (ack_topic.clone(), CommitAck { boot: 1, seq: 3 }.encode_to_vec()),
        // A day between samples, if believed.
        (config_topic.clone(), forged(DownlinkKind::Config, day.encode_to_vec())?),
    ];
    let mut intruder = intruder_link(&pki, &addr)?;
    fw = tokio::task::spawn_blocking(move || -> anyhow::Result<Device> {
        intruder.connect(&[])?;
        for (topic, payload) in &attacks {
            intruder.publish(topic, payload)?;
        }
        step_until(&mut fw, uptime, "every attack is refused and counted", |s| {
            s.downlinks_bad_signature == 3
                && s.acks_ignored == 1
                && s.malformed_downlinks + s.downlinks_unsigned == 1
        })?;
        let s = fw.core().stats();
        assert_eq!((s.queued, s.acked, s.confirmed_seq, s.acks_applied), (2, 1, 1, 1), "queue intact: {s:?}");
        assert_eq!((s.config_applied, s.config_counter), (0, 0), "{s:?}");
        assert_eq!(fw.core().config().sample_interval_s(), 600, "the forged interval was not applied");
        Ok(fw)
    })
    .await??;

    // 4. The collector comes back: the device resends at each acknowledgement timeout (its
    // uptime moves on by one every RESEND_EVERY of real time, so a resend published before the
    // new collector has subscribed is followed by another), and the genuine acknowledgements
    // release everything.
    let collector = Collector::start(collector_cfg).await?;
    let (mut fw, uptime) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Device, u64)> {
        let timeout = fw.core().config().ack_timeout_ms();
        let deadline = Instant::now() + WAIT;
        let mut next_resend = Instant::now();
        while fw.core().stats().acked < 3 {
            if Instant::now() >= next_resend {
                uptime += timeout;
                next_resend = Instant::now() + RESEND_EVERY;
            }
            fw.step(uptime);
            anyhow::ensure!(
                Instant::now() < deadline,
                "not within {WAIT:?}: the genuine acks release every reading: {:?}",
                fw.core().stats()
            );
            thread::sleep(STEP_PAUSE);
        }
        anyhow::ensure!(uptime < fw.core().next_sample_ms(), "no further sample was taken meanwhile");
        Ok((fw, uptime))
    })
    .await??;

    // 5. A genuine configuration applies; replayed, it is refused.
    let sent = collector
        .configure_device(DEVICE, DeviceConfig { sample_interval_s: 120, ..DeviceConfig::default() })
        .await?;
    assert_eq!((sent.boot, sent.counter), (1, 1));
    let mut intruder = intruder_link(&pki, &addr)?;
    fw = tokio::task::spawn_blocking(move || -> anyhow::Result<Device> {
        step_until(&mut fw, uptime, "the genuine configuration applies", |s| s.config_counter == 1)?;
        assert_eq!(fw.core().config().sample_interval_s(), 120);
        let genuine_config = fw.transport().seen_on("config").last().cloned().expect("config seen");
        intruder.connect(&[])?;
        intruder.publish(&config_topic, &genuine_config)?;
        step_until(&mut fw, uptime, "the replayed configuration is refused", |s| s.configs_replayed == 1)?;
        Ok(fw)
    })
    .await??;

    let s = fw.core().stats();
    assert_eq!((s.recorded, s.sent, s.acked, s.queued, s.dropped), (3, 3, 3, 0, 0), "{s:?}");
    let db = dampwatch_store::connect(&pg.url()).await?;
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT (boot, seq)), max(seq) FROM readings WHERE device_id = $1",
            &[&DEVICE],
        )
        .await?;
    let (stored, distinct, last): (i64, i64, Option<i64>) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((stored, distinct, last), (i64::from(s.sent), i64::from(s.sent), Some(3)), "stored = sent");
    drop(fw);
    collector.shutdown().await;
    drop(gateway);
    Ok(())
}

/// A connection with the collector's stolen certificate (through the firmware's transport
/// over rumqttc: the same mutual TLS and QoS 1 as a device's).
fn intruder_link(pki: &std::path::Path, addr: &GatewayAddr) -> anyhow::Result<MqttTransport> {
    let paths = dampwatch_pki::Paths::new(pki);
    let mut roots = rustls::RootCertStore::empty();
    for ca in dampwatch_pki::load_ca_certs(&paths.ca_cert())? {
        roots.add(ca)?;
    }
    let tls = tls_config(
        &Arc::new(rustls::crypto::ring::default_provider()),
        &Arc::new(roots),
        dampwatch_pki::load_cert_chain(&paths.collector_cert())?,
        dampwatch_pki::load_private_key(&paths.collector_key())?,
    )?;
    Ok(MqttTransport::new(INTRUDER, addr.clone(), tls))
}

/// Steps the device at a fixed uptime (so no sample falls due) until `done` holds for its
/// statistics, or fails after [`WAIT`].
fn step_until(fw: &mut Device, uptime: u64, what: &str, done: impl Fn(&Stats) -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        fw.step(uptime);
        let s = fw.core().stats();
        if done(&s) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not within {WAIT:?}: {what}: {s:?}, {:?}",
            fw.link_stats()
        );
        thread::sleep(STEP_PAUSE);
    }
}

/// A sensor that always reads a mild, damp room.
struct Room;

impl Sensor for Room {
    fn sample(&mut self) -> Result<Sample, SensorUnavailable> {
        Ok(Sample { temperature_centi_c: 1650, rh_centi_pct: 7400, battery_mv: 2950, ..Sample::default() })
    }
}

/// The device's transport, keeping a copy of every message it hands to the device.
struct Recording {
    inner: MqttTransport,
    seen: Vec<(String, Vec<u8>)>,
}

impl Recording {
    fn seen_on(&self, kind: &str) -> Vec<Vec<u8>> {
        self.seen.iter().filter(|(t, _)| t.ends_with(&format!("/{kind}"))).map(|(_, p)| p.clone()).collect()
    }
}

impl Transport for Recording {
    type Error = TransportError;

    fn connect(&mut self, subscriptions: &[&str]) -> Result<(), TransportError> {
        self.inner.connect(subscriptions)
    }

    fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), TransportError> {
        self.inner.publish(topic, payload)
    }

    fn poll(&mut self, payload: &mut [u8]) -> Result<Option<Inbound>, TransportError> {
        let inbound = self.inner.poll(payload)?;
        if let Some(m) = &inbound {
            let n = m.len.min(payload.len());
            self.seen.push((m.topic.to_string(), payload[..n].to_vec()));
        }
        Ok(inbound)
    }
}
