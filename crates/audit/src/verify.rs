//! Offline verification of an export: every entry's hash from its contents, the chain from seq
//! 1 without gaps, and every checkpoint's signature against keys the verifier trusts (never
//! keys taken from the export itself). An export of a log whose start retention has cut begins
//! with the checkpoint the cut ended at (the anchor): its signature is checked, and the chain
//! from the entry after it, which must continue its hash.
//!
//! It stops at the first problem and names it: the first entry that is not what the chain
//! says. A rewrite that recomputed every later hash is caught by the first checkpoint after
//! it; entries after the last checkpoint are protected by the chain alone, and [`Report`] says
//! how many there are.

use std::fmt;
use std::io::BufRead;

use chrono::{DateTime, Utc};
use ring::signature::{UnparsedPublicKey, ED25519};

use crate::checkpoint::{checkpoint_message, Checkpoint};
use crate::entry::{entry_hash, Entry, GENESIS_HASH};
use crate::export::Line;

/// What an intact export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The seq of the anchor checkpoint the export starts after (entries up to it were removed
    /// by retention); 0 when it starts at seq 1.
    pub starts_after: i64,
    /// When that checkpoint was signed: every removed entry is older. A reader who knows the
    /// retention period can tell a cut that came too early.
    pub anchor_signed_at: Option<DateTime<Utc>>,
    pub entries: u64,
    /// Checkpoints whose signature and hash were verified.
    pub checkpoints: u64,
    /// The last entry (0 for an empty log).
    pub last_seq: i64,
    /// Entries after the last checkpoint: covered by the chain but by no signature yet.
    pub unsigned_tail: u64,
}

