//! `events.jsonl`: the case's events and their hash chain, and the chain's hash computed
//! exactly as the database's `case_event_hash` (migration `0101_case_event_chain.sql`) does.
//!
//! The database hashes `prev || UTF-8(concat_ws(chr(31), case_id, seq, kind, affects_clock,
//! event::text, occurred_at µs, recorded_at µs, actor, evidence::text))`, where `prev` is the
//! previous event's hash or 32 zero bytes for the first. The JSON columns are hashed as
//! PostgreSQL prints `jsonb` (its canonical text), so the pack carries that text as a string,
//! byte for byte, never re-encoded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use dampwatch_privacy::case_texts::{OpenedText, Reference, SALT_LEN};

use crate::error::EvidenceError;
use crate::export::hash32;
use crate::{hexbytes, timestamp};

/// The separator `concat_ws(chr(31), ...)` puts between fields.
pub const FIELD_SEPARATOR: char = '\u{1f}';

/// One row of `case_events`, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub case_id: i64,
    pub seq: i32,
    pub kind: String,
    pub affects_clock: bool,
    /// The `event` column as PostgreSQL prints it (`event::text`).
    pub event: String,
    #[serde(with = "timestamp")]
    pub occurred_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    /// The `evidence` column as PostgreSQL prints it.
    pub evidence: String,
    /// The previous event's hash; `null` for seq 1.
    #[serde(with = "hexbytes::fixed32::option")]
    pub prev_hash: Option<[u8; 32]>,
    #[serde(with = "hexbytes::fixed32")]
    pub hash: [u8; 32],
    /// What officers wrote on the event, when the exporter could open it: the text its
    /// evidence's `sealed_text` reference commits to, and the salt of that digest. Absent when
    /// the event has none or it was not opened (no secrets key, or the landlord's keys erased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_text: Option<EventText>,
}

/// An event's opened text in a pack: `sealed_text.sha256` of the event's evidence is
/// SHA-256(salt || text), salt as hexadecimal here. Its `Debug` shows neither.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventText {
    pub salt: String,
    pub text: String,
}

impl std::fmt::Debug for EventText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventText(..)")
    }
}

impl EventText {
    /// The salt and text, if the salt is 32 bytes and the text a JSON object (a shorter salt
    /// could take bytes from the text's start and still give the digest).
    fn opened(&self) -> Option<OpenedText> {
        // Lowercase hexadecimal only, as written (and as the independent script requires).
        if !self.salt.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        let salt = hex::decode(&self.salt).ok().filter(|s| s.len() == SALT_LEN)?;
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&self.text).ok()?;
        Some(OpenedText { salt, text: self.text.clone() })
    }
}

impl EventRecord {
    /// The reference its evidence holds to a sealed text, if any.
    pub fn text_reference(&self) -> Option<Reference> {
        Reference::of(&serde_json::from_str(&self.evidence).ok()?)
    }

    /// The evidence as shown to a reader: with its opened text in place of the reference when
    /// the pack carries it, as stored otherwise.
    pub fn shown_evidence(&self) -> String {
        let opened = self.sealed_text.as_ref().and_then(EventText::opened);
        let evidence = serde_json::from_str::<serde_json::Value>(&self.evidence).ok();
        match (opened, evidence) {
            (Some(text), Some(evidence)) => {
                text.merged_into(&evidence).map_or_else(|| self.evidence.clone(), |v| v.to_string())
            }
            _ => self.evidence.clone(),
        }
    }

    /// Attaches the text its evidence refers to, if `texts` holds it and it matches the digest
    /// (a text that does not stays out: the pack then holds the digest only).
    pub fn attach_text(&mut self, texts: &std::collections::BTreeMap<i64, OpenedText>) {
        let Some(reference) = self.text_reference() else { return };
        if let Some(text) = texts.get(&reference.id).filter(|t| t.matches(&reference)) {
            self.sealed_text = Some(EventText { salt: hex::encode(&text.salt), text: text.text.clone() });
        }
    }
}

/// The first event whose carried text is not the one its evidence commits to (or that
/// carries a text its evidence does not refer to), as `(seq, reason)`.
pub fn check_texts(events: &[EventRecord]) -> Result<(), (i32, String)> {
    for e in events {
        let Some(carried) = &e.sealed_text else { continue };
        let Some(reference) = e.text_reference() else {
            return Err((e.seq, "carries a text its evidence does not refer to".to_owned()));
        };
        let Some(opened) = carried.opened() else {
            return Err((
                e.seq,
                "its text's salt is not 32 bytes in hexadecimal, or its text not a JSON object".to_owned(),
            ));
        };
        if !opened.matches(&reference) {
            return Err((e.seq, "its text does not match the digest its evidence holds".to_owned()));
        }
    }
    Ok(())
}

