//! The webhook body: `{schema, type, event_id, occurred_at, landlord_id, alert, explanation,
//! case, deadlines}`, read back from the rows the transaction just wrote so it says exactly
//! what was committed. `alert`, `case` and `deadlines` are the landlord API's own view types
//! (`dampwatch_store::read_model`): a receiver reads the same fields under the same names as
//! an API client, and the API's OpenAPI document describes both ([`WebhookEvent`]).
//! `event_id` is the same for every endpoint (`alert:<id>:rev:<n>` or `case:<id>:event:<n>`);
//! the `Idempotency-Key` header is per delivery row.

use chrono::{DateTime, Utc};
use dampwatch_store::read_model::{self, Alert, CaseDetail, Deadline};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Transaction;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::error::AlertsError;

/// Version of the body's shape, sent as `schema`. Version 2 carries the API's view types
/// (`status` everywhere, the room as an object).
pub const PAYLOAD_SCHEMA: &str = "dampwatch-webhook/2";

/// A webhook's body.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// The version of this shape: `dampwatch-webhook/2`.
    #[schema(pattern = "^dampwatch-webhook/2$")]
    pub schema: String,
    /// alert.raised, alert.reopened (a new episode of the same alert), alert.updated,
    /// alert.cleared or case.updated.
    #[serde(rename = "type")]
    #[schema(pattern = "^(alert\\.(raised|reopened|updated|cleared)|case\\.updated)$")]
    pub event_type: String,
    /// The same for every endpoint: `alert:<id>:rev:<n>` or `case:<id>:event:<n>`.
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub landlord_id: String,
    /// The alert as `GET /v1/alerts` lists it, for an alert's event or a case that an alert
    /// raised.
    #[schema(required = true)]
    pub alert: Option<Alert>,
    /// Why the alert was raised (its findings), with the alert.
    #[schema(required = true)]
    pub explanation: Option<Explanation>,
    /// The case as `GET /v1/cases/{id}` answered at the moment of the event (its view and
    /// deadlines as of then).
    #[schema(required = true)]
    pub case: Option<CaseDetail>,
    /// The case's deadlines (the same as `case.deadlines`); empty without a case.
    pub deadlines: Vec<Deadline>,
}

/// Version of a batch's shape, sent as `schema`.
pub const BATCH_SCHEMA: &str = "dampwatch-webhook-batch/1";

/// The body of a batch: a landlord's advisory events (alerts without a legal clock) gathered
/// into one delivery per endpoint, for landlords who chose daily batches. Each event is the
/// body it would have had alone, with its own `event_id` to deduplicate on.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WebhookBatch {
    /// The version of this shape: `dampwatch-webhook-batch/1`.
    #[schema(pattern = "^dampwatch-webhook-batch/1$")]
    pub schema: String,
    /// Always `alert.batch`.
    #[serde(rename = "type")]
    #[schema(pattern = "^alert\\.batch$")]
    pub event_type: String,
    /// `batch:<endpoint id>:<first item id>`: the same on every attempt.
    pub event_id: String,
    /// When the batch was gathered.
    pub occurred_at: DateTime<Utc>,
    pub landlord_id: String,
    /// The events, oldest first.
    pub events: Vec<WebhookEvent>,
}

/// An alert's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Explanation {
    /// One paragraph for people.
    pub summary: String,
    /// The findings: rule with version and source, values, window.
    #[schema(value_type = Object)]
    pub alert: Value,
}

/// Builds the body of an `event_type` webhook about an alert and/or a case.
pub async fn build(
    tx: &Transaction<'_>,
    event_type: &str,
    event_id: &str,
    occurred_at: DateTime<Utc>,
    alert_id: Option<i64>,
    case_id: Option<i64>,
) -> Result<Value, AlertsError> {
    let mut landlord: Option<String> = None;
    let (mut alert, mut explanation) = (None, None);
    if let Some(id) = alert_id {
        let mut found = read_model::alert::find(tx, id)
            .await?
            .ok_or(AlertsError::UnknownValue { what: "alerts.id of a webhook", value: id.to_string() })?;
        let detail = found.explanation.take().unwrap_or(Value::Null);
        explanation = Some(Explanation { summary: found.summary.clone(), alert: detail });
        alert = Some(found);
        landlord = Some(tx.query_one("SELECT landlord_id FROM alerts WHERE id = $1", &[&id]).await?.get(0));
    }
    let (mut case, mut deadlines) = (None, Vec::new());
    if let Some(id) = case_id {
        let found = read_model::case::find(tx, id).await?.ok_or(AlertsError::CaseNotFound(id))?;
        let view = read_model::case::stored_view(tx, id).await?.unwrap_or(Value::Null);
        deadlines = read_model::deadline::of_case(tx, id).await?;
        let events = read_model::case::events(tx, id).await?;
        // What the case accepts next comes from replaying it, as the API does.
        let replayed = crate::cases::lock_case(tx, id).await?;
        let allowed_events =
            replayed.case.allowed_events().into_iter().map(|k| k.as_str().to_owned()).collect();
        if landlord.is_none() {
            landlord = Some(replayed.landlord_id);
        }
        case = Some(CaseDetail { case: found, allowed_events, view, deadlines: deadlines.clone(), events });
    }
    let body = WebhookEvent {
        schema: PAYLOAD_SCHEMA.to_owned(),
        event_type: event_type.to_owned(),
        event_id: event_id.to_owned(),
        occurred_at,
        landlord_id: landlord.ok_or(AlertsError::UnknownValue {
            what: "webhook without an alert or a case",
            value: event_id.to_owned(),
        })?,
        alert,
        explanation,
        case,
        deadlines,
    };
    serde_json::to_value(body).map_err(AlertsError::json("webhook body"))
}

/// The OpenAPI schemas of a webhook body: [`WebhookEvent`] and every schema it refers to, by
/// name. The API's document holds exactly these too.
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = Vec::new();
    WebhookEvent::schemas(&mut schemas);
    schemas.push((WebhookEvent::name().into_owned(), WebhookEvent::schema()));
    schemas.push((WebhookBatch::name().into_owned(), WebhookBatch::schema()));
    schemas
}

/// A JSON Schema of a webhook body (a [`WebhookEvent`], or a [`WebhookBatch`] of them),
/// self-contained: `{"anyOf": [{"$ref": ...}, ...], "components": {"schemas": ...}}`, so a
/// receiver (or a test) can check a body against the very schemas the API publishes.
pub fn json_schema() -> Value {
    let components: serde_json::Map<String, Value> = schemas()
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or(Value::Null)))
        .collect();
    serde_json::json!({
        "anyOf": [
            {"$ref": format!("#/components/schemas/{}", WebhookEvent::name())},
            {"$ref": format!("#/components/schemas/{}", WebhookBatch::name())},
        ],
        "components": {"schemas": components},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of `value`.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_schema_names_every_schema_it_refers_to() {
        let schema = json_schema();
        let mut found = Vec::new();
        refs(&schema, &mut found);
        for name in ["WebhookEvent", "WebhookBatch", "Alert", "CaseDetail", "Deadline", "Room"] {
            assert!(found.contains(&format!("#/components/schemas/{name}")), "{name}");
        }
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").expect("a component");
            assert!(schema["components"]["schemas"].get(name).is_some(), "{r}");
        }
    }
}
