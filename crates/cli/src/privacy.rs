//! `dampwatch privacy …`, `dampwatch tenancies …` and `dampwatch landlords erase`: tenants'
//! personal data, sealed per landlord (`dampwatch-privacy`). Every command that opens or seals
//! needs the master key file (`--master-key`, or `DAMPWATCH_MASTER_KEY_FILE`); each change, and
//! each reading of personal data, is written to the audit log as done by `cli:<unix user>`, in
//! the same transaction.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Subcommand;
use dampwatch_audit::{append, Event};
use dampwatch_privacy::{MasterKey, MasterKeyFile, NewTenancy, Personal};
use serde_json::json;
use tokio_postgres::Client;

use crate::devices::Target;

/// The master key file that wraps every landlord's data keys.
#[derive(Debug, Clone, clap::Args)]
pub struct MasterKeyArg {
    /// The master key file (64 hexadecimal digits, mode 0600), made by
    /// `dampwatch privacy master-key generate`.
    #[arg(long = "master-key", env = "DAMPWATCH_MASTER_KEY_FILE")]
    pub path: PathBuf,
}

impl MasterKeyArg {
    fn open(&self) -> anyhow::Result<MasterKeyFile> {
        Ok(MasterKeyFile::open(&self.path)?)
    }
}

/// Commands under `dampwatch privacy`.
#[derive(Subcommand)]
pub enum PrivacyCommand {
    /// The master key: generate one.
    #[command(subcommand)]
    MasterKey(MasterKeyCommand),
    /// Rotate a landlord's data key: every tenancy of the landlord re-sealed under a new
    /// generation in one transaction, the old generation's key deleted.
    Rotate {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        master_key: MasterKeyArg,
        #[arg(long)]
        landlord: String,
    },
    /// Re-wrap every landlord's data keys under a new master key (`--master-key` is the old
    /// one). Afterwards the old key opens nothing in the database; backups taken before still
    /// need it.
    Rewrap {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        master_key: MasterKeyArg,
        /// The new master key file.
        #[arg(long)]
        new_master_key: PathBuf,
    },
}

/// Commands under `dampwatch privacy master-key`.
#[derive(Subcommand)]
pub enum MasterKeyCommand {
    /// Write a new random master key to a file that must not exist yet (mode 0600).
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Commands under `dampwatch tenancies`.
#[derive(Subcommand)]
pub enum TenanciesCommand {
    /// Record a tenancy of a home; its people's details are stored only sealed.
    Add {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        master_key: MasterKeyArg,
        #[arg(long)]
        landlord: String,
        /// The landlord's reference of the home.
        #[arg(long)]
        dwelling_ref: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        starts: NaiveDate,
        /// Last day, YYYY-MM-DD (none: still running).
        #[arg(long)]
        ends: Option<NaiveDate>,
        /// A tenant's name (repeat for each).
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        /// A phone number (repeatable).
        #[arg(long = "phone")]
        phones: Vec<String>,
        /// An e-mail address (repeatable).
        #[arg(long = "email")]
        emails: Vec<String>,
        /// A free-text note, such as what a visit should take into account (repeatable).
        #[arg(long = "note")]
        notes: Vec<String>,
    },
    /// Open and print the tenancies of a home (written to the audit log).
    Show {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        master_key: MasterKeyArg,
        #[arg(long)]
        landlord: String,
        #[arg(long)]
        dwelling_ref: String,
    },
}

fn event(action: &str, landlord: Option<&str>, target: String, details: serde_json::Value) -> Event {
    Event::by_operator(action, landlord.map(str::to_owned), Some(target), details)
}

pub async fn run_privacy(command: PrivacyCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        PrivacyCommand::MasterKey(MasterKeyCommand::Generate { out: path }) => {
            let key = MasterKeyFile::generate(&path)?;
            writeln!(out, "wrote master key {} to {} (mode 0600)", key.id(), path.display())?;
            writeln!(
                out,
                "keep it apart from the database and its backups: without it no personal data opens"
            )?;
        }
        PrivacyCommand::Rotate { target, master_key, landlord } => {
            let master = master_key.open()?;
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let rotation = dampwatch_privacy::rotate_landlord_key(&tx, &master, &landlord).await?;
            let details = json!({"from": rotation.from, "to": rotation.to, "resealed": rotation.resealed});
            append(
                &tx,
                &event("privacy.rotate_key", Some(&landlord), format!("landlord:{landlord}"), details),
            )
            .await?;
            tx.commit().await?;
            writeln!(
                out,
                "landlord {landlord}: data key generation {} replaced by {}; {} tenancies re-sealed; generation {}'s key deleted",
                rotation.from, rotation.to, rotation.resealed, rotation.from
            )?;
        }
        PrivacyCommand::Rewrap { target, master_key, new_master_key } => {
            let old = master_key.open()?;
            let new = MasterKeyFile::open(&new_master_key)?;
            anyhow::ensure!(old.id() != new.id(), "the new master key is the old one ({})", old.id());
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let rewrapped = dampwatch_privacy::rewrap_all(&tx, &old, &new).await?;
            let details = json!({"from": old.id(), "to": new.id(), "rewrapped": rewrapped});
            append(&tx, &event("privacy.rewrap", None, format!("master_key:{}", new.id()), details)).await?;
            tx.commit().await?;
            writeln!(out, "{rewrapped} data keys re-wrapped from master key {} to {}", old.id(), new.id())?;
            writeln!(
                out,
                "the old master key now opens nothing in this database; backups taken before still need it"
            )?;
        }
    }
    Ok(())
}

