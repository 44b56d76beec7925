//! Queuing e-mails for an event, in the caller's transaction (called by
//! [`crate::outbox::enqueue_event`], the one place events are queued, so every event that gets
//! a webhook is judged for e-mail too): an e-mail exists exactly when the change it reports
//! committed.
//!
//! Who gets what: an event that starts or changes a legal clock ([`Routing::Immediate`]: an
//! alert with a legal clock raised or re-opened, every change of a case) is e-mailed at once to
//! each person of the landlord whose preferences ask for it (their own, or their role's
//! defaults); every other alert event waits for each person's daily digest
//! ([`crate::email::digest`]). A contractor hears only of the cases assigned to them, and an
//! address with an uncleared bounce is not mailed.

pub use dampwatch_indicators::Duty;
use serde_json::Value;
use tokio_postgres::Transaction;

use crate::error::AlertsError;

/// How an event reaches people by e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// One e-mail per person at once.
    Immediate,
    /// An item of each person's next daily digest.
    Digest,
}

/// The routing of an event of `event_type` about an alert (or case) of `duty`: a legal clock's
/// start (an alert raised or re-opened) or change (a case event) is immediate; the rest waits.
pub fn routing(duty: Duty, event_type: &str) -> Routing {
    match (duty, event_type) {
        (_, "case.updated") => Routing::Immediate,
        (Duty::LegalClock, "alert.raised" | "alert.reopened") => Routing::Immediate,
        _ => Routing::Digest,
    }
}

/// What was queued for people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailsQueued {
    /// E-mails in the outbox, sent at once.
    pub immediate: u64,
    /// Items waiting for people's digests.
    pub digest_items: u64,
}

/// People of the landlord this event concerns, as the preferences view says: not a contractor,
/// or the contractor the case is assigned to.
const CONCERNED: &str = "p.landlord_id = $1
     AND (p.role <> 'contractor' OR p.user_id = (SELECT c.assigned_user_id FROM cases c WHERE c.id = $4))";

/// Queues the e-mails and digest items of one event.
pub async fn enqueue(
    tx: &Transaction<'_>,
    landlord_id: &str,
    duty: Duty,
    event_type: &str,
    (alert_id, case_id): (Option<i64>, Option<i64>),
    payload: &Value,
) -> Result<EmailsQueued, AlertsError> {
    match routing(duty, event_type) {
        Routing::Immediate => {
            let immediate = tx
                .execute(
                    &format!(
                        "INSERT INTO email_outbox (landlord_id, user_id, address, kind, event_type, alert_id, case_id, payload)
                         SELECT $1, p.user_id, p.email, 'event', $2, $3, $4, $5
                         FROM email_preferences_effective() p
                         WHERE {CONCERNED} AND p.immediate
                           AND NOT EXISTS (SELECT 1 FROM email_bounces b WHERE b.address = p.email AND b.cleared_at IS NULL)
                         ORDER BY p.user_id"
                    ),
                    &[&landlord_id, &event_type, &alert_id, &case_id, payload],
                )
                .await?;
            Ok(EmailsQueued { immediate, digest_items: 0 })
        }
        Routing::Digest => {
            let digest_items = tx
                .execute(
                    &format!(
                        "INSERT INTO email_digest_items (landlord_id, user_id, event_type, alert_id, case_id, payload)
                         SELECT $1, p.user_id, $2, $3, $4, $5
                         FROM email_preferences_effective() p
                         WHERE {CONCERNED} AND p.daily_digest
                         ORDER BY p.user_id"
                    ),
                    &[&landlord_id, &event_type, &alert_id, &case_id, payload],
                )
                .await?;
            Ok(EmailsQueued { immediate: 0, digest_items })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_clocks_starting_or_changing_are_mailed_at_once() {
        assert_eq!(routing(Duty::LegalClock, "alert.raised"), Routing::Immediate);
        assert_eq!(routing(Duty::LegalClock, "alert.reopened"), Routing::Immediate);
        assert_eq!(routing(Duty::LegalClock, "case.updated"), Routing::Immediate);
        assert_eq!(routing(Duty::LegalClock, "alert.cleared"), Routing::Digest);
        assert_eq!(routing(Duty::Advisory, "alert.raised"), Routing::Digest);
        assert_eq!(routing(Duty::Advisory, "alert.reopened"), Routing::Digest);
    }
}
