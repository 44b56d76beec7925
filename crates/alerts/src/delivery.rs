//! Sending queued webhooks: claim due outbox rows (a lease, so several senders share the
//! work and a vanished sender's rows come back), POST each signed body, log the attempt, and
//! either mark the row delivered, schedule a retry with exponential back-off, or dead-letter
//! it after the last attempt. Delivery is at least once: a sender that dies after the
//! receiver answered but before the log was written sends again, with the same
//! `Idempotency-Key`, so receivers drop the repeat. Every attempt checks the endpoint's URL
//! again and sends only to addresses the configuration allows (`webhook_url`, `connector`);
//! the log keeps a fixed reason and the status code, never the receiver's answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use tokio_postgres::Client;

use crate::address_policy::AddressPolicy;
use crate::config::WebhookConfig;
use crate::error::AlertsError;
use crate::failure::{Failure, FailureCounts, FailureReason};
use crate::http::WebhookClient;
use crate::resolve::{Resolve, SystemResolver};
use crate::secrets::StoredSecret;
use crate::signature::{
    Signed, ATTEMPT_HEADER, EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use crate::webhook_url::check_url;
use dampwatch_privacy::SecretsKey;

/// One claimed outbox row with its endpoint.
#[derive(Debug, Clone)]
struct Claimed {
    id: i64,
    landlord_id: String,
    endpoint_id: i64,
    event_type: String,
    body: String,
    attempt: i32,
    url: String,
    secret: Option<StoredSecret>,
    active: bool,
}

/// The delivery queue as read by [`Deliverer::queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    pub next_due: Option<DateTime<Utc>>,
    pub pending: i64,
    pub dead: i64,
}

/// What a round of sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub claimed: usize,
    pub delivered: usize,
    /// Failed and scheduled for another attempt.
    pub retrying: usize,
    /// Failed for the last time: dead-lettered.
    pub dead: usize,
    /// Every failed attempt (retrying and dead) by reason.
    pub failures: FailureCounts,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Delivered { status: u16 },
    Failed(Failure),
}

/// Sends webhooks.
#[derive(Clone)]
pub struct Deliverer {
    client: WebhookClient,
    config: WebhookConfig,
    policy: AddressPolicy,
    /// Opens sealed signing secrets; without it only secrets stored in clear can be sent.
    secrets_key: Option<Arc<SecretsKey>>,
}

impl Deliverer {
    /// A sender resolving receivers' names with the system resolver.
    pub fn new(config: &WebhookConfig) -> Result<Self, rustls::Error> {
        Deliverer::with_resolver(config, Arc::new(SystemResolver))
    }

    /// A sender resolving receivers' names with `resolver`.
    pub fn with_resolver(config: &WebhookConfig, resolver: Arc<dyn Resolve>) -> Result<Self, rustls::Error> {
        let policy = config.address_policy();
        let client = WebhookClient::new(config.request_timeout, policy.clone(), resolver)?;
        Ok(Deliverer { client, config: config.clone(), policy, secrets_key: None })
    }

    /// The same sender opening sealed signing secrets with `key`.
    pub fn with_secrets_key(mut self, key: Arc<SecretsKey>) -> Self {
        self.secrets_key = Some(key);
        self
    }

    /// The wait after failed attempt number `attempt` (1 for the first): `backoff_initial`
    /// doubled per attempt, at most `backoff_max`.
    pub fn backoff(&self, attempt: i32) -> Duration {
        self.config.backoff().delay(u32::try_from(attempt).unwrap_or(0))
    }

