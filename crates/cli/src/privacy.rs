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
    pub(crate) fn open(&self) -> anyhow::Result<MasterKeyFile> {
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
    /// Subject access: everything held about a tenancy (its people's details, its home's
    /// readings, alerts, cases and events over the tenancy, audit entries about it) as CSV and
    /// JSON in one tar archive (audited).
    Export {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        master_key: MasterKeyArg,
        /// The tenancy.
        id: i64,
        /// The archive to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Share a tenancy's home data with a third party: refused without a consent in force for
    /// that recipient and purpose; never the people's details or the audit log (audited either
    /// way).
    Share {
        #[command(flatten)]
        target: Target,
        id: i64,
        /// The third party, as the consent names it.
        #[arg(long = "to")]
        recipient: String,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// An erasure request: the tenancy's personal data deleted, its consents withdrawn; prints
    /// what is kept and on which legal basis (audited).
    Erase {
        #[command(flatten)]
        target: Target,
        id: i64,
        /// The tenancy's id again: erasure cannot be undone.
        #[arg(long)]
        confirm: i64,
    },
    /// Consents to share a tenancy's data with a third party.
    #[command(subcommand)]
    Consent(ConsentCommand),
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

/// Commands under `dampwatch tenancies consent`.
#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Record a consent the tenants gave (audited).
    Give {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenancy: i64,
        /// Who may receive the data.
        #[arg(long = "to")]
        recipient: String,
        /// What for.
        #[arg(long)]
        purpose: String,
        /// How it was given (the signed form's reference).
        #[arg(long, default_value = "")]
        evidence: String,
        /// The day it ends, YYYY-MM-DD (none: until withdrawn).
        #[arg(long)]
        expires: Option<NaiveDate>,
    },
    /// Withdraw a consent from now on (audited).
    Withdraw {
        #[command(flatten)]
        target: Target,
        id: i64,
    },
    /// A tenancy's consents, newest first.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        tenancy: i64,
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
            let secrets = secrets_key_at(&target.pki_dir())?;
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            // A landlord whose officers wrote on cases but which has no tenancy yet has a text key
            // and no data key: its text key still rotates.
            let rotation = match dampwatch_privacy::rotate_landlord_key(&tx, &master, &landlord).await {
                Ok(rotation) => Some(rotation),
                Err(dampwatch_privacy::PrivacyError::NoKey(_)) => None,
                Err(e) => return Err(e.into()),
            };
            // The second key tree, what officers wrote on the landlord's cases, rotates with it.
            let texts = match &secrets {
                Some(secrets) => dampwatch_privacy::case_texts::rotate(&tx, secrets, &landlord).await?,
                None => {
                    let live: i64 = tx
                        .query_one(
                            "SELECT count(*) FROM landlord_text_keys WHERE landlord_id = $1 AND wrapped_key IS NOT NULL",
                            &[&landlord],
                        )
                        .await?
                        .get(0);
                    anyhow::ensure!(
                        live == 0,
                        "landlord {landlord}'s case text key needs the services' secrets key ({}) to rotate: give --pki-dir or --data-dir",
                        target.pki_dir().join(dampwatch_privacy::secrets_key::KEY_FILE).display()
                    );
                    dampwatch_privacy::case_texts::TextRotation { from: None, to: None, resealed: 0 }
                }
            };
            anyhow::ensure!(
                rotation.is_some() || texts.to.is_some(),
                "landlord {landlord} has no data key and no case text key to rotate"
            );
            let details = json!({"from": rotation.as_ref().map(|r| r.from), "to": rotation.as_ref().map(|r| r.to),
                                 "resealed": rotation.as_ref().map_or(0, |r| r.resealed),
                                 "homes_resealed": rotation.as_ref().map_or(0, |r| r.homes_resealed),
                                 "text_key_from": texts.from, "text_key_to": texts.to,
                                 "case_texts_resealed": texts.resealed});
            append(
                &tx,
                &event("privacy.rotate_key", Some(&landlord), format!("landlord:{landlord}"), details),
            )
            .await?;
            tx.commit().await?;
            if let Some(rotation) = &rotation {
                writeln!(
                    out,
                    "landlord {landlord}: data key generation {} replaced by {}; {} tenancies and {} homes' occupant records re-sealed; generation {}'s key deleted",
                    rotation.from, rotation.to, rotation.resealed, rotation.homes_resealed, rotation.from
                )?;
            }
            match (texts.from, texts.to) {
                (Some(from), Some(to)) => writeln!(
                    out,
                    "landlord {landlord}: case text key generation {from} replaced by {to}; {} case texts re-sealed; generation {from}'s key deleted",
                    texts.resealed
                )?,
                _ => writeln!(out, "landlord {landlord}: no case text key yet (nothing written on its cases)")?,
            }
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
        TenanciesCommand::Export { target, master_key, id, out: path } => {
            let master = master_key.open()?;
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let started = std::time::Instant::now();
            let secrets = secrets_key_at(&target.pki_dir())?;
            let summary =
                dampwatch_privacy::access::export_tenancy(&mut db, &master, secrets.as_ref(), id, &path)
                    .await?;
            let landlord = tenancy_landlord(&db, id).await?;
            let details = json!({"rows": summary.rows.iter().map(|(d, n)| (d.to_string(), *n)).collect::<std::collections::BTreeMap<_, _>>()});
            append(
                &db,
                &event(
                    "tenancy.subject_access_export",
                    landlord.as_deref(),
                    format!("tenancy:{id}"),
                    details,
                ),
            )
            .await?;
            writeln!(out, "wrote {} in {:.1} s:", path.display(), started.elapsed().as_secs_f64())?;
            for (dataset, n) in &summary.rows {
                writeln!(out, "  {dataset}: {n} rows (CSV and JSON Lines)")?;
            }
        }
        TenanciesCommand::Share { target, id, recipient, purpose, out: path } => {
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let landlord = tenancy_landlord(&db, id).await?;
            let shared = dampwatch_privacy::consent::share(&mut db, id, &recipient, &purpose, &path).await;
            let mut audit = event(
                "tenancy.share",
                landlord.as_deref(),
                format!("tenancy:{id}"),
                json!({"recipient": recipient, "purpose": purpose}),
            );
            match shared {
                Ok((consent, summary)) => {
                    audit.details["consent"] = json!(consent.id);
                    append(&db, &audit).await?;
                    writeln!(
                        out,
                        "wrote {} for {recipient} ({purpose}) under consent {}: {} readings, no personal data",
                        path.display(),
                        consent.id,
                        summary.rows_of("readings")
                    )?;
                }
                Err(e) => {
                    audit.outcome = dampwatch_audit::Outcome::Refused;
                    append(&db, &audit).await?;
                    return Err(e.into());
                }
            }
        }
        TenanciesCommand::Erase { target, id, confirm } => {
            anyhow::ensure!(
                confirm == id,
                "erasing tenancy {id} cannot be undone: repeat its id with --confirm {id}"
            );
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let erased =
                dampwatch_privacy::erase::erase_tenancy(&tx, id, &dampwatch_audit::cli_actor()).await?;
            let details = json!({"consents_withdrawn": erased.consents_withdrawn});
            append(&tx, &event("tenancy.erase", Some(&erased.landlord_id), format!("tenancy:{id}"), details))
                .await?;
            tx.commit().await?;
            writeln!(
                out,
                "tenancy {id}: personal data erased; {} consents withdrawn. Kept:",
                erased.consents_withdrawn
            )?;
            for (what, why) in &erased.kept {
                writeln!(out, "  {what}: {why}")?;
            }
        }
        TenanciesCommand::Consent(command) => run_consent(command, out).await?,
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

async fn tenancy_landlord(
    db: &impl tokio_postgres::GenericClient,
    id: i64,
) -> anyhow::Result<Option<String>> {
    Ok(db.query_opt("SELECT landlord_id FROM tenancies WHERE id = $1", &[&id]).await?.map(|r| r.get(0)))
}

async fn run_consent(command: ConsentCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let actor = dampwatch_audit::cli_actor();
    match command {
        ConsentCommand::Give { target, tenancy, recipient, purpose, evidence, expires } => {
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let new = dampwatch_privacy::consent::NewConsent {
                tenancy_id: tenancy,
                recipient: &recipient,
                purpose: &purpose,
                evidence: &evidence,
                given_at: chrono::Utc::now(),
                expires_at: expires.map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()),
                recorded_by: &actor,
            };
            let id = dampwatch_privacy::consent::give(&tx, &new).await?;
            let landlord = tenancy_landlord(&tx, tenancy).await?;
            let details = json!({"consent": id, "recipient": recipient, "purpose": purpose});
            append(&tx, &event("consent.give", landlord.as_deref(), format!("tenancy:{tenancy}"), details))
                .await?;
            tx.commit().await?;
            writeln!(out, "consent {id}: tenancy {tenancy} to {recipient} for {purpose}")?;
        }
        ConsentCommand::Withdraw { target, id } => {
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let consent = dampwatch_privacy::consent::withdraw(&tx, id, &actor).await?;
            let target =
                consent.tenancy_id.map_or_else(|| format!("consent:{id}"), |t| format!("tenancy:{t}"));
            append(
                &tx,
                &event("consent.withdraw", Some(&consent.landlord_id), target, json!({"consent": id})),
            )
            .await?;
            tx.commit().await?;
            writeln!(out, "consent {id} withdrawn")?;
        }
        ConsentCommand::List { target, tenancy } => {
            let db = dampwatch_store::connect(&target.database_url()?).await?;
            for c in dampwatch_privacy::consent::of_tenancy(&db, tenancy).await? {
                let state = if c.valid_at(chrono::Utc::now()) { "in force" } else { "not in force" };
                writeln!(
                    out,
                    "{}\t{}\t{}\tgiven {}\t{state}\t{}",
                    c.id,
                    c.recipient,
                    c.purpose,
                    c.given_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    c.evidence
                )?;
            }
        }
    }
    Ok(())
}

/// `dampwatch landlords export L --out FILE`: the landlord's data for portability (audited).
pub async fn export_landlord(
    db: &mut Client,
    landlord: &str,
    master_key: &MasterKeyArg,
    pki_dir: &std::path::Path,
    path: &std::path::Path,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let master = master_key.open()?;
    let secrets = secrets_key_at(pki_dir)?;
    let started = std::time::Instant::now();
    let summary =
        dampwatch_privacy::portability::export_landlord(db, &master, secrets.as_ref(), landlord, path)
            .await?;
    let details = json!({"rows": summary.rows.iter().map(|(d, n)| (d.to_string(), *n)).collect::<std::collections::BTreeMap<_, _>>()});
    append(&*db, &event("landlord.export", Some(landlord), format!("landlord:{landlord}"), details)).await?;
    writeln!(out, "wrote {} in {:.1} s:", path.display(), started.elapsed().as_secs_f64())?;
    for (dataset, n) in &summary.rows {
        writeln!(out, "  {dataset}: {n} rows")?;
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
    // Evidence a complaint, dispute or claim depends on is never destroyed by an erasure.
    let holds: i64 = db
        .query_one(
            "SELECT count(*) FROM legal_holds WHERE landlord_id = $1 AND released_at IS NULL",
            &[&landlord],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        holds == 0,
        "landlord {landlord} has {holds} open legal holds (dampwatch holds list --landlord {landlord}): release them before erasing"
    );
    let tx = db.transaction().await?;
    let erasure = dampwatch_privacy::erase_landlord(&tx, landlord).await?;
    let details = json!({"keys_destroyed": erasure.keys_destroyed, "tenancies": erasure.tenancies, "homes": erasure.homes,
                         "case_texts": erasure.case_texts});
    append(&tx, &event("landlord.erase", Some(landlord), format!("landlord:{landlord}"), details)).await?;
    tx.commit().await?;
    writeln!(
        out,
        "landlord {landlord}: {} data key generations destroyed (erased at {}); {} tenancies, {} homes' occupant records and {} case texts can no longer be opened",
        erasure.keys_destroyed, erasure.erased_at, erasure.tenancies, erasure.homes, erasure.case_texts
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

/// The services' secrets key in `pki_dir`, if there is one: case text keys are sealed under it,
/// so it opens what officers wrote on cases (the master key does not).
pub(crate) fn secrets_key_at(
    pki_dir: &std::path::Path,
) -> anyhow::Result<Option<dampwatch_privacy::SecretsKey>> {
    let path = pki_dir.join(dampwatch_privacy::secrets_key::KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(dampwatch_privacy::SecretsKey::open(&path)?))
}
