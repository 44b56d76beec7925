//! `dampwatch email failures|bounce|clear-bounce`: e-mails that failed and addresses the mail
//! system reported as bouncing, from the operator's shell.

use std::io::Write;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::admin;

/// Commands under `dampwatch email`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum EmailCommand {
    /// E-mails given up on, not sent to a bouncing address, or being retried; and the addresses
    /// that bounce.
    Failures {
        /// How many e-mails, newest first.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Record a bounce the mail system reported: the address is not mailed (its e-mails are
    /// recorded as suppressed) until the bounce is cleared.
    Bounce {
        /// The address that bounced.
        address: String,
        /// What the mail system said (e.g. "550 5.1.1 user unknown").
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Mail an address again (after the person fixed their mailbox).
    ClearBounce {
        /// The address.
        address: String,
    },
}

impl EmailCommand {
    /// The audit log's action of a command that changes something.
    pub fn change(&self) -> Option<(&'static str, String, serde_json::Value)> {
        match self {
            EmailCommand::Failures { .. } => None,
            EmailCommand::Bounce { address, reason } => Some((
                "email.bounce",
                format!("address:{}", address.trim().to_lowercase()),
                serde_json::json!({"reason": reason}),
            )),
            EmailCommand::ClearBounce { address } => Some((
                "email.bounce_clear",
                format!("address:{}", address.trim().to_lowercase()),
                serde_json::json!({}),
            )),
        }
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Runs a `dampwatch email` command on `db` as `actor`, writing to `out`.
pub async fn run(
    command: EmailCommand,
    db: &impl GenericClient,
    actor: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        EmailCommand::Failures { limit } => {
            let failures = admin::failures(db, limit).await?;
            writeln!(
                out,
                "{:>8}  {:<16}  {:<30}  {:<8}  {:<14}  {:<10}  {:>8}  {:>4}  {:<20}  LAST ERROR",
                "ID", "LANDLORD", "ADDRESS", "KIND", "EVENT", "STATE", "ATTEMPTS", "CODE", "FAILED"
            )?;
            for f in failures {
                writeln!(
                    out,
                    "{:>8}  {:<16}  {:<30}  {:<8}  {:<14}  {:<10}  {:>8}  {:>4}  {:<20}  {}",
                    f.outbox_id,
                    f.landlord_id,
                    f.address,
                    f.kind,
                    f.event_type,
                    f.state,
                    f.attempts,
                    f.smtp_code.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    time(f.failed_at),
                    f.last_error.unwrap_or_default()
                )?;
            }
            let bounces = admin::bounces(db).await?;
            writeln!(out, "\nbouncing addresses: {}", bounces.len())?;
            for b in bounces {
                writeln!(
                    out,
                    "  {}  (landlord {}, reported {} by {}){}",
                    b.address,
                    b.landlord_id.as_deref().unwrap_or("-"),
                    time(Some(b.reported_at)),
                    b.reported_by,
                    if b.reason.is_empty() { String::new() } else { format!(": {}", b.reason) }
                )?;
            }
        }
        EmailCommand::Bounce { address, reason } => {
            if admin::record_bounce(db, &address, &reason, actor).await? {
                writeln!(
                    out,
                    "recorded a bounce of {address}: not mailed until `dampwatch email clear-bounce`"
                )?;
            } else {
                writeln!(out, "{address} already has a bounce recorded")?;
            }
        }
        EmailCommand::ClearBounce { address } => {
            if admin::clear_bounce(db, &address).await? {
                writeln!(out, "cleared the bounce of {address}: it is mailed again")?;
            } else {
                writeln!(out, "{address} has no bounce recorded")?;
            }
        }
    }
    Ok(())
}
