//! `GET /v1/webhooks/deliveries`: the landlord's webhook log. One item per message (an event
//! for one receiver) with its state (pending, delivered, or dead: given up on and kept for an
//! operator) and every delivery attempt. Receivers' signing secrets are never shown.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::extract::QueryParams;
use crate::paging::{id_cursor, page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// One delivery attempt.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// delivered, failed (retried later) or dead (the last attempt).
    pub outcome: String,
}

/// A webhook message and its attempts.
#[derive(Debug, Serialize)]
pub struct MessageView {
    /// Also the idempotency key receivers deduplicate on.
    pub id: i64,
    pub endpoint_id: i64,
    pub endpoint_url: String,
    /// alert.raised, alert.updated, alert.cleared, case.updated, ...
    pub event_type: String,
    pub alert_id: Option<i64>,
    pub case_id: Option<i64>,
    /// pending, delivered or dead.
    pub state: String,
    pub attempt_count: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub dead_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    Pending,
    Delivered,
    Dead,
}

/// Filters of `GET /v1/webhooks/deliveries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    state: Option<MessageState>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<DeliveryQuery>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let limit = page_limit(q.limit, &state.config)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let wanted = q.state.map(|s| match s {
        MessageState::Pending => "pending",
        MessageState::Delivered => "delivered",
        MessageState::Dead => "dead",
    });
    let tx = tenant.transaction().await?;
    let rows = tx
        .query(
            "SELECT o.id, o.endpoint_id, e.url, o.event_type, o.alert_id, o.case_id, o.state, o.attempts,
                    o.created_at, o.next_attempt_at, o.delivered_at, o.dead_at, o.last_error
             FROM webhook_outbox o JOIN webhook_endpoints e ON e.id = o.endpoint_id
             WHERE ($1::text IS NULL OR o.state = $1) AND ($2::bigint IS NULL OR o.id < $2)
             ORDER BY o.id DESC LIMIT $3",
            &[&wanted, &before, &(limit + 1)],
        )
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let attempt_rows = tx
        .query(
            "SELECT outbox_id, attempt, started_at, duration_ms, status_code, error, outcome
             FROM webhook_deliveries WHERE outbox_id = ANY($1) ORDER BY outbox_id, attempt",
            &[&ids],
        )
        .await?;
    tx.commit().await?;
    let mut attempts: HashMap<i64, Vec<AttemptView>> = HashMap::new();
    for r in &attempt_rows {
        attempts.entry(r.get(0)).or_default().push(AttemptView {
            attempt: r.get(1),
            started_at: r.get(2),
            duration_ms: r.get(3),
            status_code: r.get(4),
            error: r.get(5),
            outcome: r.get(6),
        });
    }
    let items = rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let state: String = r.get(6);
            let next_attempt_at: DateTime<Utc> = r.get(9);
            MessageView {
                id,
                endpoint_id: r.get(1),
                endpoint_url: r.get(2),
                event_type: r.get(3),
                alert_id: r.get(4),
                case_id: r.get(5),
                // Only a pending message has a next attempt.
                next_attempt_at: (state == "pending").then_some(next_attempt_at),
                state,
                attempt_count: r.get(7),
                created_at: r.get(8),
                delivered_at: r.get(10),
                dead_at: r.get(11),
                last_error: r.get(12),
                attempts: attempts.remove(&id).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Json(Page::from_rows(items, limit, |m: &MessageView| m.id.to_string())))
}
