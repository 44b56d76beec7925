//! What the API writes to the audit log (`dampwatch-audit`): every sign-in attempt and its
//! outcome, lockouts, sign-outs, second-factor and password changes, and changes to users and
//! case assignments. Entries name people by user id only (`user:12`), never by e-mail address,
//! so erasing a person's details leaves the log intact and pseudonymous.
//!
//! An entry is written in the same transaction as the change it records where there is one,
//! so a change is never committed without its entry (nor an entry without its change).

use chrono::{DateTime, Utc};
use dampwatch_accounts::signin::{Origin, SignIn};
use dampwatch_audit::{append, Event, Outcome};
use serde_json::{json, Value};
use tokio_postgres::GenericClient;

use crate::caller::Caller;
use crate::problem::ApiError;

/// An entry to record.
pub struct Entry(Event);

impl Entry {
    /// The entry of a sign-in attempt. A refusal's cause is recorded here and only here.
    pub fn sign_in(result: &SignIn, origin: &Origin) -> Self {
        let (actor, landlord_id, outcome, details) = match result {
            SignIn::SignedIn { user_id, landlord_id, must_enrol_mfa, used_recovery_code, .. } => (
                format!("user:{user_id}"),
                landlord_id.clone(),
                Outcome::Success,
                json!({"must_enrol_mfa": must_enrol_mfa, "used_recovery_code": used_recovery_code}),
            ),
            SignIn::SecondFactorNeeded { user_id } => {
                (format!("user:{user_id}"), None, Outcome::Refused, json!({"reason": "second_factor_needed"}))
            }
            SignIn::Refused { user_id, landlord_id, reason, locked_until } => (
                user_id.map_or_else(|| "anonymous".to_owned(), |id| format!("user:{id}")),
                landlord_id.clone(),
                Outcome::Failure,
                json!({"reason": reason.as_str(), "locked_until": locked_until}),
            ),
        };
        Entry(Event {
            actor,
            landlord_id,
            source: origin.source.clone(),
            action: "session.sign_in".into(),
            target: None,
            outcome,
            details,
        })
    }

    /// The lockout a refused sign-in started, if it started one: its own entry, so lockouts can
    /// be found without reading every refusal.
    pub fn lockout(result: &SignIn, origin: &Origin) -> Option<Self> {
        let SignIn::Refused { user_id: Some(user_id), landlord_id, locked_until: Some(until), .. } = result
        else {
            return None;
        };
        Some(Entry::locked(*user_id, landlord_id.clone(), origin.source.clone(), *until))
    }

    /// The lockout a signed-in person's failed re-authentication or password change started,
    /// if it started one (as [`Entry::lockout`] for a sign-in).
    pub fn own_lockout(caller: &Caller, user_id: i64, locked_until: Option<DateTime<Utc>>) -> Option<Self> {
        locked_until.map(|until| Entry::locked(user_id, caller.landlord_id.clone(), None, until))
    }

    fn locked(
        user_id: i64,
        landlord_id: Option<String>,
        source: Option<String>,
        until: DateTime<Utc>,
    ) -> Self {
        Entry(Event {
            actor: "system".into(),
            landlord_id,
            source,
            action: "account.locked".into(),
            target: Some(format!("user:{user_id}")),
            outcome: Outcome::Success,
            details: json!({"locked_until": until}),
        })
    }

    /// A successful action of `caller`.
    pub fn of(caller: &Caller, action: &str, target: Option<String>, details: Value) -> Self {
        Entry(Event {
            actor: caller.actor(),
            landlord_id: caller.landlord_id.clone(),
            source: None,
            action: action.to_owned(),
            target,
            outcome: Outcome::Success,
            details,
        })
    }

    /// A failed attempt by someone not identified (an unknown client, say).
    pub fn anonymous(action: &str, source: Option<String>, details: Value) -> Self {
        Entry(Event {
            actor: "anonymous".into(),
            landlord_id: None,
            source,
            action: action.to_owned(),
            target: None,
            outcome: Outcome::Failure,
            details,
        })
    }

    /// The same entry with another outcome.
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.0.outcome = outcome;
        self
    }
}

/// Appends the entry (inside `client`'s transaction, if it is one).
pub async fn record(client: &impl GenericClient, entry: &Entry) -> Result<(), ApiError> {
    append(client, &entry.0).await.map(|_| ()).map_err(|e| ApiError::Internal(format!("audit log: {e}")))
}
