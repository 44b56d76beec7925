//! A stored entry and its hash: the canonical encoding, computed exactly as the database's
//! `audit_entry_hash` does (migration `0300_audit_log.sql`; the crate's README spells it out
//! for verifiers that do not use this code).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::outcome::Outcome;

/// The first bytes of every hashed entry: a hash made for anything else never matches one.
pub const ENTRY_DOMAIN: &[u8] = b"dampwatch-audit-v1";

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// One row of `audit_log`, as stored and as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    /// Microsecond precision, like the database; exported as RFC 3339 with six decimals.
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub landlord_id: Option<String>,
    pub source: Option<String>,
    pub action: String,
    pub target: Option<String>,
    #[serde(with = "outcome_text")]
    pub outcome: Outcome,
    /// The JSON text exactly as stored (parsed and written again it might hash differently).
    pub details: String,
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
}

impl Entry {
    /// A row of `SELECT seq, at, actor, landlord_id, source, action, target, outcome, details,
    /// prev_hash, hash FROM audit_log`.
    pub(crate) fn from_row(row: &tokio_postgres::Row) -> Result<Entry, String> {
        let seq: i64 = row.get(0);
        let bad = |what: &str| format!("seq {seq}: {what}");
        let outcome: String = row.get(7);
        let prev_hash: Vec<u8> = row.get(9);
        let hash: Vec<u8> = row.get(10);
        Ok(Entry {
            seq,
            at: row.get(1),
            actor: row.get(2),
            landlord_id: row.get(3),
            source: row.get(4),
            action: row.get(5),
            target: row.get(6),
            outcome: outcome.parse().map_err(|e: crate::UnknownOutcome| bad(&e.to_string()))?,
            details: row.get(8),
            prev_hash: prev_hash.try_into().map_err(|_| bad("prev_hash is not 32 bytes"))?,
            hash: hash.try_into().map_err(|_| bad("hash is not 32 bytes"))?,
        })
    }
}

/// The columns [`Entry::from_row`] reads, in order.
pub(crate) const ENTRY_COLUMNS: &str =
    "seq, at, actor, landlord_id, source, action, target, outcome, details, prev_hash, hash";

/// The SHA-256 of the entry's canonical encoding (its stored `hash` when intact):
///
/// `"dampwatch-audit-v1"` || seq (i64, big-endian) || at in microseconds since the Unix epoch
/// (i64, big-endian) || prev_hash (32 bytes) || field(actor) || field(landlord_id) ||
/// field(source) || field(action) || field(target) || field(outcome) || field(details), where
/// field(None) = `0x00` and field(s) = `0x01` || length of s in UTF-8 bytes (u32, big-endian)
/// || s in UTF-8.
pub fn entry_hash(entry: &Entry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ENTRY_DOMAIN);
    h.update(entry.seq.to_be_bytes());
    h.update(entry.at.timestamp_micros().to_be_bytes());
    h.update(entry.prev_hash);
    field(&mut h, Some(&entry.actor));
    field(&mut h, entry.landlord_id.as_deref());
    field(&mut h, entry.source.as_deref());
    field(&mut h, Some(&entry.action));
    field(&mut h, entry.target.as_deref());
    field(&mut h, Some(entry.outcome.as_str()));
    field(&mut h, Some(&entry.details));
    h.finalize().into()
}

/// A length prefix rather than a separator: no text can shift bytes from one field to the
/// next, and NULL differs from the empty string.
fn field(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0u8]),
        Some(s) => {
            // A field longer than 4 GiB cannot be stored (PostgreSQL caps text at 1 GB).
            let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
            h.update([1u8]);
            h.update(len.to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// RFC 3339 in UTC with exactly six decimals, the database's precision.
pub(crate) mod micros {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn format(at: &DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod outcome_text {
    use super::Outcome;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(outcome: &Outcome, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(outcome.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            seq: 1,
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            actor: "user:12".into(),
            landlord_id: None,
            source: Some(String::new()),
            action: "session.login".into(),
            target: None,
            outcome: Outcome::Success,
            details: "{}".into(),
            prev_hash: GENESIS_HASH,
            hash: [0; 32],
        }
    }

    #[test]
    fn null_and_empty_text_hash_differently() {
        let empty_source = entry();
        let no_source = Entry { source: None, ..entry() };
        assert_ne!(entry_hash(&empty_source), entry_hash(&no_source));
    }

    #[test]
    fn text_cannot_move_between_fields() {
        let a = Entry { actor: "user:1".into(), action: "2x".into(), ..entry() };
        let b = Entry { actor: "user:12".into(), action: "x".into(), ..entry() };
        assert_ne!(entry_hash(&a), entry_hash(&b));
    }

    #[test]
    fn time_is_exported_with_six_decimals_and_read_back_exactly() {
        let e = entry();
        let json = serde_json::to_string(&e).expect("json");
        assert!(json.contains("\"at\":\"2023-11-14T22:13:20.123456Z\""), "{json}");
        let back: Entry = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, e);
    }
}
