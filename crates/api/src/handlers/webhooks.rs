//! `GET /v1/webhooks/deliveries`: the landlord's webhook log. One item per message (an event
//! for one receiver) with its status (pending, delivered, or dead: given up on and kept for an
//! operator) and every delivery attempt. Receivers' signing secrets are never shown.

use std::collections::HashMap;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryParams;
use crate::openapi::{ProblemDocument, WebhookMessagePage};
use crate::paging::{id_cursor, page_limit, Page};
use crate::problem::ApiError;
use crate::state::ApiState;
use crate::tenant::Tenant;

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    #[schema(minimum = 1)]
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    #[schema(minimum = 0)]
    pub duration_ms: i32,
    /// The receiver's HTTP status, if it answered.
    #[schema(required = true, minimum = 100, maximum = 999)]
    pub status_code: Option<i32>,
    /// A fixed reason (never the receiver's answer).
    #[schema(required = true)]
    pub error: Option<String>,
    /// delivered, failed (retried later) or dead (the last attempt).
    #[schema(pattern = "^(delivered|failed|dead)$")]
    pub outcome: String,
}

/// A webhook message and its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessage {
    /// Also the idempotency key receivers deduplicate on.
    pub id: i64,
    pub endpoint_id: i64,
    pub endpoint_url: String,
    /// alert.raised, alert.updated, alert.cleared, case.updated, ...
    pub event_type: String,
    #[schema(required = true)]
    pub alert_id: Option<i64>,
    #[schema(required = true)]
    pub case_id: Option<i64>,
    pub status: MessageStatus,
    #[schema(minimum = 0)]
    pub attempt_count: i32,
    pub created_at: DateTime<Utc>,
    /// Only a pending message has one.
    #[schema(required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub dead_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// Where a message stands: pending, delivered, or dead (given up on and kept for an operator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Delivered,
    Dead,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Dead => "dead",
        }
    }

    fn parse(stored: &str) -> Result<Self, ApiError> {
        [MessageStatus::Pending, MessageStatus::Delivered, MessageStatus::Dead]
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| ApiError::Internal(format!("webhook_outbox.state {stored:?}")))
    }
}

/// Filters of `GET /v1/webhooks/deliveries` (any other parameter is refused).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only messages with this status (dead: dead letters).
    #[param(inline)]
    status: Option<MessageStatus>,
    /// Items per page (default and maximum set by the operator).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    cursor: Option<String>,
}

impl DeliveryQuery {
    /// The newest `limit` messages (with `status`, if given).
    pub fn new(status: Option<MessageStatus>, limit: u32) -> Self {
        DeliveryQuery { status, limit: Some(limit), cursor: None }
    }
}

/// Webhook delivery log
///
/// Webhook messages, newest first, with every delivery attempt; dead letters are messages
/// given up on.
#[utoipa::path(
    get,
    path = "/v1/webhooks/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "A page of messages.", body = WebhookMessagePage),
        (status = 400, description = "A query parameter is not valid.", body = ProblemDocument,
            content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    mut tenant: Tenant,
    QueryParams(q): QueryParams<DeliveryQuery>,
) -> Result<Json<Page<WebhookMessage>>, ApiError> {
    let limit = page_limit(q.limit, &state.config)?;
    let before = id_cursor(q.cursor.as_deref())?;
    let wanted = q.status.map(MessageStatus::as_str);
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
    let mut attempts: HashMap<i64, Vec<DeliveryAttempt>> = HashMap::new();
    for r in &attempt_rows {
        attempts.entry(r.get(0)).or_default().push(DeliveryAttempt {
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
            let status = MessageStatus::parse(r.get(6))?;
            let next_attempt_at: DateTime<Utc> = r.get(9);
            Ok(WebhookMessage {
                id,
                endpoint_id: r.get(1),
                endpoint_url: r.get(2),
                event_type: r.get(3),
                alert_id: r.get(4),
                case_id: r.get(5),
                // Only a pending message has a next attempt.
                next_attempt_at: (status == MessageStatus::Pending).then_some(next_attempt_at),
                status,
                attempt_count: r.get(7),
                created_at: r.get(8),
                delivered_at: r.get(10),
                dead_at: r.get(11),
                last_error: r.get(12),
                attempts: attempts.remove(&id).unwrap_or_default(),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(Page::from_rows(items, limit, |m: &WebhookMessage| m.id.to_string())))
}
