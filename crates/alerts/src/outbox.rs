//! Queuing webhooks: one `webhook_outbox` row per active endpoint of the landlord, in the
//! caller's transaction, so a webhook exists exactly when the change it reports committed.

use serde_json::Value;
use tokio_postgres::Transaction;

use crate::error::AlertsError;

/// Queues `payload` for every active endpoint of `landlord_id`; returns how many rows.
pub async fn enqueue(
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
