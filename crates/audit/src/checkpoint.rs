//! Checkpoints: the head of the chain, signed with the platform's audit key and stored beside
//! the log. Whoever later rewrites an entry at or before a checkpoint (and every hash after it)
//! cannot produce the checkpoint's signature again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::entry::{hex32, micros};
use crate::error::AuditError;
use crate::signer::CheckpointSigner;

/// The first bytes of every signed checkpoint: a signature made for anything else (an uplink,
/// a downlink) can never pass for one.
pub const CHECKPOINT_DOMAIN: &[u8] = b"dampwatch-audit-checkpoint-v1";

/// One row of `audit_checkpoints`, as stored and as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The entry signed: the head of the log when the checkpoint was made.
    pub seq: i64,
    /// That entry's hash.
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
    /// When it was signed (microseconds).
    #[serde(with = "micros")]
    pub at: DateTime<Utc>,
    /// Which key signed, for people to read (e.g. `audit-key-1`).
    pub key_id: String,
    #[serde(with = "hex64")]
    pub signature: [u8; 64],
}

/// The signed bytes: [`CHECKPOINT_DOMAIN`] || seq (i64, big-endian) || hash (32 bytes) || at in
/// microseconds since the Unix epoch (i64, big-endian).
pub fn checkpoint_message(seq: i64, hash: &[u8; 32], at: DateTime<Utc>) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 8 + 32 + 8);
    m.extend_from_slice(CHECKPOINT_DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at.timestamp_micros().to_be_bytes());
    m
}

/// Signs the head of the log and stores the checkpoint. `None` when there is nothing new to
/// sign: an empty log, a head already checkpointed, or another service that checkpointed the
/// same head a moment earlier.
pub async fn checkpoint(
    client: &impl GenericClient,
    signer: &CheckpointSigner,
) -> Result<Option<Checkpoint>, AuditError> {
    let head = client
        .query_opt(
            "SELECT l.seq, l.hash, EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.seq = l.seq)
             FROM audit_log l ORDER BY l.seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let Some(head) = head else { return Ok(None) };
    let (seq, hash, signed): (i64, Vec<u8>, bool) = (head.get(0), head.get(1), head.get(2));
    if signed {
        return Ok(None);
    }
    let hash: [u8; 32] =
        hash.try_into().map_err(|_| AuditError::BadRow(format!("seq {seq}: hash is not 32 bytes")))?;
    // The database keeps microseconds: sign exactly what will be stored.
    let at = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now is representable");
    let signature = signer.sign(&checkpoint_message(seq, &hash, at));
    let inserted = client
        .execute(
            "INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (seq) DO NOTHING",
            &[&seq, &hash.as_slice(), &at, &signer.key_id(), &signature.as_slice()],
        )
        .await?;
    Ok((inserted == 1).then(|| Checkpoint { seq, hash, at, key_id: signer.key_id().to_owned(), signature }))
}

impl Checkpoint {
    pub(crate) fn from_row(row: &tokio_postgres::Row) -> Result<Checkpoint, String> {
        let seq: i64 = row.get(0);
        let hash: Vec<u8> = row.get(1);
        let signature: Vec<u8> = row.get(4);
        Ok(Checkpoint {
            seq,
            hash: hash.try_into().map_err(|_| format!("checkpoint at seq {seq}: hash is not 32 bytes"))?,
            at: row.get(2),
            key_id: row.get(3),
            signature: signature
                .try_into()
                .map_err(|_| format!("checkpoint at seq {seq}: signature is not 64 bytes"))?,
        })
    }
}

/// The columns [`Checkpoint::from_row`] reads, in order.
pub(crate) const CHECKPOINT_COLUMNS: &str = "seq, hash, at, key_id, signature";

mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}
