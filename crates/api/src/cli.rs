//! `dampwatch api-keys create|list|revoke`: managing landlords' API keys from the operator's
//! shell. The key is printed once, at creation; it cannot be shown again.

use std::io::Write;

use tokio_postgres::GenericClient;

use dampwatch_audit::{append, Event};
use serde_json::json;

use crate::keys::{create_key, list_api_keys, revoke_api_key, KeySpec, Scopes, DEFAULT_KEY_LIFETIME_DAYS};

/// Records a key change made from the operator's shell.
async fn audit(
    db: &impl GenericClient,
    landlord: Option<String>,
    action: &str,
    key: i64,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    append(db, &Event::by_operator(action, landlord, Some(format!("key:{key}")), details)).await?;
    Ok(())
}

/// Commands under `dampwatch api-keys`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key for a landlord and print it (once: only its hash is stored).
    Create {
        /// The landlord's id.
        #[arg(long)]
        landlord: String,
        /// What the key is for (e.g. "housing management system").
        #[arg(long)]
        label: String,
        /// `read`, or `read,write` to triage and record case events too.
        #[arg(long, default_value = "read,write")]
        scope: String,
        /// Days until the key stops working (at most 365).
        #[arg(long, default_value_t = DEFAULT_KEY_LIFETIME_DAYS)]
        days: i64,
    },
    /// List keys (never the keys themselves: their first characters, label and use).
    List {
        /// Only this landlord's keys.
        #[arg(long)]
        landlord: Option<String>,
    },
    /// Revoke a key by its id (it stays listed, marked revoked).
    Revoke {
        /// The key's id, as listed.
        id: i64,
    },
}

/// Runs a `dampwatch api-keys` command on `db` (connected as the service's role), writing to
/// `out`.
pub async fn run(
    command: ApiKeysCommand,
    db: &impl GenericClient,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        ApiKeysCommand::Create { landlord, label, scope, days } => {
            let scopes = Scopes::parse(&scope)?;
            let spec = KeySpec { landlord: &landlord, label: &label, scopes, lifetime_days: days };
            let key = create_key(db, &spec).await?;
            let id: i64 = db
                .query_one("SELECT max(id) FROM api_keys WHERE landlord_id = $1", &[&landlord])
                .await?
                .get(0);
            audit(
                db,
                Some(landlord.clone()),
                "api_key.create",
                id,
                json!({"scope": scopes.names().join(" "), "days": days}),
            )
            .await?;
            writeln!(out, "{key}")?;
            writeln!(
                out,
                "# API key for landlord {landlord} ({label}, {}, {days} days). Store it now: it is not shown again.",
                scopes.names().join(" ")
            )?;
        }
        ApiKeysCommand::List { landlord } => {
            let keys = list_api_keys(db, landlord.as_deref()).await?;
            writeln!(
                out,
                "{:>6}  {:<20}  {:<12}  {:<20}  {:<20}  {:<20}  LABEL",
                "ID", "LANDLORD", "KEY", "CREATED", "LAST USED", "REVOKED"
            )?;
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            };
            for k in keys {
                writeln!(
                    out,
                    "{:>6}  {:<20}  {:<12}  {:<20}  {:<20}  {:<20}  {}",
                    k.id,
                    k.landlord_id,
                    format!("{}…", k.prefix),
                    time(Some(k.created_at)),
                    time(k.last_used_at),
                    time(k.revoked_at),
                    k.label
                )?;
            }
        }
        ApiKeysCommand::Revoke { id } => {
            revoke_api_key(db, id).await?;
            let landlord: Option<String> = db
                .query_opt("SELECT landlord_id FROM api_keys WHERE id = $1", &[&id])
                .await?
                .map(|r| r.get(0));
            audit(db, landlord, "api_key.revoke", id, json!({})).await?;
            writeln!(out, "revoked API key {id}")?;
        }
    }
    Ok(())
}
