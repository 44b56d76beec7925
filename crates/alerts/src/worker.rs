//! The running worker: the hazard loop (inbox → alerts, cases, webhooks, e-mails), the offline
//! loop (silent rooms), the webhook sender (which also releases advisory batches when their time
//! comes), the e-mail sender (which also composes the daily digests) when an SMTP server is
//! configured, and the notification listener, each with its own database connection, all
//! stopped by one cancellation token.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dampwatch_store::connect;
use dampwatch_store::Prepared;
use dampwatch_wire::Backoff;
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::batch;
use crate::config::AlertsConfig;
use crate::delivery::Deliverer;
use crate::email::{self, EmailConfig, Mailer};
use crate::error::StartError;
use crate::hazard_stats::HazardStats;
use crate::processor::{BatchOutcome, HazardProcessor};
use crate::projection;
use crate::room::Skipped;
use crate::stats::WebhookStats;
use crate::wake::{self, Wakers};
use dampwatch_privacy::SecretsKey;

/// Rooms re-judged per transaction by the offline loop.
const OFFLINE_PAGE: i64 = 200;
/// Shortest pause of the sender when due rows are held by another sender.
const MIN_IDLE: Duration = Duration::from_millis(10);

/// The running worker. Dropping it does not stop it; cancel the token given to [`start`]
/// (or call [`Worker::stop`]) and await [`Worker::join`].
pub struct Worker {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    wakers: Wakers,
    webhooks: Arc<WebhookStats>,
    hazards: Arc<HazardStats>,
}

impl Worker {
    /// The webhook sender's counters and queue, for the metrics endpoint.
    pub fn webhook_stats(&self) -> Arc<WebhookStats> {
        self.webhooks.clone()
    }

    /// The hazard loops' counters (readings, late readings placed, readings left out by
    /// reason), for the metrics endpoint.
    pub fn hazard_stats(&self) -> Arc<HazardStats> {
        self.hazards.clone()
    }

    /// Asks every loop to stop after its current unit of work.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Wakes the hazard loop and the sender now (e.g. after writing inbox rows in-process).
    pub fn wake(&self) {
        self.wakers.wake_all();
    }

    /// Waits until every loop has stopped; an error names a loop that panicked.
    pub async fn join(self) -> Result<(), tokio::task::JoinError> {
        for task in self.tasks {
            task.await?;
        }
        Ok(())
    }
}

/// Starts the worker against the database at `db_url` (already migrated with
/// [`crate::MIGRATIONS`]), without e-mail. Fails at once on an invalid configuration or an
/// unreachable database; later connection losses are retried with back-off. With
/// `enabled = false` it starts nothing.
pub async fn start(
    db_url: &str,
    config: AlertsConfig,
    stop: CancellationToken,
) -> Result<Worker, StartError> {
    start_with_email(db_url, config, &EmailConfig::default(), stop).await
}

/// [`start`], with the e-mail sender when `email` names an SMTP server.
pub async fn start_with_email(
    db_url: &str,
    config: AlertsConfig,
    email: &EmailConfig,
    stop: CancellationToken,
) -> Result<Worker, StartError> {
    config.validate()?;
    let mailer = if email.enabled() { Some(Mailer::new(email)?) } else { None };
    if !config.enabled {
        tracing::info!("alerts worker disabled by configuration");
        let webhooks = Arc::new(WebhookStats::new());
        let hazards = Arc::new(HazardStats::new());
        return Ok(Worker { stop, tasks: Vec::new(), wakers: Wakers::default(), webhooks, hazards });
    }
    let processor = Arc::new(HazardProcessor::new(&config, None)?);
    let mut deliverer = Deliverer::new(&config.webhooks)?;
    let secrets_key = match config.webhooks.secrets_key.as_os_str().is_empty() {
        true => None,
        false => Some(Arc::new(SecretsKey::open_or_create(&config.webhooks.secrets_key)?)),
    };
    if let Some(key) = &secrets_key {
        deliverer = deliverer.with_secrets_key(key.clone());
    }
    let wakers = Wakers::default();
    let webhooks = Arc::new(WebhookStats::new());
    let hazards = Arc::new(HazardStats::new());
    let retry = config.worker.retry_backoff();
    let url = db_url.to_owned();
    let mut hazard_loops = Vec::new();
    // Connect before spawning anything, so an unreachable database fails the start.
    for _ in 0..config.worker.loops {
        hazard_loops.push(connect(db_url).await?);
    }
    if let (Some(key), Some(db)) = (&secrets_key, hazard_loops.first()) {
        // Secrets written before sealing existed, or by a tool without the key.
        let sealed = crate::secrets::seal_clear_secrets(db, key).await.map_err(|e| match e {
            crate::AlertsError::Db(e) => StartError::Database(e),
            other => StartError::Secrets(other.to_string()),
        })?;
        if sealed > 0 {
            tracing::info!(
                endpoints = sealed,
                key = key.id(),
                "sealed webhook signing secrets stored in clear"
            );
        }
    }
    let mut tasks = vec![
        tokio::spawn(wake::listen(url.clone(), wakers.clone(), retry, stop.clone())),
        tokio::spawn(offline_loop(url.clone(), processor.clone(), config.clone(), stop.clone())),
        tokio::spawn(refresh_projection(url.clone(), processor.clone(), retry, stop.clone())),
        tokio::spawn(delivery_loop(
            url.clone(),
            deliverer,
            config.clone(),
            wakers.clone(),
            webhooks.clone(),
            stop.clone(),
        )),
    ];
    if let Some(mailer) = mailer {
        let digest_at = email.digest_time()?;
        let calendar = processor.clock().calendar.clone();
        tasks.push(tokio::spawn(email::run(
            url.clone(),
            mailer,
            calendar,
            digest_at,
            wakers.email.clone(),
            retry,
            stop.clone(),
        )));
        tracing::info!(smtp = %email.smtp_host, "e-mail sender started");
    }
    for client in hazard_loops {
        let (processor, config, wakers, stats, stop) =
            (processor.clone(), config.clone(), wakers.clone(), hazards.clone(), stop.clone());
        tasks.push(tokio::spawn(hazard_loop(url.clone(), client, processor, config, wakers, stats, stop)));
    }
    tracing::info!("alerts worker started");
    Ok(Worker { stop, tasks, wakers, webhooks, hazards })
}