impl Report {
    /// Whether a cut start is one retention with `period` could have made by `now`: every
    /// removed entry predates the anchor's signature, which must be at least `period` old. An
    /// export from seq 1 passes. A verifier gives the period it knows applies, so an export
    /// whose recent entries were removed (and a signed checkpoint put first) fails.
    pub fn check_cut(&self, period: std::time::Duration, now: DateTime<Utc>) -> Result<(), String> {
        let Some(signed) = self.anchor_signed_at.filter(|_| self.starts_after > 0) else { return Ok(()) };
        let period = chrono::Duration::from_std(period).map_err(|e| format!("period out of range: {e}"))?;
        if signed + period > now {
            return Err(format!(
                "seq 1 to {} were removed, and the checkpoint at seq {} was signed {}, less than the \
                 retention period before now: entries were removed before their period ended",
                self.starts_after,
                self.starts_after,
                signed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries, {} checkpoints, {} entries after the last checkpoint",
            self.entries, self.checkpoints, self.unsigned_tail
        )?;
        if let (true, Some(signed)) = (self.starts_after > 0, self.anchor_signed_at) {
            write!(
                f,
                " (seq 1 to {} removed by retention, all written before {}; the chain starts from the \
                 checkpoint signed there)",
                self.starts_after,
                signed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
        }
        Ok(())
    }
}

/// The first thing wrong with an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The entry (or checkpoint) concerned; `None` for a line that names none (unreadable).
    pub seq: Option<i64>,
    /// The line of the export, from 1.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "seq {seq}: {}", self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

impl std::error::Error for Break {}

/// Verifies an export read from `reader` against the public keys in `trusted`.
///
/// Memory: 32 bytes per entry (the hashes checkpoints are compared with), never the entries.
pub fn verify(reader: impl BufRead, trusted: &[[u8; 32]]) -> Result<Report, Break> {
    // hashes[i] is the hash of seq base + i + 1; `anchor` the hash of seq base.
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    let (mut base, mut anchor, mut anchor_signed_at) = (0i64, GENESIS_HASH, None);
    let mut checkpoints = 0u64;
    let mut last_checkpoint = 0i64;
    for (index, line) in reader.lines().enumerate() {
        let number = index as u64 + 1;
        let at = |seq: Option<i64>, reason: String| Break { seq, line: number, reason };
        let line = line.map_err(|e| at(None, format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line =
            serde_json::from_str(&line).map_err(|e| at(seq_in(&line), format!("unreadable: {e}")))?;
        match parsed {
            Line::Entry(entry) => {
                let expected = base + hashes.len() as i64 + 1;
                let previous = hashes.last().unwrap_or(&anchor);
                check_entry(&entry, expected, previous).map_err(|(seq, reason)| at(Some(seq), reason))?;
                hashes.push(entry.hash);
            }
            Line::Checkpoint(checkpoint) if hashes.is_empty() && base == 0 && checkpoint.seq > 0 => {
                // Before any entry: the anchor of a cut. Its signature vouches for its hash,
                // which the first entry must continue.
                check_signature(&checkpoint, trusted).map_err(|reason| {
                    at(Some(checkpoint.seq), format!("anchor checkpoint at seq {}: {reason}", checkpoint.seq))
                })?;
                (base, anchor, anchor_signed_at) = (checkpoint.seq, checkpoint.hash, Some(checkpoint.at));
                checkpoints += 1;
                last_checkpoint = checkpoint.seq;
            }
            Line::Checkpoint(checkpoint) => {
                check_checkpoint(&checkpoint, base, &hashes, trusted).map_err(|reason| {
                    at(Some(checkpoint.seq), format!("checkpoint at seq {}: {reason}", checkpoint.seq))
                })?;
                checkpoints += 1;
                last_checkpoint = last_checkpoint.max(checkpoint.seq);
            }
        }
    }
    let last_seq = base + hashes.len() as i64;
    Ok(Report {
        starts_after: base,
        anchor_signed_at,
        entries: hashes.len() as u64,
        checkpoints,
        last_seq,
        unsigned_tail: (last_seq - last_checkpoint) as u64,
    })
}

/// An entry against the chain so far (`previous`: the hash of the entry before, which must be
/// seq `expected - 1`). The error names the seq that is wrong.
fn check_entry(entry: &Entry, expected: i64, previous: &[u8; 32]) -> Result<(), (i64, String)> {
    if entry.seq > expected {
        let reason = match expected {
            1 => format!("missing: the export starts at seq {}", entry.seq),
            _ => format!("missing: the entry after seq {} is seq {}", expected - 1, entry.seq),
        };
        return Err((expected, reason));
    }
    if entry.seq < expected {
        return Err((
            expected,
            format!(
                "missing: seq {} stands where seq {expected} belongs (out of order or repeated)",
                entry.seq
            ),
        ));
    }
    if entry.prev_hash != *previous {
        let reason = match expected {
            1 => "prev_hash is not the zero hash the first entry carries".to_owned(),
            _ => format!("prev_hash does not continue seq {}", expected - 1),
        };
        return Err((entry.seq, reason));
    }
    if entry_hash(entry) != entry.hash {
        return Err((entry.seq, "hash does not match its contents".into()));
    }
    Ok(())
}

/// The seq of a line that does not parse as a whole, when it can still be read, so that a
/// damaged entry is named by its seq.
fn seq_in(line: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get("entry").or_else(|| value.get("checkpoint"))?.get("seq")?.as_i64()
}

fn check_checkpoint(
    checkpoint: &Checkpoint,
    base: i64,
    hashes: &[[u8; 32]],
    trusted: &[[u8; 32]],
) -> Result<(), String> {
    let stored = checkpoint
        .seq
        .checked_sub(base + 1)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| hashes.get(i))
        .ok_or("no such entry before it in the export")?;
    if *stored != checkpoint.hash {
        return Err("its hash is not the entry's".into());
    }
    check_signature(checkpoint, trusted)
}

/// The checkpoint is signed, over its seq, hash and time, by a key the verifier trusts.
fn check_signature(checkpoint: &Checkpoint, trusted: &[[u8; 32]]) -> Result<(), String> {
    let message = checkpoint_message(checkpoint.seq, &checkpoint.hash, checkpoint.at);
    let signed_by_trusted = trusted
        .iter()
        .any(|key| UnparsedPublicKey::new(&ED25519, key).verify(&message, &checkpoint.signature).is_ok());
    if !signed_by_trusted {
        return Err("signature not from a trusted key".into());
    }
    Ok(())
}
