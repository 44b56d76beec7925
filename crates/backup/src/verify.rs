//! The restore drill's second half: the evidence re-checked on the restored database, with the
//! same code the collector and the evidence pack's verifier use, never the database's own
//! functions (a restored database is what is under test).

use std::fmt;
use std::time::{Duration, Instant};

use dampwatch_evidence::{check_chain, EventRecord};
use futures_util::{pin_mut, TryStreamExt as _};
use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;

use crate::error::BackupError;

/// Uplinks verified per batch (each batch split across the machine's cores).
const BATCH: usize = 16_384;
/// Problems listed by name; the rest are counted.
const LISTED: usize = 20;

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub uplinks: u64,
    /// Uplinks whose digest, device or signature does not check, the first few named.
    pub bad_uplinks: u64,
    pub uplink_problems: Vec<String>,
    /// Readings that point at no stored uplink.
    pub orphan_readings: i64,
    pub cases: u64,
    pub events: u64,
    /// Cases whose event chain breaks, the first few named with the event and reason.
    pub broken_cases: u64,
    pub chain_problems: Vec<String>,
    pub audit: AuditCheck,
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
pub enum AuditCheck {
    /// No audit public key was given, so the log's checkpoints could not be checked.
    #[default]
    NotChecked,
    Intact(dampwatch_audit::Report),
    Broken(String),
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.bad_uplinks == 0
            && self.orphan_readings == 0
            && self.broken_cases == 0
            && !matches!(self.audit, AuditCheck::Broken(_))
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "uplinks: {} verified, {} failed", self.uplinks - self.bad_uplinks, self.bad_uplinks)?;
        for p in &self.uplink_problems {
            writeln!(f, "  {p}")?;
        }
        writeln!(f, "readings without their signed uplink: {}", self.orphan_readings)?;
        writeln!(
            f,
            "case chains: {} cases, {} events, {} broken",
            self.cases, self.events, self.broken_cases
        )?;
        for p in &self.chain_problems {
            writeln!(f, "  {p}")?;
        }
        match &self.audit {
            AuditCheck::NotChecked => writeln!(f, "audit log: not checked (give the audit public keys)")?,
            AuditCheck::Intact(r) => writeln!(f, "audit log: intact, {r}")?,
            AuditCheck::Broken(why) => writeln!(f, "audit log: BROKEN at {why}")?,
        }
        write!(f, "checked in {:.1} s", self.elapsed.as_secs_f64())
    }
}

/// Re-verifies the evidence held in the database `client` is connected to. `audit_keys` are
/// the audit checkpoint public keys to trust (none: the audit log is not checked). Signatures
/// are checked on every core with `block_in_place`, so it needs tokio's multi-threaded runtime.
pub async fn verify(client: &Client, audit_keys: &[[u8; 32]]) -> Result<VerifyReport, BackupError> {
    let started = Instant::now();
    let mut report = VerifyReport::default();
    uplinks(client, &mut report).await?;
    report.orphan_readings = client
        .query_one(
            "SELECT count(*) FROM readings r WHERE NOT EXISTS (SELECT 1 FROM uplinks u WHERE u.digest = r.uplink_digest)",
            &[],
        )
        .await?
        .get(0);
    chains(client, &mut report).await?;
    if !audit_keys.is_empty() {
        report.audit = audit(client, audit_keys).await?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One stored uplink and its device's registry entry.
struct Stored {
    digest: Vec<u8>,
    device_id: String,
    key_id: i32,
    payload: Vec<u8>,
    signature: Vec<u8>,
    device_key: Option<(i32, Vec<u8>)>,
}

impl Stored {
    fn check(&self) -> Result<(), String> {
        if Sha256::digest(&self.payload).as_slice() != self.digest.as_slice() {
            return Err("its digest is not the SHA-256 of its payload".into());
        }
        let Some((key_id, key)) = &self.device_key else {
            return Err("its device is not in the registry".into());
        };
        if *key_id != self.key_id {
            return Err(format!("signed with key id {}, the device's key is {key_id}", self.key_id));
        }
        dampwatch_proto::verify_uplink(&self.device_id, key, &self.payload, &self.signature)
            .map_err(|e| e.to_string())
    }
}

async fn uplinks(client: &Client, report: &mut VerifyReport) -> Result<(), BackupError> {
    let rows = client
        .query_raw(
            "SELECT u.digest, u.device_id, u.key_id, u.payload, u.signature, d.key_id, d.signing_public_key
             FROM uplinks u LEFT JOIN devices d ON d.id = u.device_id",
            std::iter::empty::<i32>(),
        )
        .await?;
    pin_mut!(rows);
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.try_next().await? {
        let device_key: Option<i32> = row.get(5);
        batch.push(Stored {
            digest: row.get(0),
            device_id: row.get(1),
            key_id: row.get(2),
            payload: row.get(3),
            signature: row.get(4),
            device_key: device_key.map(|k| (k, row.get(6))),
        });
        if batch.len() == BATCH {
            check_batch(std::mem::take(&mut batch), report).await;
        }
    }
    check_batch(batch, report).await;
    Ok(())
}

async fn check_batch(batch: Vec<Stored>, report: &mut VerifyReport) {
    report.uplinks += batch.len() as u64;
    let problems = tokio::task::block_in_place(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = batch.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|u| {
                                u.check().err().map(|why| {
                                    format!("uplink {} of {}: {why}", hex::encode(&u.digest), u.device_id)
                                })
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect::<Vec<_>>()
        })
    });
    report.bad_uplinks += problems.len() as u64;
    let room = LISTED.saturating_sub(report.uplink_problems.len());
    report.uplink_problems.extend(problems.into_iter().take(room));
}

async fn chains(client: &Client, report: &mut VerifyReport) -> Result<(), BackupError> {
    let rows = client
        .query_raw(
            &format!("SELECT {} FROM case_events ORDER BY case_id, seq", EventRecord::COLUMNS),
            std::iter::empty::<i32>(),
        )
        .await?;
    pin_mut!(rows);
    let mut case: Vec<EventRecord> = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let event =
            EventRecord::from_row(&row).map_err(|e| BackupError::Io(std::io::Error::other(e.to_string())))?;
        if case.last().is_some_and(|last| last.case_id != event.case_id) {
            check_case(&std::mem::take(&mut case), report);
        }
        case.push(event);
    }
    check_case(&case, report);
    Ok(())
}

fn check_case(events: &[EventRecord], report: &mut VerifyReport) {
    let Some(first) = events.first() else { return };
    report.cases += 1;
    report.events += events.len() as u64;
    if let Err((seq, why)) = check_chain(events) {
        report.broken_cases += 1;
        if report.chain_problems.len() < LISTED {
            report.chain_problems.push(format!("case {} event {seq}: {why}", first.case_id));
        }
    }
}

/// The audit log exported to a private temporary file and verified against `keys`, as
/// `dampwatch audit verify` does with an export (never the whole log in memory).
async fn audit(client: &Client, keys: &[[u8; 32]]) -> Result<AuditCheck, BackupError> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.jsonl");
    let file = std::fs::File::create(&path)?;
    dampwatch_audit::export(client, std::io::BufWriter::new(file))
        .await
        .map_err(|e| BackupError::Io(std::io::Error::other(e.to_string())))?;
    let reader = std::io::BufReader::new(std::fs::File::open(&path)?);
    Ok(match dampwatch_audit::verify(reader, keys) {
        Ok(r) => AuditCheck::Intact(r),
        Err(b) => AuditCheck::Broken(b.to_string()),
    })
}
