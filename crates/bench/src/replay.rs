//! Collector-only load: uplinks signed in advance by the devices' firmware cores, published
//! into the broker's loopback listener as fast as the collector takes them, so that the
//! collector (and the database) is the only work that remains to measure.

use super::fleet::DeviceSpec;
use dampwatch_collector::DownlinkSigner;
use dampwatch_collector::Metrics;
use dampwatch_firmware::{Config as DeviceConfig, DeviceCore, Identity, Sample, MAX_BATCH};
use rumqttc::{AsyncClient, Event, MqttOptions, QoS};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A signed uplink and where it goes.
pub struct Presigned {
    pub device: String,
    pub public_key: [u8; 32],
    pub topic: String,
    pub bytes: Vec<u8>,
    pub readings: usize,
}

/// `per_device` full uplinks for each device, numbered in boot `boot`, in round-robin order
/// (as many devices would interleave). Each batch is confirmed at once with an acknowledgement
/// signed by `signer`, the collector's downlink key, which the devices trust (`keys`).
pub fn presign(
    devices: &[DeviceSpec],
    boot: u32,
    per_device: usize,
    signer: &DownlinkSigner,
    keys: dampwatch_firmware::CollectorKeys,
) -> anyhow::Result<Vec<Presigned>> {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let config = DeviceConfig::default();
    let mut per: Vec<Vec<Presigned>> = Vec::with_capacity(devices.len());
    for spec in devices {
        let identity = Identity::new(&spec.device, &spec.landlord, 1, spec.seed, keys)
            .map_err(|e| anyhow::anyhow!("device identity: {e:?}"))?;
        let mut core = DeviceCore::new(identity, boot, config);
        core.set_wall_clock(wall, 0);
        core.on_connected(0);
        let topic = core.uplink_topic().to_string();
        let public_key = core.public_key();
        let mut buf = [0u8; dampwatch_firmware::UPLINK_BUFFER_LEN];
        let mut mine = Vec::with_capacity(per_device);
        for u in 0..per_device {
            for k in 0..MAX_BATCH {
                let n = (u * MAX_BATCH + k) as i32;
                let sample = Sample {
                    temperature_centi_c: 1200 + n % 900,
                    rh_centi_pct: 4500 + (n % 4000) as u32,
                    battery_mv: 2900,
                    ..Default::default()
                };
                core.record(sample, u as u64);
            }
            let len =
                core.poll_uplink(u as u64, &mut buf).ok_or_else(|| anyhow::anyhow!("nothing to send"))?;
            mine.push(Presigned {
                device: spec.device.clone(),
                public_key,
                topic: topic.clone(),
                bytes: buf[..len].to_vec(),
                readings: MAX_BATCH,
            });
            // Confirm at once, so the queue never fills and nothing is dropped.
            let seq = ((u + 1) * MAX_BATCH) as u32;
            core.on_ack(&signer.ack(&spec.device, boot, seq)?, u as u64)
                .map_err(|e| anyhow::anyhow!("ack: {e:?}"))?;
        }
        per.push(mine);
    }
    let mut out = Vec::with_capacity(devices.len() * per_device);
    let mut iters: Vec<_> = per.into_iter().map(Vec::into_iter).collect();
    loop {
        let before = out.len();
        for it in &mut iters {
            if let Some(p) = it.next() {
                out.push(p);
            }
        }
        if out.len() == before {
            break;
        }
    }
    Ok(out)
}

/// Publishes every uplink into the broker, keeping at most `window` uplinks ahead of what the
/// collector has received (the broker's log is finite).
pub async fn publish_all(
    broker: SocketAddr,
    login: &dampwatch_gateway::broker::BrokerLogin,
    uplinks: &[Presigned],
    collector: &Arc<Metrics>,
    window: u64,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut opts = MqttOptions::new("bench-replay", broker.ip().to_string(), broker.port());
    opts.set_keep_alive(Duration::from_secs(30)).set_inflight(1000).set_max_packet_size(1 << 16, 1 << 16);
    // The broker asks every connection for the gateway's login (the publisher runs in the
    // gateway's process).
    opts.set_credentials(login.username.clone(), login.password.clone());
    let (client, mut events) = AsyncClient::new(opts, 2048);
    let driver = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(_)) | Ok(Event::Outgoing(_)) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let base = collector.uplinks_received.get();
    let result = async {
        for (i, u) in uplinks.iter().enumerate() {
            while i as u64 >= collector.uplinks_received.get() - base + window {
                anyhow::ensure!(Instant::now() < deadline, "the collector stopped taking uplinks");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            client.publish(u.topic.clone(), QoS::AtLeastOnce, false, u.bytes.clone()).await?;
        }
        Ok(())
    }
    .await;
    // Let the last publishes leave before the connection goes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = client.try_disconnect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    driver.abort();
    result
}
