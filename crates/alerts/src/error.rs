//! Errors at the crate's boundary.

use dampwatch_clock::{DeadlineError, TransitionError};

/// Why an alerts operation failed. Database errors leave the transaction rolled back, so the
/// inbox and outbox rows it held are taken again later: nothing is lost or doubled.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("stored {what} is not valid JSON for this version: {source}")]
    Json { what: &'static str, source: serde_json::Error },
    #[error("case {case_id}: {source}")]
    Transition { case_id: i64, source: TransitionError },
    #[error("deadline: {0}")]
    Deadline(#[from] DeadlineError),
    #[error("case {0} does not exist")]
    CaseNotFound(i64),
    #[error("case {case_id} has {found} events, not {expected}: it was changed meanwhile")]
    CaseChanged { case_id: i64, expected: i32, found: i32 },
    #[error("stored value {value:?} in {what} is not one this version knows")]
    UnknownValue { what: &'static str, value: String },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("webhook signing secret: {0}")]
    Secret(String),
    /// Sealing a home's record of its occupants under the landlord's data key.
    #[error("{0}")]
    Sealed(#[from] dampwatch_privacy::PrivacyError),
}

impl AlertsError {
    /// True for a deadlock or serialization failure: PostgreSQL rolled the transaction back to
    /// resolve a conflict with another, and running it again is the remedy.
    pub fn is_lock_conflict(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            AlertsError::Db(e) => {
                matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
            }
            _ => false,
        }
    }

    pub(crate) fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> AlertsError {
        move |source| AlertsError::Json { what, source }
    }
}

/// Why the worker could not start. Later failures (a lost database, a refused webhook) are
/// retried, never returned.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid alerts configuration")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot build the webhook TLS client")]
    WebhookTls(#[from] rustls::Error),
    #[error("cannot connect to the database")]
    Database(#[from] tokio_postgres::Error),
    #[error("cannot start the e-mail sender")]
    Email(#[from] crate::email::EmailConfigError),
    #[error("cannot open or make the secrets key (webhook and TOTP secrets are sealed under it)")]
    SecretsKey(#[from] dampwatch_privacy::PrivacyError),
    #[error("cannot seal the webhook signing secrets stored in clear: {0}")]
    Secrets(String),
}
