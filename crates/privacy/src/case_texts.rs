//! What officers write on a case (an event's evidence), sealed under the landlord's data key in
//! `case_event_texts` (migration 0469), with the case log committing to it by digest.
//!
//! The event's `evidence` keeps a reference in its place, `{"sealed_text": {"id": ID, "sha256":
//! HEX}}`, where HEX is SHA-256(salt || text), the salt 32 random bytes sealed with the text
//! (sealed value: salt || the evidence's JSON text). The hash chain covers the reference, so
//! the text cannot be changed without the chain noticing, and a pack that carries the text and
//! its salt lets anyone check it against the chain; without the salt the digest confirms no
//! guess, and once the landlord's keys are erased the text is gone while the chain still
//! verifies.

use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Map, Value};
use tokio_postgres::{GenericClient, Transaction};

use std::collections::BTreeMap;

use crate::error::PrivacyError;
use crate::keys::{self, Resealer};
use crate::master::{DataKey, MasterKey};
use crate::seal::{self, Place};

/// The member of an event's evidence that refers to its sealed text.
pub const REFERENCE_KEY: &str = "sealed_text";

const SALT_LEN: usize = 32;

fn place(landlord_id: &str, id: i64) -> Place<'_> {
    Place { landlord_id, table: "case_event_texts", column: "sealed", row_id: id }
}

/// SHA-256(salt || text): what the case log holds of a text.
pub fn digest(salt: &[u8], text: &str) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(salt);
    context.update(text.as_bytes());
    context.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// A sealed text's reference, as an event's evidence holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub id: i64,
    pub sha256: String,
}

impl Reference {
    /// The reference in `evidence`, if it has one.
    pub fn of(evidence: &Value) -> Option<Reference> {
        let r = evidence.get(REFERENCE_KEY)?;
        Some(Reference { id: r.get("id")?.as_i64()?, sha256: r.get("sha256")?.as_str()?.to_owned() })
    }
}

/// A text opened: the salt and the text the digest was computed over. Its `Debug` shows
/// neither.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedText {
    pub salt: Vec<u8>,
    /// The evidence as the officer gave it (a JSON object's text).
    pub text: String,
}

impl std::fmt::Debug for OpenedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenedText(..)")
    }
}

impl OpenedText {
    /// Whether this is the text `reference` commits to.
    pub fn matches(&self, reference: &Reference) -> bool {
        hex::encode(digest(&self.salt, &self.text)) == reference.sha256
    }

    /// `evidence` (which refers to this text) with the text's members in place of the
    /// reference; `None` if the text is not a JSON object.
    pub fn merged_into(&self, evidence: &Value) -> Option<Value> {
        let members = serde_json::from_str::<Map<String, Value>>(&self.text).ok()?;
        let mut shown = evidence.as_object().cloned().unwrap_or_default();
        shown.remove(REFERENCE_KEY);
        shown.extend(members);
        Some(Value::Object(shown))
    }
}

/// Whose transaction reads the landlord's keys: the operator's (any landlord's, directly) or
/// the API's tenant role (its own landlord's, through migration 0469's functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    Operator,
    Tenant,
}

/// Splits what a person gave as an event's evidence into what is sealed (every member but
/// those named in `clear`) and what stays in clear; seals the former for case `case_id` under
/// the landlord's current key (read in `tx`'s transaction, as the tenant when `access` says so)
/// and returns the evidence to store: the clear members and the reference. Evidence with
/// nothing to seal is returned as it was, and nothing is written.
pub async fn seal_evidence(
    tx: &impl GenericClient,
    master: &dyn MasterKey,
    access: KeyAccess,
    landlord: &str,
    case_id: i64,
    evidence: Value,
    clear: &[&str],
) -> Result<Value, PrivacyError> {
    let Value::Object(members) = evidence else {
        return Ok(evidence);
    };
    let (kept, sealed): (Map<String, Value>, Map<String, Value>) =
        members.into_iter().partition(|(k, _)| clear.contains(&k.as_str()));
    if sealed.is_empty() {
        return Ok(Value::Object(kept));
    }
    let (generation, key) = match access {
        KeyAccess::Operator => keys::current_or_first_key(tx, master, landlord).await?,
        KeyAccess::Tenant => keys::tenant_current_or_first_key(tx, master, landlord).await?,
    };
    let text = Value::Object(sealed).to_string();
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new().fill(&mut salt).map_err(|_| PrivacyError::Random)?;
    let id: i64 = tx.query_one("SELECT nextval('case_event_texts_id_seq')", &[]).await?.get(0);
    let mut plaintext = zeroize::Zeroizing::new(salt.to_vec());
    plaintext.extend_from_slice(text.as_bytes());
    let sealed = seal::seal(&key, generation, &place(landlord, id), &plaintext)?;
    tx.execute(
        "INSERT INTO case_event_texts (id, case_id, landlord_id, key_generation, sealed) VALUES ($1, $2, $3, $4, $5)",
        &[&id, &case_id, &landlord, &(generation as i32), &sealed],
    )
    .await?;
    let mut stored = kept;
    stored.insert(REFERENCE_KEY.to_owned(), json!({"id": id, "sha256": hex::encode(digest(&salt, &text))}));
    Ok(Value::Object(stored))
}

