//! The daily digest: once a day (at `[email] digest_time`, Europe/London) each person who
//! wants one gets one e-mail gathering the alert events waiting for them (advisory alerts and
//! the other changes not mailed at once, written to `email_digest_items` with the change) and
//! the deadlines of their landlord's cases due within the next two working days (the clock's
//! England & Wales calendar, `dampwatch-clock`), overdue ones included.
//!
//! Each person's digest of a day is composed in one transaction that claims the day in
//! `email_digests` (primary key: person and date), writes at most one outbox row (unique per
//! person and date too) and marks the items it carries: a crash before the commit leaves
//! everything waiting, after it the day is done, so a restart never composes a second digest
//! for the same day. A day with nothing to say is claimed without an e-mail. Items that arrive
//! after a day's digest wait for the next one.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use dampwatch_clock::london::{end_of_local_day, local_date, LONDON};
pub use dampwatch_clock::Calendar;
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::error::AlertsError;

/// Working days ahead whose deadlines a digest lists.
pub const DEADLINE_WORKING_DAYS: u32 = 2;

/// What composing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Composed {
    /// Digests queued as e-mails.
    pub emails: u64,
    /// People whose day had nothing to report (no e-mail).
    pub empty: u64,
}

/// The digest date due at `now`: today (Europe/London) once its digest time has passed.
pub fn due_date(now: DateTime<Utc>, at: NaiveTime) -> Option<NaiveDate> {
    let local = now.with_timezone(&LONDON);
    (local.time() >= at).then(|| local.date_naive())
}

/// The instant before which a deadline is listed in `date`'s digest: the end of the second
/// working day after `date`.
pub fn deadline_horizon(calendar: &Calendar, date: NaiveDate) -> Result<DateTime<Utc>, AlertsError> {
    let last = calendar
        .add_working_days(date, DEADLINE_WORKING_DAYS)
        .map_err(|e| AlertsError::UnknownValue { what: "digest deadline horizon", value: e.to_string() })?;
    end_of_local_day(last)
        .ok_or(AlertsError::UnknownValue { what: "digest deadline horizon", value: last.to_string() })
}

/// Composes the digests due at `now` for everyone who has none for the day yet.
pub async fn compose_due(
    client: &mut Client,
    calendar: &Calendar,
    at: NaiveTime,
    now: DateTime<Utc>,
) -> Result<Composed, AlertsError> {
    let Some(date) = due_date(now, at) else { return Ok(Composed::default()) };
    compose(client, calendar, date).await
}

/// Composes `date`'s digests for everyone who wants one and has none for that day yet.
pub async fn compose(
    client: &mut Client,
    calendar: &Calendar,
    date: NaiveDate,
) -> Result<Composed, AlertsError> {
    let horizon = deadline_horizon(calendar, date)?;
    let people = client
        .query(
            "SELECT p.user_id, p.landlord_id, p.email, p.role FROM email_preferences_effective() p
             WHERE p.daily_digest
               AND NOT EXISTS (SELECT 1 FROM email_digests d WHERE d.user_id = p.user_id AND d.digest_date = $1)
             ORDER BY p.user_id",
            &[&date],
        )
        .await?;
    let mut composed = Composed::default();
    for person in people {
        let (user_id, landlord_id, address, role): (i64, String, String, String) =
            (person.get(0), person.get(1), person.get(2), person.get(3));
        let tx = client.transaction().await?;
        let claimed = tx
            .execute(
                "INSERT INTO email_digests (user_id, landlord_id, digest_date) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&user_id, &landlord_id, &date],
            )
            .await?;
        if claimed == 0 {
            // Another process composed it.
            continue;
        }
        let items = tx
            .query(
                "SELECT id, payload FROM email_digest_items WHERE user_id = $1 AND outbox_id IS NULL
                 ORDER BY id FOR UPDATE",
                &[&user_id],
            )
            .await?;
        let deadlines = tx
            .query(
                "SELECT d.case_id, d.track, d.step, d.due, d.ends_at, d.status, c.hazard
                 FROM case_deadlines d JOIN cases c ON c.id = d.case_id
                 WHERE d.landlord_id = $1 AND d.status IN ('on_track', 'due_soon', 'overdue') AND d.ends_at < $2
                   AND ($3 <> 'contractor' OR c.assigned_user_id = $4)
                 ORDER BY d.ends_at, d.case_id, d.step",
                &[&landlord_id, &horizon, &role, &user_id],
            )
            .await?;
        if items.is_empty() && deadlines.is_empty() {
            tx.commit().await?;
            composed.empty += 1;
            continue;
        }
        let ids: Vec<i64> = items.iter().map(|r| r.get(0)).collect();
        let deadlines: Vec<Value> = deadlines
            .iter()
            .map(|r| {
                json!({
                    "case_id": r.get::<_, i64>(0),
                    "track": r.get::<_, String>(1),
                    "step": r.get::<_, String>(2),
                    "due": r.get::<_, String>(3),
                    "ends_at": r.get::<_, DateTime<Utc>>(4),
                    "status": r.get::<_, String>(5),
                    "hazard": r.get::<_, String>(6),
                })
            })
            .collect();
        let payload = json!({
            "date": date.to_string(),
            "horizon": horizon,
            "items": items.iter().map(|r| r.get::<_, Value>(1)).collect::<Vec<_>>(),
            "deadlines": deadlines,
        });
        let outbox_id: i64 = tx
            .query_one(
                "INSERT INTO email_outbox (landlord_id, user_id, address, kind, event_type, digest_date, payload)
                 VALUES ($1, $2, $3, 'digest', 'digest', $4, $5) RETURNING id",
                &[&landlord_id, &user_id, &address, &date, &payload],
            )
            .await?
            .get(0);
        tx.execute("UPDATE email_digest_items SET outbox_id = $1 WHERE id = ANY($2)", &[&outbox_id, &ids])
            .await?;
        tx.execute(
            "UPDATE email_digests SET outbox_id = $1 WHERE user_id = $2 AND digest_date = $3",
            &[&outbox_id, &user_id, &date],
        )
        .await?;
        tx.commit().await?;
        composed.emails += 1;
    }
    Ok(composed)
}

/// The Europe/London date of an instant (re-exported for callers composing a given day).
pub fn london_date(instant: DateTime<Utc>) -> NaiveDate {
    local_date(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_digest_is_due_once_its_time_has_passed_in_london() {
        let at = NaiveTime::from_hms_opt(7, 0, 0).expect("time");
        // 06:30 UTC in July is 07:30 BST.
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 6, 30, 0).single().expect("instant");
        assert_eq!(due_date(summer, at), NaiveDate::from_ymd_opt(2026, 7, 1));
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 6, 30, 0).single().expect("instant");
        assert_eq!(due_date(winter, at), None);
    }

    #[test]
    fn the_horizon_is_two_working_days_by_the_calendar() {
        let calendar = Calendar::england_and_wales().expect("calendar");
        // Thursday 24 December 2026: Friday 25 and Monday 28 (Boxing Day, substitute) are bank
        // holidays, so the next two working days are Tuesday 29 and Wednesday 30.
        let date = NaiveDate::from_ymd_opt(2026, 12, 24).expect("date");
        let horizon = deadline_horizon(&calendar, date).expect("horizon");
        assert_eq!(
            horizon,
            end_of_local_day(NaiveDate::from_ymd_opt(2026, 12, 30).expect("date")).expect("end")
        );
    }
}
