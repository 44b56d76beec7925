//! `dampwatch backup`: the backup key, encrypted backups, their restore and the restore drill's
//! verification. The work is `dampwatch-backup`'s; this parses arguments and prints.

use std::io::Write;
use std::path::PathBuf;

use crate::audit::Verdict;
use crate::devices::Target;

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum BackupCommand {
    /// Make the backup key: an age X25519 identity file (mode 0600) for the restore machine;
    /// prints the public key (`age1...`) that backups are encrypted to.
    Keygen {
        /// The identity file to create (an existing file is never replaced).
        #[arg(long)]
        out: PathBuf,
    },
    /// Back up the database: one consistent dump, encrypted to the backup key's public half.
    Create {
        #[command(flatten)]
        target: Target,
        /// A recipient (`age1...`) to encrypt to; repeat for several.
        #[arg(long = "to", value_name = "RECIPIENT")]
        recipients: Vec<String>,
        /// A file of recipients, one per line.
        #[arg(long)]
        recipients_file: Option<PathBuf>,
        /// The file to write (never replaced).
        #[arg(long)]
        out: PathBuf,
        /// pg_dump's gzip level, 0 (none) to 9.
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=9))]
        compression: u8,
    },
    /// Restore a backup into a new database, then re-verify every uplink's signature, every
    /// case's event chain and (given the audit keys) the audit log; exits 1 if anything fails.
    Restore {
        /// The backup.
        backup: PathBuf,
        /// The backup key's identity file.
        #[arg(long)]
        identity: PathBuf,
        /// The database to create (it must not exist), e.g. postgres://dampwatch@127.0.0.1:5432/dampwatch.
        #[arg(long, env = "DAMPWATCH_DATABASE_URL")]
        database_url: String,
        /// An audit checkpoint public key (`DIR/audit/key-N.pub` or PEM); repeat for every
        /// generation. Without one the audit log's checkpoints are not checked.
        #[arg(long = "audit-public-key", value_name = "FILE")]
        audit_public_keys: Vec<PathBuf>,
        /// Restore only: skip the verification.
        #[arg(long)]
        no_verify: bool,
    },
    /// Re-verify a database's evidence as a restore does: every uplink, every case chain, the
    /// audit log. Exits 1 if anything fails.
    Verify {
        #[command(flatten)]
        target: Target,
        #[arg(long = "audit-public-key", value_name = "FILE")]
        audit_public_keys: Vec<PathBuf>,
    },
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn progress(verb: &'static str) -> impl Fn(u64) + Sync {
    move |bytes| eprintln!("{verb} {}", mib(bytes))
}

fn audit_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<[u8; 32]>> {
    Ok(paths.iter().map(|p| dampwatch_audit::load_public_key(p)).collect::<Result<Vec<_>, _>>()?)
}

async fn check(
    db: &tokio_postgres::Client,
    keys: &[[u8; 32]],
    out: &mut dyn Write,
) -> anyhow::Result<Verdict> {
    let report = dampwatch_backup::verify(db, keys).await?;
    writeln!(out, "{report}")?;
    Ok(if report.is_intact() { Verdict::Ok } else { Verdict::Tampered })
}

pub async fn run(cmd: BackupCommand, out: &mut dyn Write) -> anyhow::Result<Verdict> {
    match cmd {
        BackupCommand::Keygen { out: path } => {
            let recipient = dampwatch_backup::key::generate(&path)?;
            writeln!(out, "wrote {} (keep it offline: it opens every backup)", path.display())?;
            writeln!(out, "public key: {recipient}")?;
        }
        BackupCommand::Create { target, recipients, recipients_file, out: path, compression } => {
            let mut all = recipients
                .iter()
                .map(|r| dampwatch_backup::key::parse_recipient(r).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if let Some(file) = recipients_file {
                all.extend(dampwatch_backup::key::load_recipients(&file)?);
            }
            anyhow::ensure!(!all.is_empty(), "give --to RECIPIENT or --recipients-file: whom to encrypt to");
            let options = dampwatch_backup::BackupOptions {
                database_url: target.database_url()?,
                recipients: all,
                out: path,
                compression,
            };
            let summary = dampwatch_backup::backup(&options, &progress("dumped")).await?;
            let readings = summary.manifest.rows.get("readings").copied().unwrap_or(0);
            writeln!(
                out,
                "wrote {} ({}, schema {}, {} readings) in {:.1} s",
                options.out.display(),
                mib(summary.bytes),
                summary.manifest.schema_version,
                readings,
                summary.elapsed.as_secs_f64()
            )?;
        }
        BackupCommand::Restore { backup, identity, database_url, audit_public_keys, no_verify } => {
            let keys = audit_keys(&audit_public_keys)?;
            let options = dampwatch_backup::RestoreOptions {
                backup,
                identities: dampwatch_backup::key::load_identities(&identity)?,
                database_url: database_url.clone(),
            };
            let summary = dampwatch_backup::restore(&options, &progress("restored")).await?;
            writeln!(
                out,
                "restored {} of {} taken {} (schema {}) in {:.1} s; every table's rows match the backup",
                mib(summary.bytes),
                summary.manifest.database,
                summary.manifest.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                summary.manifest.schema_version,
                summary.elapsed.as_secs_f64()
            )?;
            if !no_verify {
                let db = dampwatch_store::connect(&database_url).await?;
                return check(&db, &keys, out).await;
            }
        }
        BackupCommand::Verify { target, audit_public_keys } => {
            let keys = audit_keys(&audit_public_keys)?;
            let db = dampwatch_store::connect(&target.database_url()?).await?;
            return check(&db, &keys, out).await;
        }
    }
    Ok(Verdict::Ok)
}