impl EventRecord {
    /// The `case_events` columns [`EventRecord::from_row`] reads, the JSON columns as
    /// PostgreSQL prints them: the text the chain hashed.
    pub const COLUMNS: &'static str =
        "case_id, seq, kind, affects_clock, event::text, occurred_at, recorded_at, \
         actor, evidence::text, prev_hash, hash";

    /// A row selected with [`EventRecord::COLUMNS`].
    pub fn from_row(r: &tokio_postgres::Row) -> Result<EventRecord, EvidenceError> {
        let seq: i32 = r.try_get(1)?;
        let prev: Option<Vec<u8>> = r.try_get(9)?;
        Ok(EventRecord {
            case_id: r.try_get(0)?,
            seq,
            kind: r.try_get(2)?,
            affects_clock: r.try_get(3)?,
            event: r.try_get(4)?,
            occurred_at: r.try_get(5)?,
            recorded_at: r.try_get(6)?,
            actor: r.try_get(7)?,
            evidence: r.try_get(8)?,
            prev_hash: prev.map(|p| hash32(p, &format!("event {seq}'s prev_hash"))).transpose()?,
            hash: hash32(r.try_get(10)?, &format!("event {seq}'s hash"))?,
            sealed_text: None,
        })
    }
}

/// The bytes after `prev` that `case_event_hash` hashes.
pub fn hashed_text(e: &EventRecord) -> String {
    let fields = [
        e.case_id.to_string(),
        e.seq.to_string(),
        e.kind.clone(),
        e.affects_clock.to_string(),
        e.event.clone(),
        e.occurred_at.timestamp_micros().to_string(),
        e.recorded_at.timestamp_micros().to_string(),
        e.actor.clone(),
        e.evidence.clone(),
    ];
    fields.join(&FIELD_SEPARATOR.to_string())
}

/// `case_event_hash(prev, e)`: SHA-256 of the previous hash (zeros for the first event) and
/// [`hashed_text`].
pub fn case_event_hash(prev: Option<&[u8; 32]>, e: &EventRecord) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev.unwrap_or(&[0u8; 32]));
    hasher.update(hashed_text(e).as_bytes());
    hasher.finalize().into()
}

/// The first event that breaks the chain of `events` (which must be the whole log of one
/// case: seq 1, 2, 3, ... each continuing the one before), as `(seq, reason)`.
pub fn check_chain(events: &[EventRecord]) -> Result<(), (i32, String)> {
    let mut previous: Option<&EventRecord> = None;
    for e in events {
        let expected = previous.map_or(1, |p| p.seq + 1);
        if e.seq != expected {
            return Err((e.seq, format!("out of sequence: seq {expected} expected here")));
        }
        if e.prev_hash != previous.map(|p| p.hash) {
            let reason = match previous {
                None => "the first event has a prev_hash".to_owned(),
                Some(p) => format!("prev_hash does not continue seq {}", p.seq),
            };
            return Err((e.seq, reason));
        }
        if case_event_hash(e.prev_hash.as_ref(), e) != e.hash {
            return Err((e.seq, "hash does not match its contents".to_owned()));
        }
        previous = Some(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i32, prev: Option<[u8; 32]>) -> EventRecord {
        let mut e = EventRecord {
            case_id: 7,
            seq,
            kind: "potential_issue_detected".into(),
            affects_clock: false,
            event: r#"{"type": "potential_issue_detected"}"#.into(),
            occurred_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            recorded_at: DateTime::from_timestamp_micros(1_764_000_001_000_001).unwrap(),
            actor: "system:hazard-engine".into(),
            evidence: "{}".into(),
            prev_hash: prev,
            hash: [0; 32],
            sealed_text: None,
        };
        e.hash = case_event_hash(prev.as_ref(), &e);
        e
    }

    #[test]
    fn the_hashed_text_is_the_fields_joined_by_the_unit_separator() {
        let e = event(1, None);
        assert_eq!(
            hashed_text(&e),
            "7\u{1f}1\u{1f}potential_issue_detected\u{1f}false\u{1f}{\"type\": \"potential_issue_detected\"}\u{1f}1764000000123456\u{1f}1764000001000001\u{1f}system:hazard-engine\u{1f}{}"
        );
    }

    #[test]
    fn a_chain_breaks_at_the_event_changed() {
        let first = event(1, None);
        let second = event(2, Some(first.hash));
        assert_eq!(check_chain(&[first.clone(), second.clone()]), Ok(()));
        let mut changed = first.clone();
        changed.actor = "user:1".into();
        assert_eq!(
            check_chain(&[changed, second.clone()]),
            Err((1, "hash does not match its contents".into()))
        );
        assert_eq!(check_chain(&[second]), Err((2, "out of sequence: seq 1 expected here".into())));
    }
}
