//! `dampwatch audit`: export the audit log, verify an export offline, sign the head now. The
//! work is `dampwatch-audit`'s; this parses arguments and prints.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::devices::Target;

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum AuditCommand {
    /// Write the whole audit log and its signed checkpoints as JSON Lines.
    Export {
        #[command(flatten)]
        target: Target,
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check an export offline: every hash, the chain from seq 1, every checkpoint's signature.
    Verify {
        /// The export (JSON Lines, as `audit export` writes it).
        file: PathBuf,
        /// A public key the checkpoints may be signed with: `DIR/audit/key-N.pub` (hex) or a PEM
        /// "PUBLIC KEY". Repeat it for every generation the platform has used.
        #[arg(long = "public-key", value_name = "PEM_FILE", required = true)]
        public_keys: Vec<PathBuf>,
        /// Accept an export whose start retention cut (it begins with a signed checkpoint)
        /// when the cut removed only entries older than this period (the audit log's is
        /// `7years`). Without it such an export fails: its removed start cannot be told from a
        /// truncation.
        #[arg(long, value_name = "PERIOD", value_parser = humantime::parse_duration)]
        retained_for: Option<std::time::Duration>,
    },
    /// Sign the head of the log now with the PKI directory's audit key.
    Checkpoint {
        #[command(flatten)]
        target: Target,
    },
}

/// What a command found: verification's verdict decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Tampered,
}

pub async fn run(cmd: AuditCommand, out: &mut dyn Write) -> anyhow::Result<Verdict> {
    match cmd {
        AuditCommand::Export { target, out: path } => {
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            // One snapshot: a retention cut or an append while it runs cannot tear the export.
            let snapshot = db
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            // Written beside the target and renamed, so an interrupted export never leaves a
            // truncated file under the name a verifier will read.
            let dir =
                path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let mut file = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            let summary =
                dampwatch_audit::export(&snapshot, std::io::BufWriter::new(file.as_file_mut())).await?;
            snapshot.commit().await?;
            file.persist(&path).with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(
                out,
                "exported {} entries and {} checkpoints to {}",
                summary.entries,
                summary.checkpoints,
                path.display()
            )?;
            if summary.starts_after > 0 {
                writeln!(
                    out,
                    "seq 1 to {} were removed by retention; the export starts with the checkpoint signed there",
                    summary.starts_after
                )?;
            }
        }
        AuditCommand::Verify { file, public_keys, retained_for } => {
            let trusted = public_keys
                .iter()
                .map(|p| dampwatch_audit::load_public_key(p))
                .collect::<Result<Vec<_>, _>>()?;
            let reader =
                std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let report = match dampwatch_audit::verify(std::io::BufReader::new(reader), &trusted) {
                Ok(report) => report,
                Err(broken) => {
                    writeln!(out, "TAMPERED: {broken}")?;
                    return Ok(Verdict::Tampered);
                }
            };
            let cut = match retained_for {
                Some(period) => report.check_cut(period, chrono::Utc::now()),
                None if report.starts_after > 0 => Err(format!(
                    "the export starts after seq {}: give --retained-for with the retention period to \
                     accept a start retention removed",
                    report.starts_after
                )),
                None => Ok(()),
            };
            if let Err(why) = cut {
                writeln!(out, "TAMPERED: {why}")?;
                return Ok(Verdict::Tampered);
            }
            writeln!(out, "ok: {report}")?;
        }
        AuditCommand::Checkpoint { target } => {
            let signer = dampwatch_audit::CheckpointSigner::load(&target.pki_dir())?;
            let db = dampwatch_store::connect(&target.database_url()?).await?;
            match dampwatch_audit::checkpoint(&db, &signer).await? {
                Some(c) => writeln!(out, "signed seq {} with {}", c.seq, c.key_id)?,
                None => writeln!(out, "nothing to sign: the log is empty or its head is already signed")?,
            }
        }
    }
    Ok(Verdict::Ok)
}
