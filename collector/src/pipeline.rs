//! The intake pipeline: collect a batch of uplinks, check each, store the batch in one
//! transaction, then acknowledge, in arrival order, and tell each device its new position. Two
//! stages, each a task with its own database connection: one collects and checks a batch while
//! the other stores and acknowledges the batch before it.
//!
//! Faults:
//! - PostgreSQL down, restarting, slow, out of connections, a deadlock: the same batch is
//!   retried with exponential back-off (on a new connection when the old one broke or hung)
//!   until it commits. Nothing is acknowledged meanwhile, so the broker stops sending once its
//!   window of 100 unacknowledged messages is full: memory stays bounded by that window.
//! - The database refuses something in the data (a value, a constraint, a trigger): the batch
//!   is split in halves, each stored on its own, until the one message it refuses is alone;
//!   that message is quarantined (`store_failed`, with the server's reason and its raw bytes)
//!   and the intake goes on. A bad message never blocks the good ones behind it.

use crate::cache::RegistryCache;
use crate::checks::check_uplink;
use crate::config::Config;
use crate::db::{self, describe, Session};
use crate::downlink::DownlinkSigner;
use crate::intake::Incoming;
use crate::metrics::Metrics;
use crate::reject::Reason;
use crate::store::{self, Accepted, Outcome, Quarantined};
use crate::upstream::Upstream;
use dampwatch_store::Prepared;
use dampwatch_wire::backoff::Retries;
use dampwatch_wire::topic::Topic;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct Pipeline {
    pub cfg: Config,
    pub db_url: String,
    /// Where acknowledgements and commit positions go.
    pub upstream: Upstream,
    pub metrics: Arc<Metrics>,
    pub stop: CancellationToken,
    /// Signs every commit position before it goes to a device.
    pub signer: Arc<DownlinkSigner>,
}

/// One message after its checks.
enum Checked {
    Accepted(Accepted),
    Rejected(Quarantined),
}

/// Why storing gave up.
enum Refused {
    /// The collector is stopping.
    Stopped,
    /// The database refused the data (see [`db::is_data_error`]).
    Data(tokio_postgres::Error),
}

/// What a batch's transactions achieved, merged over the parts of a split batch.
#[derive(Default)]
struct Done {
    positions: BTreeMap<(String, String, i64), i64>,
}

/// A batch with its checks, on its way from the checking stage to the storing one.
struct CheckedBatch {
    batch: Vec<Incoming>,
    items: Vec<Checked>,
}

impl Pipeline {
    /// Runs the intake in two stages, each a task of its own: one collects a batch and checks it
    /// (the device registry, each uplink's signature), the other stores the batch before it and
    /// acknowledges it. Checking is CPU work and storing mostly waits on the database, so a
    /// batch is checked while the one before it commits rather than after; the broker's window
    /// of unacknowledged messages holds both. Batches are stored and acknowledged in the order
    /// they arrived: one checked batch waits at most.
    pub async fn run(self, rx: mpsc::Receiver<Incoming>) {
        let this = Arc::new(self);
        let (checked_tx, checked_rx) = mpsc::channel(1);
        let checking = tokio::spawn(this.clone().check_stage(rx, checked_tx));
        this.store_stage(checked_rx).await;
        // Stopping, or the intake closed and every batch was stored: the checking stage has
        // ended or ends as soon as it sees that nobody takes its batches.
        if let Err(e) = checking.await {
            tracing::error!(error = %e, "the intake's checking stage failed");
        }
    }

    async fn check_stage(self: Arc<Self>, mut rx: mpsc::Receiver<Incoming>, out: mpsc::Sender<CheckedBatch>) {
        let mut cache = RegistryCache::new(self.cfg.intake.registry_cache);
        let Some(mut session) = self.connect().await else { return };
        while let Some(batch) = self.collect(&mut rx).await {
            if !self.refresh_registry(&mut session, &mut cache, &batch).await {
                return;
            }
            let items = self.check(&cache, &batch);
            self.metrics.checked_batches_waiting.inc();
            if out.send(CheckedBatch { batch, items }).await.is_err() {
                return;
            }
        }
    }

    async fn store_stage(&self, mut checked: mpsc::Receiver<CheckedBatch>) {
        let Some(mut session) = self.connect().await else { return };
        while let Some(CheckedBatch { batch, items }) = checked.recv().await {
            self.metrics.checked_batches_waiting.dec();
            let stored = self.store_and_acknowledge(&mut session, &batch, &items).await;
            self.metrics.uplinks_pending.dec_by(batch.len() as i64);
            if !stored {
                return;
            }
        }
    }

    /// Waits for the first message, then takes more until the batch is full or `linger` passed.
    /// None when the intake closed (and everything received was handled) or on stop.
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

