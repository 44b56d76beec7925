//! A hazard alert: one per room and hazard while open, updated in place (its `revision`) as
//! the condition changes, and cleared when it is gone. A condition that comes back within the
//! quiet period opens the same alert again with a new episode, so the alert tells the story of
//! the condition in that room: its `episodes`, each with when it began and ended.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::{GenericClient, Row};
use utoipa::ToSchema;

use super::{load, room, text_enum, Room, ROOM_COLUMNS, ROOM_JOIN};

text_enum! {
    /// Whether the condition is still there.
    pub enum AlertStatus {
        Open = "open",
        Cleared = "cleared",
    }
}

text_enum! {
    /// How bad it is.
    pub enum Severity {
        Amber = "amber",
        Red = "red",
    }
}

text_enum! {
    /// What the alert means for the landlord's legal duties.
    pub enum AlertDuty {
        /// It indicates a potential HHSRS hazard (a potential emergency or significant hazard,
        /// as a person's triage decides): it opens or joins a case whose response clock starts
        /// at detection or at triage, under the home's law. Always sent at once.
        LegalClock = "legal_clock",
        /// Advice with no legal clock (poor ventilation, a device offline); its webhooks may
        /// go out in the landlord's daily batch.
        Advisory = "advisory",
    }
}

text_enum! {
    /// Where a person's triage of the alert stands.
    pub enum AlertTriage {
        /// The alert indicates no HHSRS hazard (e.g. a device offline): nothing to triage.
        NotApplicable = "not_applicable",
        /// Waiting for a person's decision (the landlord's policy `open_on_triage`).
        AwaitingTriage = "awaiting_triage",
        /// A case holds it (`case_id`).
        CaseOpened = "case_opened",
    }
}

/// A hazard alert. Lists leave the explanation out; a single alert (and a webhook, in its
/// `explanation` member) has it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Alert {
    pub id: i64,
    pub room: Room,
    /// Indicator hazard: damp_and_mould_growth, excess_cold, excess_heat, poor_ventilation,
    /// device_offline, ...
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub hazard: String,
    /// The HHSRS (2006) hazard it indicates, if any (only those can open a case).
    #[schema(required = true)]
    pub hhsrs_hazard: Option<String>,
    pub status: AlertStatus,
    pub severity: Severity,
    /// Data time the condition began (the earliest finding).
    pub since: DateTime<Utc>,
    /// When the system raised it.
    pub raised_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Data time the condition was seen gone.
    #[schema(required = true)]
    pub cleared_at: Option<DateTime<Utc>>,
    /// 1 when raised, one more at every change reported by webhook. The summary and the
    /// explanation of a pattern (nights or days counted) are kept current in between.
    #[schema(minimum = 1)]
    pub revision: i32,
    /// Whether it runs a legal clock or is advice.
    pub duty: AlertDuty,
    /// The current (newest) episode: 1 when raised, one more each time the condition came back
    /// within the quiet period and opened the alert again.
    #[schema(minimum = 1)]
    pub episode: i32,
    pub rule_ids: Vec<String>,
    pub ruleset_version: String,
    /// One paragraph for people.
    pub summary: String,
    pub triage: AlertTriage,
    /// Only in the API's answers about an alert awaiting triage: when a person should decide
    /// (the triage review period after `raised_at`), and where that stands as of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage_review: Option<TriageReview>,
    #[schema(required = true)]
    pub case_id: Option<i64>,
    /// Only on `GET /v1/alerts/{id}` and in webhooks: every episode, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episodes: Option<Vec<AlertEpisode>>,
    /// Only on `GET /v1/alerts/{id}`: the findings (rule with version and source, values,
    /// window).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<Value>,
}

/// One spell of an alert's condition: from when it began to when it was seen gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AlertEpisode {
    /// 1 for the alert's first.
    #[schema(minimum = 1)]
    pub episode: i32,
    /// Data time the condition began.
    pub since: DateTime<Utc>,
    /// When the system raised (or re-opened) the alert for it.
    pub raised_at: DateTime<Utc>,
    /// Data time the condition was seen gone; null while it lasts.
    #[schema(required = true)]
    pub cleared_at: Option<DateTime<Utc>>,
    /// The highest severity it reached.
    pub severity: Severity,
}

/// The review deadline of an alert waiting for a person's triage (product policy, not law).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TriageReview {
    pub due: DateTime<Utc>,
    /// on_track, due_soon or overdue.
    #[schema(pattern = "^(on_track|due_soon|overdue)$")]
    pub status: String,
}

