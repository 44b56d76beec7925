//! Reading the log back for people: entries that match a filter, newest first, a page at a
//! time. Run in a tenant transaction, the database's row-level security gives a landlord's
//! people their landlord's entries only; the whole chain (what a verifier needs) is the
//! operator's export.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::entry::{Entry, ENTRY_COLUMNS};
use crate::error::AuditError;
use crate::outcome::Outcome;

/// Which entries to read; every field optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries whose actor contains this text (`user:12`, `api-key:`).
    pub actor: Option<String>,
    /// Entries whose action starts with this (`session.`, `case.event`).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Entries numbered below this (the next page of a newest-first list).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Escapes `%`, `_` and `\` so `text` matches itself in a `LIKE` pattern.
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The entries `filter` selects, newest first.
pub async fn search(client: &impl GenericClient, filter: &AuditFilter) -> Result<Vec<Entry>, AuditError> {
    let actor = filter.actor.as_deref().map(|a| format!("%{}%", like_literal(a)));
    let action = filter.action.as_deref().map(|a| format!("{}%", like_literal(a)));
    let outcome = filter.outcome.map(Outcome::as_str);
    let rows = client
        .query(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log
                 WHERE ($1::text IS NULL OR actor LIKE $1) AND ($2::text IS NULL OR action LIKE $2)
                   AND ($3::text IS NULL OR outcome = $3) AND ($4::timestamptz IS NULL OR at >= $4)
                   AND ($5::timestamptz IS NULL OR at < $5) AND ($6::bigint IS NULL OR seq < $6)
                 ORDER BY seq DESC LIMIT $7"
            ),
            &[&actor, &action, &outcome, &filter.from, &filter.to, &filter.before_seq, &filter.limit],
        )
        .await?;
    rows.iter().map(|r| Entry::from_row(r).map_err(AuditError::BadRow)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_the_text_itself() {
        assert_eq!(like_literal("case.event"), "case.event");
        assert_eq!(like_literal("100%_\\"), "100\\%\\_\\\\");
    }
}
