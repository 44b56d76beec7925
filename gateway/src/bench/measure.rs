//! The three measurements, run the same way against either broker.

use super::brokers::Broker;
use super::client::{source_address, Conn};
use super::devices::{Credentials, Device};
use futures_util::stream::{self, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections opened at once while building up the idle set.
const OPEN_CONCURRENCY: usize = 64;
/// Clients connecting at once in the handshake measurement.
pub const HANDSHAKE_CONCURRENCY: usize = 32;

fn progress(msg: &str) {
    eprintln!("bench gateway: {msg}");
}

/// Idle device connections: how many were held, and the broker's memory without and with them.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    pub held: usize,
    pub baseline_rss: u64,
    pub loaded_rss: u64,
}

impl Idle {
    /// Bytes per idle connection.
    pub fn per_connection(&self) -> f64 {
        if self.held == 0 {
            return f64::NAN;
        }
        self.loaded_rss.saturating_sub(self.baseline_rss) as f64 / self.held as f64
    }
}

async fn open_device(broker: &Broker, n: usize, d: &Device, subscribe: bool) -> anyhow::Result<Conn> {
    let (ack, config) = (d.topic("ack"), d.topic("config"));
    let filters: &[(&str, u8)] = if subscribe { &[(&ack, 1), (&config, 1)] } else { &[] };
    Conn::open(broker.addr, source_address(n), d.tls.clone(), &d.id, filters).await
}

/// Opens `n` device connections, each subscribed to its ack and config topics as the firmware
/// does, lets them sit idle, reads the broker's memory, then checks each still answers a ping.
pub async fn idle(broker: &Broker, creds: &Credentials, n: usize) -> anyhow::Result<Idle> {
    let devices = &creds.devices[..n];
    // Warm up: first-use allocations (thread caches, lazily built tables) are not per connection.
    let warm: Vec<_> = stream::iter(devices.iter().take(16).enumerate())
        .map(|(i, d)| open_device(broker, i, d, true))
        .buffer_unordered(16)
        .collect()
        .await;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline_rss = broker.rss()?;
    let started = Instant::now();
    let mut conns = Vec::with_capacity(n);
    let mut failures = 0usize;
    let mut first_error = None;
    let mut opening = stream::iter(devices.iter().enumerate())
        .map(|(i, d)| open_device(broker, i, d, true))
        .buffer_unordered(OPEN_CONCURRENCY);
    while let Some(r) = opening.next().await {
        match r {
            Ok(c) => conns.push(c),
            Err(e) => {
                failures += 1;
                first_error.get_or_insert(e);
            }
        }
        let done = conns.len() + failures;
        if done.is_multiple_of(2000) {
            progress(&format!("  {done}/{n} connections opened ({:.0?})", started.elapsed()));
        }
    }
    if let Some(e) = first_error {
        progress(&format!("  {failures} connections failed; first error: {e:#}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded_rss = broker.rss()?;
    let alive: Vec<bool> = stream::iter(conns.iter_mut())
        .map(|c| async { c.ping().await.is_ok() })
        .buffer_unordered(256)
        .collect()
        .await;
    let held = alive.iter().filter(|a| **a).count();
    drop(conns);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Idle { held, baseline_rss, loaded_rss })
}

/// Complete connections per second: TCP, TLS handshake with client certificate, MQTT
/// CONNECT/CONNACK, by `HANDSHAKE_CONCURRENCY` clients at once; each is reset afterwards.
pub async fn handshakes(broker: &Broker, creds: &Credentials, count: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let devices = &creds.devices;
    let results: Vec<bool> = stream::iter(0..count)
        .map(|i| async move { open_device(broker, i, &devices[i % devices.len()], false).await.is_ok() })
        .buffer_unordered(HANDSHAKE_CONCURRENCY)
        .collect()
        .await;
    let ok = results.iter().filter(|r| **r).count();
    if ok < count {
        progress(&format!("  {} of {count} handshakes failed", count - ok));
    }
    Ok(ok as f64 / started.elapsed().as_secs_f64())
}

/// How a throughput run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub publishes: usize,
    pub publishers: usize,
    pub window: usize,
    pub payload: usize,
}

/// QoS 1 messages per second from `publishers` devices, end to end: counted when the
/// subscriber (the collector's certificate, acknowledging every message) has received them all.
pub async fn throughput(broker: &Broker, creds: &Credentials, load: Load) -> anyhow::Result<f64> {
    let subscriber = Conn::open(
        broker.addr,
        source_address(0),
        creds.collector.clone(),
        "collector",
        &[("dw/v1/+/+/up", 1)],
    )
    .await?;
    let per_device = load.publishes / load.publishers;
    let total = (per_device * load.publishers) as u64;
    let received = Arc::new(AtomicU64::new(0));
    let receiving = tokio::spawn(subscriber.receive(total, received.clone()));
    let mut publishers = Vec::with_capacity(load.publishers);
    for (i, d) in creds.devices.iter().take(load.publishers).enumerate() {
        publishers.push((open_device(broker, i + 1, d, false).await?, d.topic("up")));
    }
    let payload = vec![0xA5u8; load.payload];
    let started = Instant::now();
    let sending = stream::iter(publishers)
        .map(|(c, topic)| {
            let payload = &payload;
            async move { c.publish_all(&topic, per_device, load.window, payload).await }
        })
        .buffer_unordered(load.publishers)
        .collect::<Vec<_>>();
    let limit = Duration::from_secs(300);
    let results = tokio::time::timeout(limit, sending).await;
    if let Ok(results) = &results {
        if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
            progress(&format!("  a publisher failed: {e:#}"));
        }
    }
    let left = limit.saturating_sub(started.elapsed());
    let done = tokio::time::timeout(left, receiving).await;
    let elapsed = started.elapsed().as_secs_f64();
    let got = received.load(Relaxed);
    if !matches!(done, Ok(Ok(Ok(())))) {
        progress(&format!("  the subscriber received {got} of {total} messages"));
    }
    Ok(got as f64 / elapsed)
}
