//! An event to record, and [`append`], the one way Rust code writes the log.

use tokio_postgres::error::SqlState;
use tokio_postgres::GenericClient;

use crate::error::AuditError;
use crate::outcome::Outcome;

/// Something that happened, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Who acted: `user:12`, `key:3`, `client:5`, `cli:<unix user>`, `system`, `anonymous`.
    pub actor: String,
    /// The landlord whose data it touched; `None` for the platform's own.
    pub landlord_id: Option<String>,
    /// Where the request came from (an address, a process).
    pub source: Option<String>,
    /// What was done, e.g. `session.login`, `api_key.create`.
    pub action: String,
    /// What it was done to, e.g. `case:42`.
    pub target: Option<String>,
    pub outcome: Outcome,
    /// Anything else worth keeping; stored as the exact JSON text written here.
    pub details: serde_json::Value,
}

/// The actor of a change made from the operator's shell: `cli:<unix user>` (the account that
/// ran the command; the database role proves no more than that someone reached the database).
pub fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

impl Event {
    /// A change the operator made from the shell (`dampwatch …`), as [`cli_actor`].
    pub fn by_operator(
        action: &str,
        landlord_id: Option<String>,
        target: Option<String>,
        details: serde_json::Value,
    ) -> Self {
        Event {
            actor: cli_actor(),
            landlord_id,
            source: Some("dampwatch cli".into()),
            action: action.into(),
            target,
            outcome: Outcome::Success,
            details,
        }
    }
}

/// Appends `event` to the log and returns its seq.
///
/// It runs in whatever `client` is: a plain connection (the entry commits at once) or the
/// caller's transaction, so the entry commits or rolls back with the action it records. A
/// tenant transaction (role `dampwatch_api_tenant`, `dampwatch.landlord` set) may only write
/// entries of its own landlord ([`AuditError::OtherLandlord`] otherwise).
///
/// Appending takes the log's lock until the transaction ends: append as the transaction's last
/// statement, so appenders wait for each other as little as possible.
pub async fn append(client: &impl GenericClient, event: &Event) -> Result<i64, AuditError> {
    let details = serde_json::to_string(&event.details).map_err(AuditError::Details)?;
    let row = client
        .query_one(
            "SELECT audit_append($1, $2, $3, $4, $5, $6, $7)",
            &[
                &event.actor,
                &event.landlord_id,
                &event.source,
                &event.action,
                &event.target,
                &event.outcome.as_str(),
                &details,
            ],
        )
        .await
        .map_err(|e| match e.as_db_error() {
            // Told apart from a missing grant (the same SQLSTATE) by audit_append's message.
            Some(db)
                if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE
                    && db.message().starts_with("an audit entry for landlord") =>
            {
                AuditError::OtherLandlord(db.message().to_owned())
            }
            _ => AuditError::Db(e),
        })?;
    Ok(row.get(0))
}
