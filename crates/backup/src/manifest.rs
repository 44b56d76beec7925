//! What a backup says about itself, encrypted with it: the first line of the plaintext names
//! the format, the second is this manifest as JSON, and the rest is `pg_dump`'s custom format
//! untouched (so `age --decrypt ... | tail -n +3 | pg_restore` restores one without Dampwatch).
//!
//! The row counts are taken in the very snapshot `pg_dump` reads, so a restore can check that
//! every row came back.

use std::collections::BTreeMap;
use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The plaintext's first line.
pub const MAGIC: &str = "dampwatch-backup 1";

/// Longest manifest line read: far above any real one, so a corrupt file cannot make a
/// restore read gigabytes looking for a newline.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub created_at: DateTime<Utc>,
    /// The database backed up (its name on the server).
    pub database: String,
    /// The server's version (`server_version`).
    pub server_version: String,
    /// The newest migration applied (`schema_migrations`).
    pub schema_version: i32,
    /// TimescaleDB's version when the extension was installed: a restore then brackets
    /// `pg_restore` with its pre- and post-restore functions.
    pub timescaledb: Option<String>,
    /// Rows of every table of the `public` schema, in the dump's snapshot.
    pub rows: BTreeMap<String, i64>,
}

impl Manifest {
    /// The two header lines.
    pub fn header(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC}\n").into_bytes();
        out.extend(serde_json::to_vec(self).expect("a manifest serialises"));
        out.push(b'\n');
        out
    }

    /// Reads the header lines, leaving `reader` at the first byte of the dump.
    pub fn read<R: BufRead>(reader: &mut R) -> Result<Manifest, String> {
        let mut magic = Vec::new();
        std::io::Read::take(&mut *reader, MAGIC.len() as u64 + 1)
            .read_until(b'\n', &mut magic)
            .map_err(|e| e.to_string())?;
        if magic != format!("{MAGIC}\n").as_bytes() {
            return Err(format!(
                "it does not start with {MAGIC:?}: not a Dampwatch backup, or a newer format"
            ));
        }
        let mut line = Vec::new();
        std::io::Read::take(&mut *reader, MAX_MANIFEST_BYTES)
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if line.last() != Some(&b'\n') {
            return Err("its manifest line is unterminated".into());
        }
        serde_json::from_slice(&line).map_err(|e| format!("its manifest is unreadable: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_reads_back_and_leaves_the_dump_next() {
        let m = Manifest {
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            database: "dampwatch".into(),
            server_version: "15.8".into(),
            schema_version: 421,
            timescaledb: None,
            rows: BTreeMap::from([("readings".into(), 10), ("uplinks".into(), 2)]),
        };
        let mut bytes = m.header();
        bytes.extend(b"PGDMP...");
        let mut reader = std::io::Cursor::new(bytes);
        assert_eq!(Manifest::read(&mut reader).unwrap(), m);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut rest).unwrap();
        assert_eq!(rest, b"PGDMP...");
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let err = Manifest::read(&mut std::io::Cursor::new(b"PGDMP\x01\x0e".to_vec())).unwrap_err();
        assert!(err.contains("not a Dampwatch backup"), "{err}");
        let err = Manifest::read(&mut std::io::Cursor::new(format!("{MAGIC}\n{{\"created").into_bytes()))
            .unwrap_err();
        assert!(err.contains("unterminated"), "{err}");
    }
}
