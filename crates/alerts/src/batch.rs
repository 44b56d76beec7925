//! Daily batches of advisory webhooks: the events of alerts without a legal clock, for
//! landlords who chose `daily` delivery, wait in `webhook_batch_items` (written in the
//! transaction that made the change, see [`crate::outbox`]) until their landlord's batch time.
//!
//! Releasing gathers the due items of each endpoint into one `webhook_outbox` row (the body is
//! a [`crate::payload::WebhookBatch`]) and marks every item with that row, in one transaction:
//! a crash before the commit leaves the items waiting, after it they are in exactly one batch,
//! which the outbox delivers at least once under one idempotency key like any webhook. Each
//! event in a batch keeps its own `event_id`, so a receiver that already saw one (for instance
//! sent at once before the landlord switched to batches) can drop it.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::error::AlertsError;
use crate::payload::BATCH_SCHEMA;

/// Items gathered per transaction; an endpoint with more due items gets several batches.
const ITEMS_PER_ROUND: i64 = 500;

/// What a release did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Outbox rows written, one per endpoint with due items.
    pub batches: u64,
    /// Items they carry.
    pub items: u64,
}

/// Gathers every item due at `now` into batches, one transaction per round of at most
/// [`ITEMS_PER_ROUND`] items. Items another process is gathering are skipped this time.
pub async fn release_due(client: &mut Client, now: DateTime<Utc>) -> Result<Released, AlertsError> {
    let mut released = Released::default();
    loop {
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT id, landlord_id, endpoint_id, payload FROM webhook_batch_items
                 WHERE outbox_id IS NULL AND due_at <= $1
                 ORDER BY endpoint_id, id LIMIT $2 FOR UPDATE SKIP LOCKED",
                &[&now, &ITEMS_PER_ROUND],
            )
            .await?;
        let count = rows.len();
        let mut batches: Vec<(String, i64, Vec<i64>, Vec<Value>)> = Vec::new();
        for r in rows {
            let (id, landlord_id, endpoint_id, payload): (i64, String, i64, Value) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            match batches.last_mut() {
                Some(b) if b.1 == endpoint_id => {
                    b.2.push(id);
                    b.3.push(payload);
                }
                _ => batches.push((landlord_id, endpoint_id, vec![id], vec![payload])),
            }
        }
        for (landlord_id, endpoint_id, ids, events) in batches {
            let body = json!({
                "schema": BATCH_SCHEMA,
                "type": "alert.batch",
                "event_id": format!("batch:{endpoint_id}:{}", ids[0]),
                "occurred_at": now,
                "landlord_id": landlord_id,
                "events": events,
            });
            let outbox_id: i64 = tx
                .query_one(
                    "INSERT INTO webhook_outbox (landlord_id, endpoint_id, event_type, payload)
                     VALUES ($1, $2, 'alert.batch', $3) RETURNING id",
                    &[&landlord_id, &endpoint_id, &body],
                )
                .await?
                .get(0);
            tx.execute(
                "UPDATE webhook_batch_items SET outbox_id = $1 WHERE id = ANY($2)",
                &[&outbox_id, &ids],
            )
            .await?;
            released.batches += 1;
            released.items += u64::try_from(ids.len()).unwrap_or(u64::MAX);
        }
        tx.commit().await?;
        if i64::try_from(count).unwrap_or(i64::MAX) < ITEMS_PER_ROUND {
            return Ok(released);
        }
    }
}

/// When the next waiting item falls due, if any waits.
pub async fn next_due(client: &Client) -> Result<Option<DateTime<Utc>>, AlertsError> {
    Ok(client
        .query_one("SELECT min(due_at) FROM webhook_batch_items WHERE outbox_id IS NULL", &[])
        .await?
        .get(0))
}
