//! What officers write on a case (an event's evidence), sealed under the landlord's case text
//! key ([`crate::text_keys`]) in `case_event_texts` (migration 0469), with the case log
//! committing to it by digest.
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

use std::collections::btree_map::{BTreeMap, Entry};

use crate::error::PrivacyError;
use crate::master::DataKey;
use crate::seal::{self, Place};
use crate::secrets_key::SecretsKey;
use crate::text_keys;
pub use crate::text_keys::KeyAccess;

/// The member of an event's evidence that refers to its sealed text.
pub const REFERENCE_KEY: &str = "sealed_text";

/// Bytes of a text's salt.
pub const SALT_LEN: usize = 32;

/// Why texts are not opened without the services' secrets key.
pub const NO_SECRETS_KEY: &str =
    "not opened: the services' secrets key (PKI/secrets/sealing.key), under which case text keys are sealed, was not given";

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

/// Splits what a person gave as an event's evidence into what is sealed (every member but
/// those named in `clear`) and what stays in clear; seals the former for case `case_id` under
/// the landlord's current text key (read in `tx`'s transaction, as the tenant when `access`
/// says so) and returns the evidence to store: the clear members and the reference. Evidence
/// with nothing to seal is returned as it was, and nothing is written.
pub async fn seal_evidence(
    tx: &impl GenericClient,
    secrets: &SecretsKey,
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
    let (generation, key) = text_keys::current_or_first(tx, secrets, access, landlord).await?;
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
/// landlord's keys erased, say) maps to why. The texts and their keys are read in separate
/// statements: a text a rotation re-sealed in between is read again.
pub async fn open_case(
    db: &impl GenericClient,
    secrets: &SecretsKey,
    case_id: i64,
) -> Result<BTreeMap<i64, Result<OpenedText, PrivacyError>>, PrivacyError> {
    let (opened, met_a_retired_key) = open_case_once(db, secrets, case_id).await?;
    if met_a_retired_key {
        return Ok(open_case_once(db, secrets, case_id).await?.0);
    }
    Ok(opened)
}

/// The case's texts opened, and whether a key they were read under had been retired meanwhile.
async fn open_case_once(
    db: &impl GenericClient,
    secrets: &SecretsKey,
    case_id: i64,
) -> Result<(BTreeMap<i64, Result<OpenedText, PrivacyError>>, bool), PrivacyError> {
    let rows = db
        .query(
            "SELECT id, landlord_id, key_generation, sealed FROM case_event_texts WHERE case_id = $1 ORDER BY id",
            &[&case_id],
        )
        .await?;
    let mut keys: BTreeMap<(String, i32), Result<DataKey, PrivacyError>> = BTreeMap::new();
    let mut opened = BTreeMap::new();
    let mut met_a_retired_key = false;
    for row in rows {
        let id: i64 = row.get(0);
        let landlord: String = row.get(1);
        let generation: i32 = row.get(2);
        let sealed: Vec<u8> = row.get(3);
        let key = match keys.entry((landlord.clone(), generation)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(text_keys::key(db, secrets, &landlord, generation as u32).await),
        };
        met_a_retired_key |= matches!(key, Err(PrivacyError::TextKeyRetired { .. }));
        let text = match key {
            Ok(key) => open_one(key, &landlord, id, &sealed),
            Err(why) => Err(PrivacyError::Unavailable(why.to_string())),
        };
        opened.insert(id, text);
    }
    Ok((opened, met_a_retired_key))
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
/// to), or `{"id", "case_id", "unavailable": why}` for one that does not open (every one, when
/// the services' secrets key is not at hand).
pub async fn archive_rows(
    db: &impl GenericClient,
    secrets: Option<&SecretsKey>,
    case_ids: &[i64],
) -> Result<Vec<Value>, PrivacyError> {
    let mut rows = Vec::new();
    for case_id in case_ids {
        let Some(secrets) = secrets else {
            let ids = db
                .query("SELECT id FROM case_event_texts WHERE case_id = $1 ORDER BY id", &[case_id])
                .await?;
            for r in ids {
                let id: i64 = r.get(0);
                rows.push(json!({"id": id, "case_id": case_id, "unavailable": NO_SECRETS_KEY}));
            }
            continue;
        };
        for (id, text) in open_case(db, secrets, *case_id).await? {
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

/// What a rotation of a landlord's text key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRotation {
    /// The generation retired; `None` when the landlord had no text key yet (nothing to do).
    pub from: Option<u32>,
    pub to: Option<u32>,
    /// Texts re-sealed under the new generation.
    pub resealed: u64,
}

/// Rotates the landlord's case text key in `tx` (the operator's; the caller commits): a new
/// generation, every text of the landlord re-sealed under it, the old generations' keys
/// deleted. Taken `FOR UPDATE`, the current key waits for seals in progress and stops new ones.
pub async fn rotate(
    tx: &Transaction<'_>,
    secrets: &SecretsKey,
    landlord: &str,
) -> Result<TextRotation, PrivacyError> {
    let row = tx
        .query_opt(
            "SELECT generation FROM landlord_text_keys
             WHERE landlord_id = $1 AND retired_at IS NULL AND destroyed_at IS NULL FOR UPDATE",
            &[&landlord],
        )
        .await?;
    let Some(row) = row else {
        return Ok(TextRotation { from: None, to: None, resealed: 0 });
    };
    let from: i32 = row.get(0);
    let to = from + 1;
    let (key, wrapped) = text_keys::make(secrets, landlord, to as u32)?;
    tx.execute(
        "UPDATE landlord_text_keys SET retired_at = now() WHERE landlord_id = $1 AND generation = $2",
        &[&landlord, &from],
    )
    .await?;
    tx.execute(
        "INSERT INTO landlord_text_keys (landlord_id, generation, wrapped_key, secrets_key_id) VALUES ($1, $2, $3, $4)",
        &[&landlord, &to, &wrapped, &secrets.id()],
    )
    .await?;
    let mut old_keys: BTreeMap<i32, DataKey> = BTreeMap::new();
    let mut resealed = 0;
    let rows = tx
        .query(
            "SELECT id, key_generation, sealed FROM case_event_texts
             WHERE landlord_id = $1 AND key_generation <> $2 ORDER BY id FOR UPDATE",
            &[&landlord, &to],
        )
        .await?;
    for row in rows {
        let (id, generation, sealed): (i64, i32, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
        let old_key = match old_keys.entry(generation) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(text_keys::key(tx, secrets, landlord, generation as u32).await?),
        };
        let plaintext = seal::open(old_key, &place(landlord, id), &sealed)?;
        let again = seal::seal(&key, to as u32, &place(landlord, id), &plaintext)?;
        tx.execute(
            "UPDATE case_event_texts SET sealed = $2, key_generation = $3 WHERE id = $1",
            &[&id, &again, &to],
        )
        .await?;
        resealed += 1;
    }
    // Only now, with nothing left under them, do the old generations' keys go.
    tx.execute(
        "UPDATE landlord_text_keys SET wrapped_key = NULL, retired_at = coalesce(retired_at, now())
         WHERE landlord_id = $1 AND generation < $2 AND wrapped_key IS NOT NULL",
        &[&landlord, &to],
    )
    .await?;
    Ok(TextRotation { from: Some(from as u32), to: Some(to as u32), resealed })
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
