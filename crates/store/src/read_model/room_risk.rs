//! A room's current risk level as its landlord sees it: one word to sort a portfolio by,
//! derived by the hazard worker from the room's open alerts and mould index (the model is
//! dampwatch-indicators `RoomRisk`, versioned; `docs/alert-stories.md` documents it) and stored
//! with the room's state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::{GenericClient, Row};
use utoipa::ToSchema;

use super::{load, room, text_enum, Room, ROOM_COLUMNS, ROOM_JOIN};

text_enum! {
    /// How much a room needs attention now, from least to most.
    pub enum RiskLevel {
        /// The data shows nothing that needs attention.
        Low = "low",
        /// No data to judge by (the device is offline, or no reading yet): never read as low.
        Unknown = "unknown",
        /// Advice: poor ventilation, or early mould risk (mould index half-way to microscopic
        /// growth).
        Elevated = "elevated",
        /// An open amber alert with a legal clock (damp, cold, heat).
        High = "high",
        /// An open red alert with a legal clock.
        Severe = "severe",
    }
}

/// A watched room and its risk level.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RoomRisk {
    pub room: Room,
    pub risk_level: RiskLevel,
    /// Why, one sentence per contribution, the highest first.
    pub reasons: Vec<String>,
    /// The VTT mould index at the newest reading.
    #[schema(required = true)]
    pub mould_index: Option<f64>,
    /// The version of the risk model that judged it.
    pub model_version: String,
    /// Hazards with an open alert.
    pub open_hazards: Vec<String>,
    /// Data time of the newest reading.
    #[schema(required = true)]
    pub last_reading_at: Option<DateTime<Utc>>,
    /// When it was last judged.
    pub evaluated_at: DateTime<Utc>,
}

/// Which rooms to list: by room key, all filters optional.
#[derive(Debug, Clone, Default)]
pub struct RoomRiskFilter<'a> {
    pub risk_level: Option<RiskLevel>,
    /// Only keys after this (the page cursor).
    pub after: Option<&'a str>,
    pub limit: i64,
}

fn read(row: &Row) -> Result<RoomRisk, tokio_postgres::Error> {
    let risk: Value = row.try_get(8)?;
    let reasons = risk["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok(RoomRisk {
        room: room(row, 0)?,
        risk_level: row.try_get(7)?,
        reasons,
        mould_index: risk["mould_index"].as_f64(),
        model_version: risk["model_version"].as_str().unwrap_or_default().to_owned(),
        open_hazards: row.try_get(9)?,
        last_reading_at: row.try_get(10)?,
        evaluated_at: row.try_get(11)?,
    })
}

/// Watched rooms by key.
pub async fn list<C>(client: &C, filter: &RoomRiskFilter<'_>) -> Result<Vec<RoomRisk>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let level = filter.risk_level.map(RiskLevel::as_str);
    let sql = format!(
        "SELECT {ROOM_COLUMNS}, t.risk_level, t.risk, t.open_hazards, t.last_reading_at, t.evaluated_at
         FROM room_hazard_state t {ROOM_JOIN}
         WHERE ($1::text IS NULL OR t.risk_level = $1) AND ($2::text IS NULL OR t.room_key > $2)
         ORDER BY t.room_key LIMIT $3"
    );
    load(client, &sql, &[&level, &filter.after, &filter.limit], read).await
}
