//! `dampwatch users …` and `dampwatch landlords …`: the operator's first steps before anyone
//! can sign in (a landlord, its first admin, a password-setup token), and the help desk's
//! (a lost second factor, a role change, disabling a leaver). Each change is written to the
//! audit log as done by `cli:<unix user>`, as are changes to webhooks ([`webhook_change`]).

use std::io::Write;

use chrono::Utc;
use clap::Subcommand;
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users::{self, NewUser};
use dampwatch_accounts::{lockout, mfa, Role};
use dampwatch_alerts::cli::WebhooksCommand;
use dampwatch_audit::{append, Event};
use serde_json::json;
use tokio_postgres::{Client, GenericClient};

/// Commands under `dampwatch users`.
#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a person. Prints a single-use token (valid one hour) with which they set their
    /// password: `POST /v1/password-reset`.
    Add {
        /// E-mail address (stored in lower case).
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// operator, landlord_admin, housing_officer, contractor or auditor.
        #[arg(long)]
        role: Role,
        /// The landlord the person works for (not for an operator).
        #[arg(long)]
        landlord: Option<String>,
    },
    /// List people, of one landlord or all.
    List {
        #[arg(long)]
        landlord: Option<String>,
    },
    /// Disable a person: their sessions end at once and they cannot sign in.
    Disable { email: String },
    /// Enable a disabled person again.
    Enable { email: String },
    /// Remove a person's second factor (a lost phone): they sign in with the password and, if
    /// their role requires one, enrol again.
    ResetMfa { email: String },
    /// Change a person's role; their sessions end.
    SetRole {
        email: String,
        #[arg(long)]
        role: Role,
    },
    /// Print a new single-use password-reset token for a person (valid one hour).
    ResetPassword { email: String },
    /// Lift a person's lockout now.
    Unlock { email: String },
}

