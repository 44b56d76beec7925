//! `dampwatch api-keys create|list|revoke`: managing landlords' API keys from the operator's
//! shell. The key is printed once, at creation; it cannot be shown again.

use std::io::Write;

use tokio_postgres::GenericClient;

use crate::keys::{create_api_key, list_api_keys, revoke_api_key};

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
        ApiKeysCommand::Create { landlord, label } => {
            let key = create_api_key(db, &landlord, &label).await?;
            writeln!(out, "{key}")?;
            writeln!(
                out,
                "# API key for landlord {landlord} ({label}). Store it now: it is not shown again."
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
            writeln!(out, "revoked API key {id}")?;
        }
    }
    Ok(())
}
