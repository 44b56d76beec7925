//! `dampwatch backup`: one consistent dump, encrypted as it streams.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use age::x25519::Recipient;

use crate::error::BackupError;
use crate::libpq::ClientProgram;
use crate::manifest::Manifest;
use crate::stream::CopyError;
use crate::Progress;

pub struct BackupOptions {
    pub database_url: String,
    /// Who can decrypt it: the backup key's public half (and any other recipient, e.g. an
    /// offline second key).
    pub recipients: Vec<Recipient>,
    /// The file to write; an existing file is never replaced.
    pub out: PathBuf,
    /// `pg_dump`'s gzip level (0 to 9).
    pub compression: u8,
}

#[derive(Debug)]
pub struct BackupSummary {
    pub manifest: Manifest,
    /// Size of the encrypted file.
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Dumps the database `options.database_url` names into `options.out`, encrypted.
///
/// The row counts and `pg_dump` read the same exported snapshot, held open by a read-only
/// repeatable-read transaction until the dump ends. The file is written beside its final name,
/// synced, and renamed into place, so an interrupted backup never leaves a truncated file
/// under a name a restore would trust.
pub async fn backup(options: &BackupOptions, progress: Progress<'_>) -> Result<BackupSummary, BackupError> {
    let started = Instant::now();
    if options.recipients.is_empty() {
        return Err(BackupError::Key {
            path: options.out.clone(),
            reason: "no recipient to encrypt to".into(),
        });
    }
    if options.out.exists() {
        return Err(BackupError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists: a backup never replaces a file", options.out.display()),
        )));
    }
    let program = ClientProgram::new("pg_dump", &options.database_url)?;
    let mut client = dampwatch_store::connect(&options.database_url).await?;
    let tx = dampwatch_store::read_only_snapshot(&mut client).await?;
    let snapshot: String = tx.query_one("SELECT pg_export_snapshot()", &[]).await?.get(0);
    let manifest = describe(&tx).await?;

    let header = manifest.header();
    let recipients = options.recipients.clone();
    let out = options.out.clone();
    let compression = options.compression.min(9);
    let bytes = std::thread::scope(|scope| {
        scope
            .spawn(|| dump(&program, &snapshot, compression, &header, &recipients, &out, progress))
            .join()
            .unwrap_or_else(|_| Err(BackupError::Io(std::io::Error::other("the dump thread panicked"))))
    });
    // The transaction only held the snapshot open; ending it after the dump is all it needs.
    tx.rollback().await?;
    Ok(BackupSummary { manifest, bytes: bytes?, elapsed: started.elapsed() })
}

/// The manifest, read in the snapshot the dump uses.
async fn describe(tx: &tokio_postgres::Transaction<'_>) -> Result<Manifest, BackupError> {
    let database: String = tx.query_one("SELECT current_database()", &[]).await?.get(0);
    let server_version: String = tx.query_one("SHOW server_version", &[]).await?.get(0);
    let schema_version: i32 =
        tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.get(0);
    let timescaledb: Option<String> = tx
        .query_opt("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", &[])
        .await?
        .map(|r| r.get(0));
    let tables: Vec<String> = tx
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rows = BTreeMap::new();
    for table in tables {
        rows.insert(table.clone(), count_rows(tx, &table).await?);
    }
    Ok(Manifest {
        created_at: chrono::Utc::now(),
        database,
        server_version,
        schema_version,
        timescaledb,
        rows,
    })
}

/// `count(*)` of a table of the `public` schema.
pub(crate) async fn count_rows(
    client: &impl tokio_postgres::GenericClient,
    table: &str,
) -> Result<i64, BackupError> {
    let quoted = format!("\"{}\"", table.replace('"', "\"\""));
    Ok(client.query_one(&format!("SELECT count(*) FROM public.{quoted}"), &[]).await?.get(0))
}

/// Runs `pg_dump` in `snapshot` and streams its output, after `header`, through age into a
/// temporary file beside `out`, then renames it. Returns the encrypted size.
fn dump(
    program: &ClientProgram,
    snapshot: &str,
    compression: u8,
    header: &[u8],
    recipients: &[Recipient],
    out: &Path,
    progress: Progress<'_>,
) -> Result<u64, BackupError> {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Created 0600 by tempfile: a backup is as private as the key that opens it.
    let file = tempfile::NamedTempFile::new_in(dir)?;
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| BackupError::Key { path: out.to_owned(), reason: e.to_string() })?;
    let mut writer = encryptor.wrap_output(BufWriter::with_capacity(1 << 20, file.as_file()))?;
    writer.write_all(header)?;

    let mut child = program
        .command()
        .args(["--format=custom", "--no-password", &format!("--compress={compression}")])
        .arg(format!("--snapshot={snapshot}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = crate::stream::collect_stderr(child.stderr.take());
    let mut stdout = child.stdout.take().expect("piped");
    let copied = crate::stream::copy(&mut stdout, &mut writer, progress).map_err(|e| match e {
        CopyError::Read { error, .. } | CopyError::Write(error) => error,
    });
    if copied.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        return Err(BackupError::Program { program: "pg_dump".into(), status: status.to_string(), stderr });
    }
    copied?;
    let buffered = writer.finish()?;
    buffered.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let bytes = file.as_file().metadata()?.len();
    file.persist_noclobber(out).map_err(|e| e.error)?;
    // The rename is durable only once the directory is.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(bytes)
}
