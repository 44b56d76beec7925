//! Queuing webhooks: one `webhook_outbox` row per active endpoint of the landlord, in the
//! caller's transaction, so a webhook exists exactly when the change it reports committed.
//!
//! Advisory events (alerts without a legal clock: [`Duty::Advisory`]) of a landlord who chose
//! daily batches wait in `webhook_batch_items` instead, written in the same transaction, until
//! [`crate::batch::release_due`] gathers them into one outbox row per endpoint. Everything with a
//! legal clock, and every case change, goes to the outbox at once whatever the landlord chose.
//!
//! [`enqueue_event`] is the one place events are queued: the same call queues the e-mails of
//! the people concerned ([`crate::email::queue`]), in the same transaction.

use chrono::{DateTime, Utc};
use dampwatch_indicators::Duty;
use serde_json::Value;
use tokio_postgres::Transaction;

use crate::email;
use crate::email::queue::EmailsQueued;
use crate::error::AlertsError;

/// What was queued for an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    /// Outbox rows, sent at once.
    pub immediate: u64,
    /// Rows waiting for the landlord's next batch.
    pub batched: u64,
    /// E-mails and digest items for people.
    pub emails: EmailsQueued,
}

/// Queues `payload` for every active endpoint of `landlord_id`; returns how many rows.
async fn enqueue_webhooks(
    tx: &Transaction<'_>,
    landlord_id: &str,
    event_type: &str,
    alert_id: Option<i64>,
    case_id: Option<i64>,
    payload: &Value,
) -> Result<u64, AlertsError> {
    Ok(tx
        .execute(
            "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, alert_id, case_id, payload)
             SELECT $1, id, $2, $3, $4, $5 FROM webhook_endpoints WHERE landlord_id = $1 AND active
             ORDER BY id",
            &[&landlord_id, &event_type, &alert_id, &case_id, payload],
        )
        .await?)
}

/// Queues an event (about an alert, a case, or both) as its duty and the landlord's choice
/// say: its e-mails for the people concerned; its webhooks, an advisory alert event of a
/// landlord with daily batches waiting for the next batch after `now`, anything else going to
/// the outbox at once. A case's events carry [`Duty::LegalClock`].
pub async fn enqueue_event(
    tx: &Transaction<'_>,
    landlord_id: &str,
    duty: Duty,
    event_type: &str,
    (alert_id, case_id): (Option<i64>, Option<i64>),
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<Queued, AlertsError> {
    let emails =
        email::queue::enqueue(tx, landlord_id, duty, event_type, (alert_id, case_id), payload).await?;
    if let Some(alert_id) = alert_id.filter(|_| duty == Duty::Advisory) {
        if !advisory_in_batches(tx, landlord_id).await? {
            let immediate =
                enqueue_webhooks(tx, landlord_id, event_type, Some(alert_id), case_id, payload).await?;
            return Ok(Queued { immediate, batched: 0, emails });
        }
        let batched = tx
            .execute(
                "INSERT INTO webhook_batch_items (landlord_id, endpoint_id, event_type, alert_id, payload, due_at)
                 SELECT $1, e.id, $2, $3, $4, advisory_batch_due(l.advisory_batch_time, $5)
                 FROM webhook_endpoints e JOIN landlords l ON l.id = e.landlord_id
                 WHERE e.landlord_id = $1 AND e.active
                 ORDER BY e.id",
                &[&landlord_id, &event_type, &alert_id, payload, &now],
            )
            .await?;
        return Ok(Queued { immediate: 0, batched, emails });
    }
    let immediate = enqueue_webhooks(tx, landlord_id, event_type, alert_id, case_id, payload).await?;
    Ok(Queued { immediate, batched: 0, emails })
}

/// Whether the landlord has advisory events sent in daily batches.
async fn advisory_in_batches(tx: &Transaction<'_>, landlord_id: &str) -> Result<bool, AlertsError> {
    let row = tx.query_opt("SELECT advisory_webhooks FROM landlords WHERE id = $1", &[&landlord_id]).await?;
    Ok(row.is_some_and(|r| r.get::<_, &str>(0) == "daily"))
}