    /// Claims the due rows (up to `batch_size`) and sends them, `concurrency` at a time.
    pub async fn deliver_due(&self, db: &Client) -> Result<DeliveryRound, AlertsError> {
        let lease = self.config.lease.as_secs_f64();
        let limit = i64::from(self.config.batch_size);
        let rows = db
            .query(
                "UPDATE webhook_outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
                 FROM webhook_endpoints e
                 WHERE e.id = o.endpoint_id AND o.id IN (
                     SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= now()
                     ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING o.id, o.landlord_id, o.endpoint_id, o.event_type, o.payload::text, o.attempts,
                           e.url, e.secret, e.secret_sealed, e.active",
                &[&limit, &lease],
            )
            .await?;
        let claimed: Vec<Claimed> = rows
            .iter()
            .map(|r| Claimed {
                id: r.get(0),
                landlord_id: r.get(1),
                endpoint_id: r.get(2),
                event_type: r.get(3),
                body: r.get(4),
                attempt: r.get(5),
                url: r.get(6),
                secret: StoredSecret::from_columns(r.get(7), r.get(8)),
                active: r.get(9),
            })
            .collect();
        let mut round = DeliveryRound { claimed: claimed.len(), ..DeliveryRound::default() };
        let concurrency = usize::try_from(self.config.concurrency).unwrap_or(1).max(1);
        let results: Vec<Result<(&'static str, Option<FailureReason>), AlertsError>> = stream::iter(claimed)
            .map(|c| self.deliver_one(db, c))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in results {
            let (logged, failure) = r?;
            match logged {
                "delivered" => round.delivered += 1,
                "dead" => round.dead += 1,
                _ => round.retrying += 1,
            }
            if let Some(reason) = failure {
                round.failures.add(reason);
            }
        }
        Ok(round)
    }

    /// The queue: when the next pending row falls due, how many are pending and dead.
    pub async fn queue(&self, db: &Client) -> Result<Queue, AlertsError> {
        let row = db
            .query_one(
                "SELECT min(next_attempt_at) FILTER (WHERE state = 'pending'),
                        count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'dead')
                 FROM webhook_outbox WHERE state IN ('pending', 'dead')",
                &[],
            )
            .await?;
        Ok(Queue { next_due: row.get(0), pending: row.get(1), dead: row.get(2) })
    }

    async fn attempt(&self, c: &Claimed) -> Outcome {
        if !c.active {
            return Outcome::Failed(Failure::deactivated());
        }
        let url = match check_url(&c.url, &self.policy) {
            Ok(url) => url,
            Err(refusal) => return Outcome::Failed(Failure::refused_url(refusal)),
        };
        let opened = match &c.secret {
            Some(stored) => stored.open(self.secrets_key.as_deref(), &c.landlord_id, c.endpoint_id),
            None => Err("the endpoint has no signing secret".to_owned()),
        };
        let secret = match opened {
            Ok(secret) => secret,
            Err(why) => return Outcome::Failed(Failure::secret(&why)),
        };
        let timestamp = Utc::now().timestamp().to_string();
        let key = c.id.to_string();
        let signature =
            Signed { timestamp: &timestamp, idempotency_key: &key, body: c.body.as_bytes() }.sign(&secret);
        let headers = [
            (TIMESTAMP_HEADER, timestamp),
            (SIGNATURE_HEADER, signature),
            (IDEMPOTENCY_HEADER, key),
            (EVENT_HEADER, c.event_type.clone()),
            (ATTEMPT_HEADER, c.attempt.to_string()),
        ];
        match self.client.post(&url, &headers, Bytes::from(c.body.clone())).await {
            Ok(status) if (200..300).contains(&status) => Outcome::Delivered { status },
            Ok(status) => Outcome::Failed(Failure::status(status)),
            Err(failure) => Outcome::Failed(failure),
        }
    }

    /// Sends one claimed row and records the attempt; returns what the log says and why it
    /// failed, if it did.
    async fn deliver_one(
        &self,
        db: &Client,
        c: Claimed,
    ) -> Result<(&'static str, Option<FailureReason>), AlertsError> {
        let started_at = Utc::now();
        let clock = Instant::now();
        let outcome = self.attempt(&c).await;
        let duration_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
        let last = !c.active || c.attempt >= i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX);
        let (state, logged, status, error) = match &outcome {
            Outcome::Delivered { status } => ("delivered", "delivered", Some(*status), None),
            Outcome::Failed(f) if last => ("dead", "dead", f.status, Some(f.text.as_str())),
            Outcome::Failed(f) => ("pending", "failed", f.status, Some(f.text.as_str())),
        };
        let status = status.map(i32::from);
        let retry_in = self.backoff(c.attempt).as_secs_f64();
        // One statement: the outcome and its log line commit together. The row changes only if
        // this sender still holds it (same attempt number, still pending).
        db.execute(
            "WITH o AS (
                 UPDATE webhook_outbox SET state = $3,
                     delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
                     dead_at = CASE WHEN $3 = 'dead' THEN now() END,
                     next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $4)
                                            ELSE next_attempt_at END,
                     last_error = $5
                 WHERE id = $1 AND state = 'pending' AND attempts = $2
                 RETURNING id)
             INSERT INTO webhook_deliveries (outbox_id, landlord_id, endpoint_id, attempt, started_at, duration_ms,
                 status_code, error, outcome)
             VALUES ($1, $6, $7, $2, $8, $9, $10, $5, $11)",
            &[
                &c.id,
                &c.attempt,
                &state,
                &retry_in,
                &error,
                &c.landlord_id,
                &c.endpoint_id,
                &started_at,
                &duration_ms,
                &status,
                &logged,
            ],
        )
        .await?;
        let failure = match &outcome {
            Outcome::Delivered { .. } => {
                tracing::debug!(outbox = c.id, url = %c.url, "webhook delivered");
                None
            }
            Outcome::Failed(f) => {
                let (reason, error, detail) =
                    (f.reason.label(), f.text.as_str(), f.detail.as_deref().unwrap_or(""));
                if last {
                    tracing::warn!(outbox = c.id, url = %c.url, attempts = c.attempt, reason, error, detail, "webhook dead-lettered");
                } else {
                    tracing::info!(outbox = c.id, url = %c.url, attempt = c.attempt, reason, error, detail, "webhook attempt failed");
                }
                Some(f.reason)
            }
        };
        Ok((logged, failure))
    }
}
