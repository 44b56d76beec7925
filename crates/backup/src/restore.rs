//! `dampwatch restore`: a backup into a new database, all of it or nothing.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use age::x25519::Identity;

use crate::error::BackupError;
use crate::libpq::{self, ClientProgram};
use crate::manifest::Manifest;
use crate::stream::CopyError;
use crate::Progress;

pub struct RestoreOptions {
    pub backup: PathBuf,
    pub identities: Vec<Identity>,
    /// The database to create and restore into (it must not exist); the URL's role must be
    /// allowed to create databases.
    pub database_url: String,
}

#[derive(Debug)]
pub struct RestoreSummary {
    pub manifest: Manifest,
    /// Plaintext bytes of the dump restored.
    pub bytes: u64,
    /// From opening the backup to a database ready for the services (restored, its row
    /// counts checked and its planner statistics gathered).
    pub elapsed: Duration,
}

/// Restores `options.backup` into the new database `options.database_url` names.
pub async fn restore(
    options: &RestoreOptions,
    progress: Progress<'_>,
) -> Result<RestoreSummary, BackupError> {
    let started = Instant::now();
    let target = libpq::database_name(&options.database_url)?;
    let (manifest, reader) = open(options)?;
    let known = dampwatch_store::MIGRATIONS.last().map_or(0, |m| m.version);
    if manifest.schema_version > known {
        return Err(BackupError::TooNew { found: manifest.schema_version, known });
    }
    let program = ClientProgram::new("pg_restore", &options.database_url)?;

    let maintenance =
        dampwatch_store::connect(&libpq::with_database(&options.database_url, "postgres")?).await?;
    let exists = maintenance.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&target]).await?;
    if exists.is_some() {
        return Err(BackupError::TargetExists(target));
    }
    dampwatch_store::roles::ensure_cluster_roles(&maintenance).await?;
    maintenance.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&target))).await?;

    match fill(options, &program, &manifest, reader, progress).await {
        Ok(bytes) => Ok(RestoreSummary { manifest, bytes, elapsed: started.elapsed() }),
        Err(e) => {
            // Nothing half-restored stays behind under the name the services would use.
            if let Err(drop) = maintenance
                .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&target)))
                .await
            {
                tracing::error!(database = %target, error = %drop, "cannot drop the failed restore's database");
            }
            Err(e)
        }
    }
}

/// Decrypts the header and returns the manifest and the reader positioned at the dump.
fn open(options: &RestoreOptions) -> Result<(Manifest, Box<dyn BufRead + Send>), BackupError> {
    let path = &options.backup;
    let file = std::fs::File::open(path)?;
    let decrypt_error = |reason: String| BackupError::Decrypt { path: path.clone(), reason };
    let decryptor =
        age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, file)).map_err(|e| match e {
            age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => BackupError::NotABackup {
                path: path.clone(),
                reason: format!("not an age-encrypted file ({e})"),
            },
            other => decrypt_error(other.to_string()),
        })?;
    let stream = decryptor.decrypt(options.identities.iter().map(|i| i as &dyn age::Identity)).map_err(
        |e| match e {
            age::DecryptError::NoMatchingKeys => {
                decrypt_error("it was not encrypted to the key given (no matching identity)".into())
            }
            other => decrypt_error(other.to_string()),
        },
    )?;
    let mut reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 20, stream));
    let manifest = Manifest::read(&mut reader)
        .map_err(|reason| BackupError::NotABackup { path: path.clone(), reason })?;
    Ok((manifest, reader))
}

/// Restores the dump into the new database, gathers statistics and checks every table's rows.
async fn fill(
    options: &RestoreOptions,
    program: &ClientProgram,
    manifest: &Manifest,
    reader: Box<dyn BufRead + Send>,
    progress: Progress<'_>,
) -> Result<u64, BackupError> {
    let client = dampwatch_store::connect(&options.database_url).await?;
    if manifest.timescaledb.is_some() {
        // TimescaleDB's documented procedure: its catalog restored with its triggers off.
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb; SELECT timescaledb_pre_restore();")
            .await?;
    }
    let args: &[&str] = if manifest.timescaledb.is_some() {
        // The extension exists already, so its CREATE EXTENSION entry fails harmlessly; the
        // row counts below still decide whether the restore is whole.
        &["--no-owner", "--no-password"]
    } else {
        &["--no-owner", "--no-password", "--exit-on-error", "--single-transaction"]
    };
    let path = options.backup.clone();
    let target = libpq::database_name(&options.database_url)?;
    let bytes = std::thread::scope(|scope| {
        scope
            .spawn(|| feed(program, &target, args, reader, &path, progress))
            .join()
            .unwrap_or_else(|_| Err(BackupError::Io(std::io::Error::other("the restore thread panicked"))))
    })?;
    if manifest.timescaledb.is_some() {
        client.batch_execute("SELECT timescaledb_post_restore();").await?;
    }
    client.batch_execute("ANALYZE").await?;
    let mut differences = Vec::new();
    for (table, expected) in &manifest.rows {
        let found = crate::create::count_rows(&client, table).await?;
        if found != *expected {
            differences.push(format!("{table}: {found} rows, the backup had {expected}"));
        }
    }
    if !differences.is_empty() {
        return Err(BackupError::CountMismatch(differences.join("; ")));
    }
    Ok(bytes)
}

/// Streams the decrypted dump into `pg_restore`. A decryption failure (a changed or missing
/// byte anywhere) stops it before its transaction commits.
fn feed(
    program: &ClientProgram,
    target: &str,
    args: &[&str],
    mut reader: Box<dyn BufRead + Send>,
    path: &std::path::Path,
    progress: Progress<'_>,
) -> Result<u64, BackupError> {
    let mut child = program
        .command()
        // Only the name: the server and credentials stay in the environment.
        .arg(format!("--dbname={target}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = crate::stream::collect_stderr(child.stderr.take());
    let mut stdin = child.stdin.take().expect("piped");
    let copied = crate::stream::copy(&mut reader, &mut stdin, progress).map_err(|e| match e {
        CopyError::Read { after, error } => {
            BackupError::Decrypt { path: path.to_owned(), reason: format!("after {after} bytes: {error}") }
        }
        CopyError::Write(error) => BackupError::Io(error),
    });
    if copied.is_err() {
        // Killed before it reads the end of its input, pg_restore never commits.
        let _ = child.kill();
    }
    drop(stdin);
    let status = child.wait()?;
    let stderr = stderr.join().unwrap_or_default();
    match copied {
        // The backup itself is at fault: that is the error to report, whatever pg_restore
        // made of its cut-off input.
        Err(e @ BackupError::Decrypt { .. }) => Err(e),
        // pg_restore stopped reading (a broken pipe): its own message says why.
        Err(_) | Ok(_) if !status.success() => {
            Err(BackupError::Program { program: "pg_restore".into(), status: status.to_string(), stderr })
        }
        copied => copied,
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