/// A live connection: `current` if still open, else a new one, retrying with back-off.
pub(crate) async fn ensure(
    url: &str,
    current: Option<Client>,
    retry: Backoff,
    stop: &CancellationToken,
) -> Option<Client> {
    if let Some(c) = current.filter(|c| !c.is_closed()) {
        return Some(c);
    }
    let mut retries = retry.retries();
    loop {
        let e = match connect(url).await {
            Ok(c) => return Some(c),
            Err(e) => e,
        };
        let wait = retries.next_delay();
        tracing::warn!(error = %e, retry_in = ?wait, "alerts: database unreachable");
        if !pause(wait, stop).await {
            return None;
        }
    }
}

/// Sleeps `wait` unless stopped; returns false when stopped.
pub(crate) async fn pause(wait: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = stop.cancelled() => false,
    }
}

async fn hazard_loop(
    url: String,
    first: Client,
    processor: Arc<HazardProcessor>,
    config: AlertsConfig,
    wakers: Wakers,
    stats: Arc<HazardStats>,
    stop: CancellationToken,
) {
    let retry = config.worker.retry_backoff();
    let limit = i64::from(config.worker.batch_size);
    let mut client = Some(first);
    // The statements prepared on `client`, replaced with it.
    let mut prepared = Prepared::default();
    let mut failures = retry.retries();
    let mut inbox_changed = wakers.inbox.subscribe();
    while !stop.is_cancelled() {
        if client.as_ref().is_none_or(Client::is_closed) {
            prepared = Prepared::default();
        }
        let Some(mut c) = ensure(&url, client.take(), retry, &stop).await else { return };
        match processor.process_inbox(&mut c, &mut prepared, limit, Utc::now()).await {
            Ok(outcome) => {
                failures.reset();
                client = Some(c);
                if outcome.webhooks > 0 {
                    wakers.outbox.notify_one();
                }
                stats.add(&outcome);
                report(&outcome);
                if i64::try_from(outcome.inbox_rows).unwrap_or(0) >= limit {
                    continue;
                }
            }
            Err(e) if e.is_lock_conflict() => {
                // Two loops waited on each other's rows and PostgreSQL chose this one to roll
                // back: nothing is wrong, the rows are taken again at once.
                tracing::warn!(error = %e, "hazard inbox batch rolled back by a lock conflict; retrying");
                client = Some(c);
                continue;
            }
            Err(e) => {
                // Rolled back: the inbox rows are still there and are taken again, with the
                // statements prepared afresh (a kept statement may be what failed).
                prepared = Prepared::default();
                let wait = failures.next_delay();
                tracing::error!(error = %e, retry_in = ?wait, "hazard inbox batch failed");
                client = Some(c);
                if !pause(wait, &stop).await {
                    return;
                }
                continue;
            }
        }
        tokio::select! {
            _ = inbox_changed.changed() => {}
            _ = tokio::time::sleep(config.worker.poll_interval) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// At most one line per unit of work: late readings are counted, never logged one by one.
fn report(outcome: &BatchOutcome) {
    let too_late = outcome.left_out.get(Skipped::TooLate);
    if too_late > 0 {
        tracing::warn!(
            too_late,
            "stored readings left out of the hazard rules: older than the late-reading horizon behind their room's \
             newest reading (counted in each room's coverage and in dampwatch_hazard_readings_left_out_total)"
        );
    }
    if outcome.replays > 0 {
        tracing::info!(
            late = outcome.late,
            rooms = outcome.replays,
            replayed = outcome.replayed,
            "late readings placed in time order"
        );
    }
    if outcome.inbox_rows > 0 {
        tracing::debug!(?outcome, "hazard inbox batch");
    }
}

async fn offline_loop(
    url: String,
    processor: Arc<HazardProcessor>,
    config: AlertsConfig,
    stop: CancellationToken,
) {
    let retry = config.worker.retry_backoff();
    let mut client: Option<Client> = None;
    let mut prepared = Prepared::default();
    while !stop.is_cancelled() {
        if client.as_ref().is_none_or(Client::is_closed) {
            prepared = Prepared::default();
        }
        let Some(mut c) = ensure(&url, client.take(), retry, &stop).await else { return };
        match processor.evaluate_offline(&mut c, &mut prepared, Utc::now(), OFFLINE_PAGE).await {
            Ok(outcome) if outcome.transitions > 0 => tracing::info!(?outcome, "offline evaluation"),
            Ok(_) => {}
            Err(e) => {
                prepared = Prepared::default();
                tracing::error!(error = %e, "offline evaluation failed");
            }
        }
        client = Some(c);
        if !pause(config.worker.offline_check_interval, &stop).await {
            return;
        }
    }
}

/// Brings the stored deadlines to this clock's basis once (see [`projection`]), retrying
/// with back-off until it has; readers replay cases meanwhile, so nothing waits for it.
async fn refresh_projection(
    url: String,
    processor: Arc<HazardProcessor>,
    retry: Backoff,
    stop: CancellationToken,
) {
    let mut client = None;
    let mut failures = retry.retries();
    while !stop.is_cancelled() {
        let Some(mut c) = ensure(&url, client.take(), retry, &stop).await else { return };
        match projection::refresh(&mut c, processor.clock(), Utc::now()).await {
            Ok(done) => {
                tracing::debug!(?done, "deadline projection");
                return;
            }
            Err(e) => {
                let wait = failures.next_delay();
                tracing::error!(error = %e, retry_in = ?wait, "recomputing stored deadlines failed");
                client = Some(c);
                if !pause(wait, &stop).await {
                    return;
                }
            }
        }
    }
}

/// Releases the advisory batches that are due; returns when the next one falls due.
async fn release_batches(c: &mut Client) -> Result<Option<chrono::DateTime<Utc>>, crate::error::AlertsError> {
    let released = batch::release_due(c, Utc::now()).await?;
    if released.batches > 0 {
        tracing::info!(
            batches = released.batches,
            events = released.items,
            "advisory webhook batches released"
        );
    }
    batch::next_due(c).await
}

async fn delivery_loop(
    url: String,
    deliverer: Deliverer,
    config: AlertsConfig,
    wakers: Wakers,
    stats: Arc<WebhookStats>,
    stop: CancellationToken,
) {
    let retry = config.worker.retry_backoff();
    let poll = config.webhooks.poll_interval;
    let mut client = None;
    let mut failures = retry.retries();
    while !stop.is_cancelled() {
        let Some(mut c) = ensure(&url, client.take(), retry, &stop).await else { return };
        // Advisory events whose landlord's batch time has come join the outbox first, so this
        // round sends them.
        let batch_due = match release_batches(&mut c).await {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "releasing advisory webhook batches failed");
                None
            }
        };
        let idle = match deliverer.deliver_due(&c).await {
            Ok(round)
                if round.claimed >= usize::try_from(config.webhooks.batch_size).unwrap_or(usize::MAX) =>
            {
                stats.add(&round);
                failures.reset();
                client = Some(c);
                continue;
            }
            Ok(round) => {
                stats.add(&round);
                failures.reset();
                let queue = deliverer.queue(&c).await.ok();
                if let Some(q) = queue {
                    stats.pending.set(q.pending);
                    stats.dead.set(q.dead);
                }
                let next = queue.and_then(|q| q.next_due).into_iter().chain(batch_due).min();
                let until_next = next.map_or(poll, |t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO));
                let floor = if round.claimed == 0 { MIN_IDLE } else { Duration::ZERO };
                until_next.min(poll).max(floor)
            }
            Err(e) => {
                let wait = failures.next_delay();
                tracing::error!(error = %e, retry_in = ?wait, "webhook round failed");
                wait
            }
        };
        client = Some(c);
        tokio::select! {
            _ = wakers.outbox.notified() => {}
            _ = tokio::time::sleep(idle) => {}
            _ = stop.cancelled() => return,
        }
    }
}