/// The select list of [`read`] over `alerts t` joined with [`ROOM_JOIN`].
fn select(with_explanation: bool) -> String {
    format!(
        "SELECT t.id, {ROOM_COLUMNS}, t.hazard, t.hhsrs_hazard, t.status, t.severity, t.since, t.raised_at,
                t.updated_at, t.cleared_at, t.revision, t.rule_ids, t.ruleset_version, t.summary, t.triage,
                t.case_id, t.duty, t.episodes{}
         FROM alerts t {ROOM_JOIN}",
        if with_explanation { ", t.explanation" } else { "" }
    )
}

fn read(row: &Row, with_explanation: bool) -> Result<Alert, tokio_postgres::Error> {
    Ok(Alert {
        id: row.try_get(0)?,
        room: room(row, 1)?,
        hazard: row.try_get(8)?,
        hhsrs_hazard: row.try_get(9)?,
        status: row.try_get(10)?,
        severity: row.try_get(11)?,
        since: row.try_get(12)?,
        raised_at: row.try_get(13)?,
        updated_at: row.try_get(14)?,
        cleared_at: row.try_get(15)?,
        revision: row.try_get(16)?,
        rule_ids: row.try_get(17)?,
        ruleset_version: row.try_get(18)?,
        summary: row.try_get(19)?,
        triage: row.try_get(20)?,
        triage_review: None,
        case_id: row.try_get(21)?,
        duty: row.try_get(22)?,
        episode: row.try_get(23)?,
        episodes: None,
        explanation: if with_explanation { row.try_get(24)? } else { None },
    })
}

/// Which alerts to list: newest first, all filters optional.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter<'a> {
    pub status: Option<AlertStatus>,
    pub hazard: Option<&'a str>,
    pub triage: Option<AlertTriage>,
    /// Only ids below this (the page cursor).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Alerts without their explanations, newest first.
pub async fn list<C>(client: &C, filter: &AlertFilter<'_>) -> Result<Vec<Alert>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!(
        "{} WHERE ($1::text IS NULL OR t.status = $1) AND ($2::text IS NULL OR t.hazard = $2)
              AND ($3::text IS NULL OR t.triage = $3) AND ($4::bigint IS NULL OR t.id < $4)
         ORDER BY t.id DESC LIMIT $5",
        select(false)
    );
    let status = filter.status.map(AlertStatus::as_str);
    let triage = filter.triage.map(AlertTriage::as_str);
    load(client, &sql, &[&status, &filter.hazard, &triage, &filter.before, &filter.limit], |r| read(r, false))
        .await
}

/// Alerts waiting for a person's triage, earliest raised first, without their explanations.
pub async fn awaiting_triage<C>(client: &C) -> Result<Vec<Alert>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!("{} WHERE t.triage = 'awaiting_triage' ORDER BY t.raised_at, t.id", select(false));
    load(client, &sql, &[], |r| read(r, false)).await
}

/// The alerts of the room `room_key` that were open at some time in `[from, to)`: raised
/// before `to` and not cleared before `from`; earliest raised first, without explanations.
pub async fn of_room<C>(
    client: &C,
    room_key: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Alert>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!(
        "{} WHERE t.room_key = $1 AND t.raised_at < $3 AND (t.cleared_at IS NULL OR t.cleared_at >= $2)
         ORDER BY t.raised_at, t.id",
        select(false)
    );
    load(client, &sql, &[&room_key, &from, &to], |r| read(r, false)).await
}

/// One alert with its explanation and episodes, if it exists (and, in a tenant transaction, is
/// the landlord's).
pub async fn find<C>(client: &C, id: i64) -> Result<Option<Alert>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    let sql = format!("{} WHERE t.id = $1", select(true));
    let Some(mut alert) = client.query_opt(&sql, &[&id]).await?.map(|r| read(&r, true)).transpose()? else {
        return Ok(None);
    };
    alert.episodes = Some(episodes(client, id).await?);
    Ok(Some(alert))
}

/// An alert's episodes, oldest first.
pub async fn episodes<C>(client: &C, alert_id: i64) -> Result<Vec<AlertEpisode>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    load(
        client,
        "SELECT episode, since, raised_at, cleared_at, severity FROM alert_episodes WHERE alert_id = $1
         ORDER BY episode",
        &[&alert_id],
        |r| {
            Ok(AlertEpisode {
                episode: r.try_get(0)?,
                since: r.try_get(1)?,
                raised_at: r.try_get(2)?,
                cleared_at: r.try_get(3)?,
                severity: r.try_get(4)?,
            })
        },
    )
    .await
}
