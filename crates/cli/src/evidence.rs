//! `dampwatch evidence`: export a case's evidence pack, verify a pack offline. The work is
//! `dampwatch-evidence`'s; this parses arguments and prints.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::audit::Verdict;
use crate::devices::Target;

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum EvidenceCommand {
    /// Write one case's evidence pack (a tar archive sealed with the platform's audit key).
    Export {
        #[command(flatten)]
        target: Target,
        /// The case.
        #[arg(long = "case", value_name = "ID")]
        case_id: i64,
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        /// The collector's configuration file, whose `[alerts.clock]` the deadlines were
        /// computed under (default: the built-in clock configuration).
        #[arg(long)]
        config: Option<PathBuf>,
        /// How far before the condition began the readings go, e.g. "30d".
        #[arg(long, value_parser = humantime::parse_duration, default_value = "30d")]
        lookback: std::time::Duration,
    },
    /// Check a pack offline: the seal, every file, every signature and certificate, the event
    /// chain, every reading against its signed uplink, every deadline recomputed.
    Verify {
        /// The pack, as `evidence export` writes it.
        pack: PathBuf,
        /// A public key the pack may be sealed with: `DIR/audit/key-N.pub` (hex) or a PEM
        /// "PUBLIC KEY". Repeat it for every generation the platform has used.
        #[arg(long = "public-key", value_name = "PEM_FILE", required = true)]
        public_keys: Vec<PathBuf>,
    },
}

pub async fn run(cmd: EvidenceCommand, out: &mut dyn Write) -> anyhow::Result<Verdict> {
    match cmd {
        EvidenceCommand::Export { target, case_id, out: path, config, lookback } => {
            let clock = match &config {
                Some(file) => {
                    dampwatch_collector::Config::load(file)
                        .with_context(|| format!("cannot read {}", file.display()))?
                        .alerts
                        .clock
                }
                None => Default::default(),
            };
            let db = dampwatch_store::connect(&target.database_url()?).await?;
            // What officers wrote goes in opened when the services' secrets key is beside the PKI.
            let secrets = crate::privacy::secrets_key_at(&target.pki_dir())?;
            let mut texts = std::collections::BTreeMap::new();
            if let Some(secrets) = &secrets {
                for (id, text) in dampwatch_privacy::case_texts::open_case(&db, secrets, case_id).await? {
                    match text {
                        Ok(text) => {
                            texts.insert(id, text);
                        }
                        Err(e) => writeln!(out, "case text {id} stays a digest in the pack: {e}")?,
                    }
                }
            }
            let options = dampwatch_evidence::ExportOptions { clock, lookback, now: None, texts };
            // Written beside the target and renamed, so an interrupted export never leaves a
            // truncated pack under the name a verifier will read.
            let dir =
                path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let mut file = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            let summary = dampwatch_evidence::export_case_with(
                &db,
                &target.pki_dir(),
                case_id,
                &options,
                std::io::BufWriter::new(file.as_file_mut()),
            )
            .await?;
            file.persist(&path).with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(
                out,
                "exported case {}: {} uplinks, {} readings, {} events ({} with their officers' text, {} with its digest only), {} deadlines, {} devices; sealed by {} into {}",
                summary.case_id,
                summary.uplinks,
                summary.readings,
                summary.events,
                summary.texts,
                summary.texts_as_digests,
                summary.deadlines,
                summary.devices,
                summary.key_id,
                path.display()
            )?;
            if summary.texts_as_digests > 0 && secrets.is_none() {
                writeln!(
                    out,
                    "what officers wrote is in the pack as digests only: the services' secrets key ({}) opens it",
                    target.pki_dir().join(dampwatch_privacy::secrets_key::KEY_FILE).display()
                )?;
            }
        }
        EvidenceCommand::Verify { pack, public_keys } => {
            let trusted = public_keys
                .iter()
                .map(|p| dampwatch_audit::load_public_key(p))
                .collect::<Result<Vec<_>, _>>()?;
            let reader =
                std::fs::File::open(&pack).with_context(|| format!("cannot open {}", pack.display()))?;
            match dampwatch_evidence::verify(std::io::BufReader::new(reader), &trusted) {
                Ok(report) => writeln!(out, "ok: {report}")?,
                Err(found) => {
                    writeln!(out, "TAMPERED: {found}")?;
                    return Ok(Verdict::Tampered);
                }
            }
        }
    }
    Ok(Verdict::Ok)
}