pub async fn run_tenancies(command: TenanciesCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        TenanciesCommand::Add {
            target,
            master_key,
            landlord,
            dwelling_ref,
            starts,
            ends,
            names,
            phones,
            emails,
            notes,
        } => {
            let master = master_key.open()?;
            let personal = Personal { names, phones, emails, notes };
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let new = NewTenancy {
                landlord_id: &landlord,
                dwelling_reference: &dwelling_ref,
                starts_on: starts,
                ends_on: ends,
                personal: &personal,
            };
            let id = dampwatch_privacy::add_tenancy(&tx, &master, &new).await?;
            // The audit log says what was done, never to whom.
            let details = json!({"dwelling": dwelling_ref, "people": personal.names.len()});
            append(&tx, &event("tenancy.create", Some(&landlord), format!("tenancy:{id}"), details)).await?;
            tx.commit().await?;
            writeln!(
                out,
                "added tenancy {id} of {dwelling_ref} (landlord {landlord}), personal data sealed"
            )?;
        }
        TenanciesCommand::Show { target, master_key, landlord, dwelling_ref } => {
            let master = master_key.open()?;
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let tenancies =
                dampwatch_privacy::tenancies_of_dwelling(&tx, &master, &landlord, &dwelling_ref).await?;
            let details = json!({"dwelling": dwelling_ref, "tenancies": tenancies.len()});
            append(&tx, &event("tenancy.read", Some(&landlord), format!("dwelling:{dwelling_ref}"), details))
                .await?;
            tx.commit().await?;
            if tenancies.is_empty() {
                writeln!(out, "no tenancies of {dwelling_ref} (landlord {landlord})")?;
            }
            for t in tenancies {
                let ends = t.ends_on.map_or_else(|| "running".to_owned(), |d| d.to_string());
                writeln!(
                    out,
                    "tenancy {}: {} from {} to {ends} (key generation {})",
                    t.id, t.dwelling_reference, t.starts_on, t.key_generation
                )?;
                for (label, values) in [
                    ("name", &t.personal.names),
                    ("phone", &t.personal.phones),
                    ("email", &t.personal.emails),
                    ("note", &t.personal.notes),
                ] {
                    for value in values {
                        writeln!(out, "  {label}: {value}")?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// `dampwatch landlords erase L --confirm L`: cryptographic erasure of the landlord's personal
/// data (its data keys deleted, audited, in one transaction), then its devices' readings,
/// uplinks and hourly rollups deleted in chunks. Repeating it finishes an interrupted run.
pub async fn erase_landlord(
    db: &mut Client,
    landlord: &str,
    confirm: &str,
    chunk: i64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        confirm == landlord,
        "erasing landlord {landlord} cannot be undone: repeat its id with --confirm {landlord}"
    );
    let tx = db.transaction().await?;
    let erasure = dampwatch_privacy::erase_landlord(&tx, landlord).await?;
    let details = json!({"keys_destroyed": erasure.keys_destroyed, "tenancies": erasure.tenancies});
    append(&tx, &event("landlord.erase", Some(landlord), format!("landlord:{landlord}"), details)).await?;
    tx.commit().await?;
    writeln!(
        out,
        "landlord {landlord}: {} data key generations destroyed (erased at {}); {} tenancies can no longer be opened",
        erasure.keys_destroyed, erasure.erased_at, erasure.tenancies
    )?;
    let erased = dampwatch_privacy::erase_device_data(db, landlord, chunk)
        .await
        .context("deleting the landlord's readings (run the command again to continue)")?;
    writeln!(
        out,
        "deleted from its {} devices: {} readings, {} uplinks, {} hourly rollup rows",
        erased.devices, erased.readings, erased.uplinks, erased.hourly_rollups
    )?;
    let tx = db.transaction().await?;
    let details = json!({"devices": erased.devices, "readings": erased.readings, "uplinks": erased.uplinks,
                         "hourly_rollups": erased.hourly_rollups});
    append(&tx, &event("landlord.erase_readings", Some(landlord), format!("landlord:{landlord}"), details))
        .await?;
    tx.commit().await?;
    Ok(())
}