/// Commands under `dampwatch landlords`.
#[derive(Subcommand)]
pub enum LandlordsCommand {
    /// Add a landlord (an organisation whose homes, people and data are kept apart).
    Add {
        /// Its id: lower-case letters, digits and dashes (as in device topics).
        id: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List landlords with their people and devices.
    List,
    /// Erase a landlord's personal data for good (its data keys are destroyed, so its
    /// tenancies can never be opened again), then delete its devices' readings, uplinks and
    /// hourly rollups in chunks.
    Erase {
        id: String,
        /// The landlord's id again: erasure cannot be undone.
        #[arg(long)]
        confirm: String,
        /// Rows deleted per transaction.
        #[arg(long, default_value_t = 10_000)]
        chunk: i64,
    },
    /// Everything held for a landlord, to take to another system: every table it owns as CSV
    /// and JSON Lines in one tar archive, its tenancies opened; never secrets (audited).
    Export {
        id: String,
        #[command(flatten)]
        master_key: crate::privacy::MasterKeyArg,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

async fn audit(
    db: &impl GenericClient,
    landlord: Option<String>,
    action: &str,
    target: String,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    append(db, &Event::by_operator(action, landlord, Some(target), details)).await?;
    Ok(())
}

pub async fn run_users(command: UsersCommand, db: &mut Client, out: &mut impl Write) -> anyhow::Result<()> {
    let now = Utc::now();
    match command {
        UsersCommand::Add { email, name, role, landlord } => {
            let tx = db.transaction().await?;
            let user =
                users::create(&tx, &NewUser { landlord_id: landlord, email, display_name: name, role })
                    .await?;
            let token = reset::issue(&tx, user.id, now, RESET_TOKEN_LIFETIME).await?;
            audit(
                &tx,
                user.landlord_id.clone(),
                "user.create",
                format!("user:{}", user.id),
                json!({"role": role.as_str()}),
            )
            .await?;
            tx.commit().await?;
            writeln!(out, "added user {} <{}> ({role})", user.id, user.email)?;
            writeln!(out, "password setup token (works once, for one hour): {token}")?;
            if role.requires_mfa() {
                writeln!(out, "a {role} must enrol a second factor (TOTP) at first sign-in")?;
            }
        }
        UsersCommand::List { landlord } => {
            let list = users::list(db, landlord.as_deref()).await?;
            writeln!(
                out,
                "{:>5}  {:<16} {:<16} {:<32} {:<4} state",
                "id", "landlord", "role", "email", "mfa"
            )?;
            for u in list {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else if u.locked_until.is_some_and(|t| t > now) {
                    "locked"
                } else if !u.password_set {
                    "no password yet"
                } else {
                    "active"
                };
                writeln!(
                    out,
                    "{:>5}  {:<16} {:<16} {:<32} {:<4} {state}",
                    u.id,
                    u.landlord_id.as_deref().unwrap_or("-"),
                    u.role,
                    u.email,
                    if u.mfa_enabled { "yes" } else { "no" },
                )?;
            }
        }
        UsersCommand::Disable { email } => {
            let u = users::find_by_email(db, &email).await?;
            users::set_disabled(db, u.id, Some(now)).await?;
            audit(db, u.landlord_id, "user.update", format!("user:{}", u.id), json!({"disabled": true}))
                .await?;
            writeln!(out, "disabled {}; their sessions ended", u.email)?;
        }
        UsersCommand::Enable { email } => {
            let u = users::find_by_email(db, &email).await?;
            users::set_disabled(db, u.id, None).await?;
            audit(db, u.landlord_id, "user.update", format!("user:{}", u.id), json!({"disabled": false}))
                .await?;
            writeln!(out, "enabled {}", u.email)?;
        }
        UsersCommand::ResetMfa { email } => {
            let u = users::find_by_email(db, &email).await?;
            mfa::reset(db, u.id).await?;
            audit(db, u.landlord_id, "mfa.reset", format!("user:{}", u.id), json!({})).await?;
            writeln!(out, "removed the second factor of {}; their sessions ended", u.email)?;
        }
        UsersCommand::SetRole { email, role } => {
            let u = users::find_by_email(db, &email).await?;
            let changed = users::set_role(db, u.id, role).await?;
            audit(db, u.landlord_id, "user.update", format!("user:{}", u.id), json!({"role": role.as_str()}))
                .await?;
            writeln!(out, "{} is now {}; their sessions ended", changed.email, changed.role)?;
        }
        UsersCommand::Unlock { email } => {
            let u = users::find_by_email(&*db, &email).await?;
            lockout::unlock(&*db, u.id).await?;
            audit(&*db, u.landlord_id, "user.update", format!("user:{}", u.id), json!({"unlock": true}))
                .await?;
            writeln!(out, "unlocked {}", u.email)?;
        }
        UsersCommand::ResetPassword { email } => {
            let u = users::find_by_email(db, &email).await?;
            let token = reset::issue(db, u.id, now, RESET_TOKEN_LIFETIME).await?;
            audit(db, u.landlord_id, "password.reset_issued", format!("user:{}", u.id), json!({})).await?;
            writeln!(out, "password reset token for {} (works once, for one hour): {token}", u.email)?;
        }
    }
    Ok(())
}

/// The audit entry of a `dampwatch webhooks` command that changes something (None for a
/// listing), written once the command has succeeded.
pub fn webhook_change(command: &WebhooksCommand) -> Option<Event> {
    let (action, landlord, target, details) = match command {
        WebhooksCommand::Add { landlord, url, allowed_networks, dev_loopback_http, .. } => (
            "webhook.add",
            Some(landlord.clone()),
            None,
            json!({"url": url, "allowed_networks": allowed_networks, "dev_loopback_http": dev_loopback_http}),
        ),
        WebhooksCommand::Disable { id } => {
            ("webhook.disable", None, Some(format!("webhook:{id}")), json!({}))
        }
        WebhooksCommand::Requeue { id, all, landlord } => {
            ("webhook.requeue", landlord.clone(), id.map(|id| format!("delivery:{id}")), json!({"all": all}))
        }
        WebhooksCommand::Advisory { landlord, delivery: Some(delivery), at } => (
            "webhook.advisory_delivery",
            Some(landlord.clone()),
            Some(format!("landlord:{landlord}")),
            json!({"delivery": delivery.as_str(), "at": at.map(|t| t.format("%H:%M").to_string())}),
        ),
        WebhooksCommand::List { .. } | WebhooksCommand::Dead { .. } | WebhooksCommand::Advisory { .. } => {
            return None
        }
    };
    Some(Event::by_operator(action, landlord, target, details))
}

pub async fn run_landlords(
    command: LandlordsCommand,
    db: &mut Client,
    pki_dir: &std::path::Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match command {
        LandlordsCommand::Erase { id, confirm, chunk } => {
            crate::privacy::erase_landlord(db, &id, &confirm, chunk, out).await?;
        }
        LandlordsCommand::Export { id, master_key, out: path } => {
            crate::privacy::export_landlord(db, &id, &master_key, pki_dir, &path, out).await?;
        }
        LandlordsCommand::Add { id, name } => {
            let known = db.query_opt("SELECT 1 FROM landlords WHERE id = $1", &[&id]).await?;
            anyhow::ensure!(known.is_none(), "landlord {id} already exists");
            dampwatch_store::registry::ensure_landlord(&*db, &id, &name).await?;
            audit(&*db, Some(id.clone()), "landlord.create", format!("landlord:{id}"), json!({})).await?;
            writeln!(out, "added landlord {id}")?;
        }
        LandlordsCommand::List => {
            let rows = db
                .query(
                    "SELECT l.id, l.name, (SELECT count(*) FROM users u WHERE u.landlord_id = l.id),
                            (SELECT count(*) FROM devices d WHERE d.landlord_id = l.id)
                     FROM landlords l ORDER BY l.id",
                    &[],
                )
                .await?;
            writeln!(out, "{:<20} {:<30} {:>6} {:>8}", "id", "name", "people", "devices")?;
            for r in rows {
                let (id, name, people, devices): (String, String, i64, i64) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                writeln!(out, "{id:<20} {name:<30} {people:>6} {devices:>8}")?;
            }
        }
    }
    Ok(())
}
