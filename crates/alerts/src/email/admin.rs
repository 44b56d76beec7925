//! What people, operators and landlords' admins do about e-mail: a person's own preferences
//! (`GET/PUT /v1/me/notifications`), bounces the mail system reported (an address with an
//! uncleared bounce is not mailed; `dampwatch email bounce`) and the e-mails that failed
//! (`dampwatch email failures`, `GET /v1/email/failures`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;
use utoipa::ToSchema;

use crate::error::AlertsError;

/// An e-mail given up on (refused for good, out of attempts) or not sent because its address
/// bounces, or one still being retried after a failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EmailFailure {
    pub outbox_id: i64,
    pub landlord_id: String,
    pub address: String,
    /// event or digest
    pub kind: String,
    pub event_type: String,
    pub case_id: Option<i64>,
    /// failed, suppressed (bounced address), or pending (being retried)
    pub state: String,
    pub attempts: i32,
    /// The SMTP server's reply code of the last attempt, if it answered.
    pub smtp_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub failed_at: Option<DateTime<Utc>>,
}

/// A bounce the mail system reported.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Bounce {
    pub address: String,
    pub landlord_id: Option<String>,
    pub reason: String,
    pub reported_at: DateTime<Utc>,
    pub reported_by: String,
}

/// What a person receives by e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// An e-mail at once for anything that starts or changes a legal clock (an alert with a
    /// legal clock raised or re-opened, a case's change).
    pub immediate: bool,
    /// The daily digest: advisory alerts and other alert changes, and deadlines due within the
    /// next two working days.
    pub daily_digest: bool,
}

/// A person's preferences in force, and whether they are their role's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct EffectivePreferences {
    /// As in [`NotificationPreferences`].
    pub immediate: bool,
    /// As in [`NotificationPreferences`].
    pub daily_digest: bool,
    /// No choice made yet: the role's defaults apply (admins and housing officers: both;
    /// contractors: immediate e-mails of the cases assigned to them; auditors: none).
    pub role_defaults: bool,
}

/// The preferences in force for `user_id`; `None` for someone of no landlord (an operator) or
/// a disabled account.
pub async fn preferences<C: GenericClient>(
    db: &C,
    user_id: i64,
) -> Result<Option<EffectivePreferences>, AlertsError> {
    let row = db
        .query_opt(
            "SELECT immediate, daily_digest, defaults FROM email_preferences_effective() WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    Ok(row.map(|r| EffectivePreferences {
        immediate: r.get(0),
        daily_digest: r.get(1),
        role_defaults: r.get(2),
    }))
}

/// Sets `user_id`'s preferences; false for someone of no landlord.
pub async fn set_preferences<C: GenericClient>(
    db: &C,
    user_id: i64,
    p: NotificationPreferences,
) -> Result<bool, AlertsError> {
    let n = db
        .execute(
            "INSERT INTO email_preferences (user_id, landlord_id, immediate, daily_digest)
             SELECT id, landlord_id, $2, $3 FROM users WHERE id = $1 AND landlord_id IS NOT NULL
             ON CONFLICT (user_id) DO UPDATE SET immediate = EXCLUDED.immediate,
                 daily_digest = EXCLUDED.daily_digest, updated_at = now()",
            &[&user_id, &p.immediate, &p.daily_digest],
        )
        .await?;
    Ok(n == 1)
}

/// The newest `limit` failed, suppressed or retrying e-mails (the caller's row-level security
/// confines a landlord's request to its own).
pub async fn failures<C: GenericClient>(db: &C, limit: i64) -> Result<Vec<EmailFailure>, AlertsError> {
    let rows = db
        .query(
            "SELECT o.id, o.landlord_id, o.address, o.kind, o.event_type, o.case_id, o.state, o.attempts,
                    (SELECT a.smtp_code FROM email_attempts a WHERE a.outbox_id = o.id ORDER BY a.attempt DESC LIMIT 1),
                    o.last_error, o.created_at, o.failed_at
             FROM email_outbox o
             WHERE o.state IN ('failed', 'suppressed') OR (o.state = 'pending' AND o.last_error IS NOT NULL)
             ORDER BY o.id DESC LIMIT $1",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| EmailFailure {
            outbox_id: r.get(0),
            landlord_id: r.get(1),
            address: r.get(2),
            kind: r.get(3),
            event_type: r.get(4),
            case_id: r.get(5),
            state: r.get(6),
            attempts: r.get(7),
            smtp_code: r.get(8),
            last_error: r.get(9),
            created_at: r.get(10),
            failed_at: r.get(11),
        })
        .collect())
}

/// The bounces not cleared, newest first.
pub async fn bounces<C: GenericClient>(db: &C) -> Result<Vec<Bounce>, AlertsError> {
    let rows = db
        .query(
            "SELECT address, landlord_id, reason, reported_at, reported_by FROM email_bounces
             WHERE cleared_at IS NULL ORDER BY reported_at DESC, id DESC",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Bounce {
            address: r.get(0),
            landlord_id: r.get(1),
            reason: r.get(2),
            reported_at: r.get(3),
            reported_by: r.get(4),
        })
        .collect())
}

/// Records a bounce of `address`; returns false if one was already recorded and not cleared.
/// E-mails to it are not sent (recorded as suppressed) until [`clear_bounce`].
pub async fn record_bounce<C: GenericClient>(
    db: &C,
    address: &str,
    reason: &str,
    reported_by: &str,
) -> Result<bool, AlertsError> {
    let address = address.trim().to_lowercase();
    let n = db
        .execute(
            "INSERT INTO email_bounces (address, landlord_id, reason, reported_by)
             VALUES ($1, (SELECT landlord_id FROM users WHERE email = $1), $2, $3)
             ON CONFLICT (address) WHERE cleared_at IS NULL DO NOTHING",
            &[&address, &reason, &reported_by],
        )
        .await?;
    Ok(n == 1)
}

/// Clears the bounce of `address`; returns whether there was one.
pub async fn clear_bounce<C: GenericClient>(db: &C, address: &str) -> Result<bool, AlertsError> {
    let address = address.trim().to_lowercase();
    let n = db
        .execute(
            "UPDATE email_bounces SET cleared_at = now() WHERE address = $1 AND cleared_at IS NULL",
            &[&address],
        )
        .await?;
    Ok(n == 1)
}