    /// Stores a checked batch (splitting around refused messages), acks it and publishes the
    /// positions. False when stopping.
    async fn store_and_acknowledge(
        &self,
        session: &mut Session,
        batch: &[Incoming],
        items: &[Checked],
    ) -> bool {
        let mut done = Done::default();
        let mut parts: VecDeque<Range<usize>> = VecDeque::new();
        parts.push_back(0..items.len());
        while let Some(part) = parts.pop_front() {
            match self.store_with_retry(session, &items[part.clone()]).await {
                Ok(outcome) => self.account(&mut done, outcome, &items[part.clone()], batch),
                Err(Refused::Stopped) => return false,
                Err(Refused::Data(e)) if part.len() > 1 => {
                    self.metrics.batch_splits.inc();
                    tracing::warn!(error = %describe(&e), uplinks = part.len(), "the database refused a batch; splitting it");
                    let mid = part.start + part.len() / 2;
                    parts.push_front(mid..part.end);
                    parts.push_front(part.start..mid);
                }
                Err(Refused::Data(e)) => {
                    if !self.quarantine_refused(session, &items[part.start], &e, &mut done, batch).await {
                        return false;
                    }
                }
            }
        }

        // Committed: now, and only now, acknowledge, in arrival order, on the connection that
        // delivered each message.
        self.upstream.acknowledge(batch, &self.metrics);
        self.publish_positions(&done).await;
        true
    }

    /// Reads the registry entries the cache lacks, retrying while the database is away.
    async fn refresh_registry(
        &self,
        session: &mut Session,
        cache: &mut RegistryCache,
        batch: &[Incoming],
    ) -> bool {
        let mut retries = self.cfg.intake.retry_backoff().retries();
        loop {
            let now = Instant::now();
            let stale =
                cache.stale(batch.iter().filter_map(|b| Topic::parse(&b.topic).map(|t| t.device)), now);
            if stale.is_empty() {
                return true;
            }
            match dampwatch_store::registry::lookup(&session.client, &stale).await {
                Ok(found) => {
                    cache.fill(&stale, found, now);
                    return true;
                }
                Err(e) => {
                    self.metrics.database_errors.inc();
                    tracing::warn!(error = %describe(&e), retry_in = ?retries.upcoming(), "cannot read the device registry");
                    if !self.pause_and_reconnect(session, &mut retries, false).await {
                        return false;
                    }
                }
            }
        }
    }

    fn check(&self, cache: &RegistryCache, batch: &[Incoming]) -> Vec<Checked> {
        let skew =
            chrono::Duration::from_std(self.cfg.intake.max_future_skew).unwrap_or(chrono::Duration::hours(1));
        batch
            .iter()
            .map(|b| {
                let raw = b.payload.as_ref();
                match check_uplink(&b.topic, raw, b.received_at, skew, |d| cache.get(d)) {
                    Ok(uplink) => Checked::Accepted(Accepted {
                        received_at: b.received_at,
                        topic: b.topic.clone(),
                        raw: raw.to_vec(),
                        uplink,
                    }),
                    Err(rejection) => {
                        tracing::warn!(reason = %rejection.reason, detail = %rejection.detail, topic = %b.topic, "uplink rejected");
                        Checked::Rejected(Quarantined {
                            received_at: b.received_at,
                            topic: b.topic.clone(),
                            raw: raw.to_vec(),
                            rejection,
                        })
                    }
                }
            })
            .collect()
    }

    /// Stores `items` in one transaction, retrying everything but a data error.
    async fn store_with_retry(&self, session: &mut Session, items: &[Checked]) -> Result<Outcome, Refused> {
        let accepted: Vec<&Accepted> =
            items.iter().filter_map(|c| if let Checked::Accepted(a) = c { Some(a) } else { None }).collect();
        let quarantined: Vec<&Quarantined> =
            items.iter().filter_map(|c| if let Checked::Rejected(q) = c { Some(q) } else { None }).collect();
        let i = &self.cfg.intake;
        let mut retries = i.retry_backoff().retries();
        loop {
            let started = Instant::now();
            let attempt = tokio::time::timeout(
                i.commit_timeout,
                store::store_batch(session, i.device_limits(), &accepted, &quarantined),
            )
            .await;
            let hung = match attempt {
                Ok(Ok(outcome)) => {
                    self.metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
                    return Ok(outcome);
                }
                Ok(Err(e)) if db::is_data_error(&e) => return Err(Refused::Data(e)),
                Ok(Err(e)) => {
                    tracing::warn!(error = %describe(&e), retry_in = ?retries.upcoming(), "batch not stored; nothing acknowledged, retrying");
                    false
                }
                Err(_) => {
                    tracing::warn!(timeout = ?i.commit_timeout, "batch transaction hung; retrying on a new connection");
                    true
                }
            };
            self.metrics.commit_failures.inc();
            self.metrics.database_errors.inc();
            if !self.pause_and_reconnect(session, &mut retries, hung).await {
                return Err(Refused::Stopped);
            }
        }
    }

