//! The export: the whole log as JSON Lines, for a verifier who does not trust our database.
//!
//! One line per entry in seq order, `{"entry": {...}}` with every column (hashes in hex, `at`
//! as RFC 3339 with six decimals, `details` as the exact stored JSON text), then one line per
//! checkpoint, `{"checkpoint": {...}}`. When retention has cut the log's start (migration 0464:
//! only ever at a checkpointed entry), the first line is that checkpoint, the anchor the first
//! entry's `prev_hash` continues. Entries are streamed from the server row by row, so an export
//! of any length holds one row in memory at a time. Run it in one snapshot (a repeatable-read
//! transaction), so that a cut or an append while it runs cannot tear it.

use std::io::Write;

use futures_util::{pin_mut, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::checkpoint::{Checkpoint, CHECKPOINT_COLUMNS};
use crate::entry::{Entry, ENTRY_COLUMNS};
use crate::error::AuditError;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Line {
    Entry(Entry),
    Checkpoint(Checkpoint),
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// The entry the export starts after (the anchor checkpoint's seq), 0 when it starts at 1.
    pub starts_after: i64,
    pub entries: u64,
    pub checkpoints: u64,
    /// The last entry written (0 for an empty log).
    pub last_seq: i64,
}

/// Writes every entry, then every checkpoint, as JSON Lines to `out`.
pub async fn export(client: &impl GenericClient, mut out: impl Write) -> Result<ExportSummary, AuditError> {
    let first: Option<i64> = client.query_one("SELECT min(seq) FROM audit_log", &[]).await?.get(0);
    let starts_after = first.map_or(0, |seq| seq - 1);
    if starts_after > 0 {
        let anchor = client
            .query_opt(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE seq = $1 LIMIT 1"),
                &[&starts_after],
            )
            .await?;
        // Without it the verifier says the log starts at `first`, which is the truth.
        if let Some(row) = anchor {
            let anchor = Checkpoint::from_row(&row).map_err(AuditError::BadRow)?;
            write_line(&mut out, &Line::Checkpoint(anchor))?;
        }
    }
    let rows = client
        .query_raw(&format!("SELECT {ENTRY_COLUMNS} FROM audit_log ORDER BY seq"), Vec::<i64>::new())
        .await?;
    pin_mut!(rows);
    let (mut entries, mut last_seq) = (0u64, 0i64);
    while let Some(row) = rows.try_next().await? {
        let entry = Entry::from_row(&row).map_err(AuditError::BadRow)?;
        last_seq = entry.seq;
        write_line(&mut out, &Line::Entry(entry))?;
        entries += 1;
    }
    // Only checkpoints of entries in this export: one signed after the entries were read names
    // an entry the export does not hold, and would fail verification for no fault of the log.
    let rows = client
        .query_raw(
            &format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE seq > $1 AND seq <= $2 ORDER BY seq"
            ),
            [starts_after, last_seq],
        )
        .await?;
    pin_mut!(rows);
    let mut checkpoints = 0u64;
    while let Some(row) = rows.try_next().await? {
        let checkpoint = Checkpoint::from_row(&row).map_err(AuditError::BadRow)?;
        write_line(&mut out, &Line::Checkpoint(checkpoint))?;
        checkpoints += 1;
    }
    out.flush()?;
    Ok(ExportSummary { starts_after, entries, checkpoints, last_seq })
}

fn write_line(out: &mut impl Write, line: &Line) -> Result<(), AuditError> {
    serde_json::to_writer(&mut *out, line).map_err(|e| AuditError::Io(e.into()))?;
    out.write_all(b"\n")?;
    Ok(())
}