/// Every sealed text of case `case_id`, opened, by id; a text that does not open (its
/// landlord's keys erased, say) maps to why.
pub async fn open_case(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    access: KeyAccess,
    case_id: i64,
) -> Result<BTreeMap<i64, Result<OpenedText, PrivacyError>>, PrivacyError> {
    let rows = db
        .query(
            "SELECT id, landlord_id, key_generation, sealed FROM case_event_texts WHERE case_id = $1 ORDER BY id",
            &[&case_id],
        )
        .await?;
    let mut keys: BTreeMap<(String, i32), Result<DataKey, String>> = BTreeMap::new();
    let mut opened = BTreeMap::new();
    for row in rows {
        let id: i64 = row.get(0);
        let landlord: String = row.get(1);
        let generation: i32 = row.get(2);
        let sealed: Vec<u8> = row.get(3);
        let slot = (landlord.clone(), generation);
        if !keys.contains_key(&slot) {
            let key = match access {
                KeyAccess::Operator => keys::data_key(db, master, &landlord, generation as u32).await,
                KeyAccess::Tenant => keys::tenant_data_key(db, master, &landlord, generation as u32).await,
            };
            keys.insert(slot.clone(), key.map_err(|e| e.to_string()));
        }
        let text = match &keys[&slot] {
            Ok(key) => open_one(key, &landlord, id, &sealed),
            Err(why) => Err(PrivacyError::Unavailable(why.clone())),
        };
        opened.insert(id, text);
    }
    Ok(opened)
}

fn open_one(key: &DataKey, landlord: &str, id: i64, sealed: &[u8]) -> Result<OpenedText, PrivacyError> {
    let plaintext = seal::open(key, &place(landlord, id), sealed)?;
    if plaintext.len() < SALT_LEN {
        return Err(PrivacyError::Malformed("a case text shorter than its salt"));
    }
    let (salt, text) = plaintext.split_at(SALT_LEN);
    let text =
        std::str::from_utf8(text).map_err(|_| PrivacyError::Malformed("a case text that is not UTF-8"))?;
    Ok(OpenedText { salt: salt.to_vec(), text: text.to_owned() })
}

/// The sealed texts of cases `case_ids`, opened by the operator, as an archive's rows:
/// `{"id", "case_id", "evidence"}` (the evidence's members the event's `sealed_text.id` refers
/// to), or `{"id", "case_id", "unavailable": why}` for one that does not open.
pub async fn archive_rows(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    case_ids: &[i64],
) -> Result<Vec<Value>, PrivacyError> {
    let mut rows = Vec::new();
    for case_id in case_ids {
        for (id, text) in open_case(db, master, KeyAccess::Operator, *case_id).await? {
            rows.push(match text {
                Ok(text) => {
                    let evidence: Value = serde_json::from_str(&text.text)?;
                    json!({"id": id, "case_id": case_id, "evidence": evidence})
                }
                Err(e) => json!({"id": id, "case_id": case_id, "unavailable": e.to_string()}),
            });
        }
    }
    Ok(rows)
}

/// `evidence` as the person gave it: the clear members with the sealed ones put back when the
/// text opened and matches the reference; otherwise the stored evidence, its reference saying
/// why the text is not shown.
pub fn reveal(evidence: &Value, texts: &BTreeMap<i64, Result<OpenedText, PrivacyError>>) -> Value {
    let Some(reference) = Reference::of(evidence) else {
        return evidence.clone();
    };
    let why = match texts.get(&reference.id) {
        Some(Ok(text)) if text.matches(&reference) => match text.merged_into(evidence) {
            Some(shown) => return shown,
            None => "the sealed text is not a JSON object".to_owned(),
        },
        Some(Ok(_)) => "the sealed text does not match the digest the case log holds".to_owned(),
        Some(Err(e)) => e.to_string(),
        None => "the sealed text is not held".to_owned(),
    };
    let mut shown = evidence.clone();
    if let Some(r) = shown.get_mut(REFERENCE_KEY).and_then(Value::as_object_mut) {
        r.insert("unavailable".to_owned(), Value::String(why));
    }
    shown
}

/// Re-seals every case text of the rotating landlord (see [`keys::rotate_landlord_key`]).
pub(crate) async fn reseal_all(
    tx: &Transaction<'_>,
    resealer: &mut Resealer<'_>,
) -> Result<u64, PrivacyError> {
    let select = "SELECT id, sealed FROM case_event_texts WHERE landlord_id = $1 ORDER BY id FOR UPDATE";
    let update = "UPDATE case_event_texts SET sealed = $2, key_generation = $3 WHERE id = $1";
    resealer.reseal_rows(tx, select, update, place).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_matches_only_the_digest_of_its_own_salt_and_words() {
        let text =
            OpenedText { salt: vec![7; SALT_LEN], text: r#"{"note":"damp behind the wardrobe"}"#.to_owned() };
        let reference = Reference { id: 1, sha256: hex::encode(digest(&text.salt, &text.text)) };
        assert!(text.matches(&reference));
        let other_salt = OpenedText { salt: vec![8; SALT_LEN], ..text.clone() };
        assert!(!other_salt.matches(&reference));
        let other_words = OpenedText { text: r#"{"note":"no damp"}"#.to_owned(), ..text };
        assert!(!other_words.matches(&reference));
    }

    #[test]
    fn revealing_puts_the_sealed_members_back_beside_the_clear_ones() {
        let text =
            OpenedText { salt: vec![1; SALT_LEN], text: r#"{"note":"mould in the bedroom"}"#.to_owned() };
        let sha256 = hex::encode(digest(&text.salt, &text.text));
        let stored =
            json!({"late_record": {"reason": "offline"}, "sealed_text": {"id": 4, "sha256": sha256}});
        let texts = BTreeMap::from([(4, Ok(text))]);
        assert_eq!(
            reveal(&stored, &texts),
            json!({"late_record": {"reason": "offline"}, "note": "mould in the bedroom"})
        );
        let missing = reveal(&stored, &BTreeMap::new());
        assert_eq!(missing["sealed_text"]["unavailable"], "the sealed text is not held");
        assert_eq!(missing["late_record"]["reason"], "offline");
    }
}