    /// Counts a failure and sleeps the back-off it calls for, then replaces the session if it
    /// broke (or `force`).
    async fn pause_and_reconnect(&self, session: &mut Session, retries: &mut Retries, force: bool) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(retries.next_delay()) => {}
            _ = self.stop.cancelled() => return false,
        }
        if force || session.client.is_closed() {
            self.metrics.db_connected.set(0);
            let Some(s) = self.connect().await else { return false };
            *session = s;
        } else {
            // The retry prepares its statements afresh: a failure that a kept statement itself
            // causes (one prepared against a schema changed since) must not repeat forever.
            session.prepared = Prepared::default();
        }
        true
    }

    /// Opens a database session, retrying with back-off until it works or the collector stops.
    async fn connect(&self) -> Option<Session> {
        let mut retries = self.cfg.intake.retry_backoff().retries();
        loop {
            let e = match db::open(&self.db_url).await {
                Ok(s) => {
                    self.metrics.db_connected.set(1);
                    return Some(s);
                }
                Err(e) => e,
            };
            self.metrics.database_errors.inc();
            let wait = retries.next_delay();
            tracing::warn!(error = %describe(&e), retry_in = ?wait, "database unreachable");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    /// Quarantines a message the database refused on its own. If even that is refused (it
    /// should not be: the quarantine holds bytes and plain text), the message is logged with
    /// its bytes and counted, so it still leaves a trace.
    async fn quarantine_refused(
        &self,
        session: &mut Session,
        item: &Checked,
        error: &tokio_postgres::Error,
        done: &mut Done,
        batch: &[Incoming],
    ) -> bool {
        let (received_at, topic, raw, device) = match item {
            Checked::Accepted(a) => (a.received_at, &a.topic, &a.raw, Some(a.uplink.device.clone())),
            Checked::Rejected(q) => (q.received_at, &q.topic, &q.raw, q.rejection.device.clone()),
        };
        tracing::error!(error = %describe(error), topic = %topic, "the database refused an uplink; quarantining it");
        let q = Checked::Rejected(Quarantined {
            received_at,
            topic: topic.clone(),
            raw: raw.clone(),
            rejection: crate::checks::Rejection {
                reason: Reason::StoreFailed,
                detail: format!("the database refused it: {}", describe(error)),
                device,
            },
        });
        match self.store_with_retry(session, std::slice::from_ref(&q)).await {
            Ok(outcome) => {
                self.account(done, outcome, std::slice::from_ref(&q), batch);
                true
            }
            Err(Refused::Stopped) => false,
            Err(Refused::Data(e)) => {
                self.metrics.unstorable.inc();
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                tracing::error!(error = %describe(&e), topic = %topic, raw = %hex, "cannot even quarantine an uplink; its bytes are in this log line");
                true
            }
        }
    }

    fn account(&self, done: &mut Done, outcome: Outcome, items: &[Checked], batch: &[Incoming]) {
        let m = &self.metrics;
        let committed = Instant::now();
        m.commits.inc();
        m.batch_uplinks.observe(items.len() as f64);
        let mut readings = 0u64;
        let mut verified = 0u64;
        for c in items {
            if let Checked::Accepted(a) = c {
                verified += 1;
                readings += a.uplink.readings.len() as u64;
            }
        }
        m.batch_readings.observe(readings as f64);
        m.uplinks_verified.inc_by(verified);
        m.readings_received.inc_by(readings);
        m.readings_stored.inc_by(outcome.readings_stored);
        m.readings_duplicate.inc_by(outcome.readings_duplicate);
        for (reason, n) in &outcome.quarantined {
            m.rejected(*reason, *n);
        }
        for (reason, n) in &outcome.quarantine_suppressed {
            m.quarantine_suppressed(*reason, *n);
        }
        if let Some(first) = batch.first() {
            // Every part of a batch waits for the whole batch before it is acknowledged, so the
            // lag of its oldest message is the batch's.
            m.lag_seconds.observe((committed - first.arrived).as_secs_f64());
        }
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        m.last_commit_unix_seconds.set(i64::try_from(now).unwrap_or(i64::MAX));
        for p in outcome.positions {
            let e = done.positions.entry((p.landlord, p.device, p.boot)).or_insert(p.committed_seq);
            *e = (*e).max(p.committed_seq);
        }
    }

    async fn publish_positions(&self, done: &Done) {
        for ((landlord, device, boot), seq) in &done.positions {
            let (Ok(boot), Ok(seq)) = (u32::try_from(*boot), u32::try_from(*seq)) else { continue };
            if seq == 0 {
                continue;
            }
            // Signed for this device and boot: the device releases nothing on anyone else's
            // word. Cannot fail for a registered device's id; were it to, the device resends.
            let ack = match self.signer.ack(device, boot, seq) {
                Ok(ack) => ack,
                Err(e) => {
                    tracing::error!(error = %e, device, "cannot sign a commit position");
                    continue;
                }
            };
            match self.upstream.send_ack(landlord, device, ack).await {
                Ok(()) => {
                    self.metrics.acks_published.inc();
                }
                // The device resends after its ack timeout and gets the position then.
                Err(e) => tracing::warn!(error = %e, device, "cannot queue a commit position"),
            }
        }
    }
}
