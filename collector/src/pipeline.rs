//! The intake pipeline: collect a batch of uplinks, check each, store the batch in one
//! transaction (retrying until PostgreSQL takes it), then acknowledge, in arrival order, and
//! tell each device its new commit position.
//!
//! Back-pressure: while a batch is not committed nothing is acknowledged, so the broker stops
//! sending once 100 messages are unacknowledged; memory stays bounded by that window.

use crate::cache::RegistryCache;
use crate::checks::check_uplink;
use crate::config::Config;
use crate::intake::Incoming;
use crate::metrics::Metrics;
use crate::store::{self, Accepted, Quarantined};
use dampwatch_proto::v1::CommitAck;
use dampwatch_wire::topic::{Topic, TopicKind};
use prost::Message;
use rumqttc::{AsyncClient, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

pub struct Pipeline {
    pub cfg: Config,
    pub db_url: String,
    pub client: AsyncClient,
    pub epoch: Arc<AtomicU64>,
    pub metrics: Arc<Metrics>,
    pub stop: CancellationToken,
}

impl Pipeline {
    pub async fn run(self, mut rx: mpsc::Receiver<Incoming>) {
        let i = &self.cfg.intake;
        let mut cache = RegistryCache::new(i.registry_cache);
        let Some(mut db) =
            crate::db::connect_with_retry(&self.db_url, i.retry_initial, i.retry_max, &self.stop).await
        else {
            return;
        };
        loop {
            let Some(batch) = self.collect(&mut rx).await else { return };
            let Some(next_db) = self.commit_batch(db, &mut cache, batch).await else { return };
            db = next_db;
        }
    }

    /// Waits for the first message, then takes more until the batch is full or `linger` passed.
    async fn collect(&self, rx: &mut mpsc::Receiver<Incoming>) -> Option<Vec<Incoming>> {
        let first = tokio::select! {
            m = rx.recv() => m?,
            _ = self.stop.cancelled() => return None,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + self.cfg.intake.linger;
        while batch.len() < self.cfg.intake.max_batch_uplinks {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => batch.push(m),
                Ok(None) | Err(_) => break,
            }
        }
        Some(batch)
    }

    /// Checks and stores one batch, retrying the transaction until it commits; then acks.
    /// Returns the (possibly reconnected) database client, or None when stopping.
    async fn commit_batch(
        &self,
        mut db: Client,
        cache: &mut RegistryCache,
        batch: Vec<Incoming>,
    ) -> Option<Client> {
        let m = &self.metrics;
        m.uplinks_received.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let i = &self.cfg.intake;
        let mut wait = i.retry_initial;
        loop {
            match self.try_commit(&mut db, cache, &batch).await {
                Ok(()) => return Some(db),
                Err(e) => {
                    m.commit_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, retry_in = ?wait, "batch not stored; nothing acknowledged, retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.stop.cancelled() => return None,
                    }
                    wait = (wait * 2).min(i.retry_max);
                    if db.is_closed() {
                        db = crate::db::connect_with_retry(
                            &self.db_url,
                            i.retry_initial,
                            i.retry_max,
                            &self.stop,
                        )
                        .await?;
                    }
                }
            }
        }
    }

    async fn try_commit(
        &self,
        db: &mut Client,
        cache: &mut RegistryCache,
        batch: &[Incoming],
    ) -> Result<(), tokio_postgres::Error> {
        let m = &self.metrics;
        let now = Instant::now();
        let stale =
            cache.stale(batch.iter().filter_map(|b| Topic::parse(&b.publish.topic).map(|t| t.device)), now);
        if !stale.is_empty() {
            let found = crate::registry::lookup(db, &stale).await?;
            cache.fill(&stale, found, now);
        }
        let skew =
            chrono::Duration::from_std(self.cfg.intake.max_future_skew).unwrap_or(chrono::Duration::hours(1));
        let (mut accepted, mut quarantined) = (Vec::new(), Vec::new());
        for b in batch {
            let raw = b.publish.payload.as_ref();
            match check_uplink(&b.publish.topic, raw, b.received_at, skew, |d| cache.get(d)) {
                Ok(uplink) => accepted.push(Accepted {
                    received_at: b.received_at,
                    topic: b.publish.topic.clone(),
                    raw: raw.to_vec(),
                    uplink,
                }),
                Err(rejection) => {
                    tracing::warn!(reason = %rejection.reason, detail = %rejection.detail, topic = %b.publish.topic, "uplink rejected");
                    quarantined.push(Quarantined {
                        received_at: b.received_at,
                        topic: b.publish.topic.clone(),
                        raw: raw.to_vec(),
                        rejection,
                    })
                }
            }
        }
        let started = Instant::now();
        let outcome = store::store_batch(db, &accepted, &quarantined).await?;
        let committed = Instant::now();
        m.commit_seconds.observe((committed - started).as_secs_f64());
        m.batch_uplinks.observe(batch.len() as f64);
        for b in batch {
            m.lag_seconds.observe((committed - b.arrived).as_secs_f64());
        }
        m.commits.fetch_add(1, Ordering::Relaxed);
        m.uplinks_verified.fetch_add(accepted.len() as u64, Ordering::Relaxed);
        m.readings_stored.fetch_add(outcome.readings_stored, Ordering::Relaxed);
        m.readings_duplicate.fetch_add(outcome.readings_duplicate, Ordering::Relaxed);
        for (reason, n) in &outcome.quarantined {
            m.rejected(*reason, *n);
        }

        // Committed: now, and only now, acknowledge, in arrival order, on the connection that
        // delivered each message.
        let epoch = self.epoch.load(Ordering::SeqCst);
        for b in batch.iter().filter(|b| b.epoch == epoch) {
            if let Err(e) = self.client.ack(&b.publish).await {
                tracing::warn!(error = %e, "cannot queue an MQTT ack; the broker will redeliver");
            }
        }
        for (landlord, device, boot, seq) in outcome.positions {
            if seq <= 0 {
                continue;
            }
            let topic = Topic { landlord: &landlord, device: &device, kind: TopicKind::Ack }.to_string();
            let ack = CommitAck { boot: boot as u32, seq: seq as u32 }.encode_to_vec();
            match self.client.try_publish(topic, QoS::AtLeastOnce, false, ack) {
                Ok(()) => {
                    m.acks_published.fetch_add(1, Ordering::Relaxed);
                }
                // The device resends after its ack timeout and gets the position then.
                Err(e) => tracing::warn!(error = %e, device, "cannot queue a commit position"),
            }
        }
        Ok(())
    }
}
