//! Each landlord's case text keys in `landlord_text_keys` (migration 0469): the second key tree,
//! under which what officers write on its cases is sealed ([`crate::case_texts`]).
//!
//! The API seals and shows those texts, so it opens these keys; it must never open a tenancy or
//! a home's occupants. So a text key is sealed under the services' secrets key
//! ([`SecretsKey`], which the API holds already), never under the operator's master key, which
//! stays off the API's host. Otherwise it behaves as a data key ([`crate::keys`]): the current
//! one is held `FOR SHARE` by a transaction that seals, and `FOR UPDATE` by a rotation or an
//! erasure; an erased landlord's keys are destroyed and no new one is made for it.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use zeroize::Zeroizing;

use crate::error::PrivacyError;
use crate::master::{DataKey, KEY_LEN};
use crate::seal::Place;
use crate::secrets_key::SecretsKey;

/// Whose transaction takes the landlord's current text key: the operator's (any landlord's,
/// directly) or the API's tenant role (its own landlord's, through migration 0469's functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAccess {
    Operator,
    Tenant,
}

/// Where a text key's sealed bytes live; the generation stands for the row.
fn place(landlord_id: &str, generation: u32) -> Place<'_> {
    Place { landlord_id, table: "landlord_text_keys", column: "wrapped_key", row_id: i64::from(generation) }
}

fn generation(value: i32) -> u32 {
    u32::try_from(value).expect("the schema keeps generations positive")
}

/// A new key for `generation`, sealed under `secrets`.
pub(crate) fn make(
    secrets: &SecretsKey,
    landlord: &str,
    generation: u32,
) -> Result<(DataKey, Vec<u8>), PrivacyError> {
    let key = DataKey::generate()?;
    let wrapped = secrets.seal(&place(landlord, generation), key.as_bytes())?;
    Ok((key, wrapped))
}

fn unwrap(
    secrets: &SecretsKey,
    landlord: &str,
    generation: u32,
    wrapped: &[u8],
    stored_id: &str,
) -> Result<DataKey, PrivacyError> {
    if stored_id != secrets.id() {
        return Err(PrivacyError::WrongSecretsKey {
            landlord: landlord.to_owned(),
            generation,
            stored: stored_id.to_owned(),
            given: secrets.id().to_owned(),
        });
    }
    let bytes = secrets.open_sealed(&place(landlord, generation), wrapped)?;
    let bytes: [u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| PrivacyError::Malformed("a case text key is not 32 bytes"))?;
    Ok(DataKey::from_bytes(Zeroizing::new(bytes)))
}

/// When the landlord's text keys were destroyed, if they were.
async fn erased_at(db: &impl GenericClient, landlord: &str) -> Result<Option<DateTime<Utc>>, PrivacyError> {
    let row = db
        .query_one("SELECT max(destroyed_at) FROM landlord_text_keys WHERE landlord_id = $1", &[&landlord])
        .await?;
    Ok(row.get(0))
}

/// The landlord's current text key and its generation, held `FOR SHARE` until the transaction
/// ends, made (generation 1) if the landlord never had one. `access` says whose transaction it
/// is: the operator's reads the table; the API's tenant role, only its own landlord's current
/// key through `tenant_current_text_key()`.
pub async fn current_or_first(
    db: &impl GenericClient,
    secrets: &SecretsKey,
    access: KeyAccess,
    landlord: &str,
) -> Result<(u32, DataKey), PrivacyError> {
    // A second pass takes the key another transaction made or rotated meanwhile.
    for _ in 0..2 {
        let row = match access {
            KeyAccess::Operator => {
                db.query_opt(
                    "SELECT generation, wrapped_key, secrets_key_id FROM landlord_text_keys
                     WHERE landlord_id = $1 AND retired_at IS NULL AND destroyed_at IS NULL
                     FOR SHARE",
                    &[&landlord],
                )
                .await?
            }
            KeyAccess::Tenant => {
                db.query_opt(
                    "SELECT generation, wrapped_key, secrets_key_id FROM tenant_current_text_key()",
                    &[],
                )
                .await?
            }
        };
        if let Some(row) = row {
            let generation = generation(row.get(0));
            let wrapped: Vec<u8> = row.get(1);
            return Ok((generation, unwrap(secrets, landlord, generation, &wrapped, row.get(2))?));
        }
        if let Some(at) = erased_at(db, landlord).await? {
            return Err(PrivacyError::KeyErased { landlord: landlord.to_owned(), at });
        }
        let (_, wrapped) = make(secrets, landlord, 1)?;
        match access {
            KeyAccess::Operator => {
                db.execute(
                    "INSERT INTO landlord_text_keys (landlord_id, generation, wrapped_key, secrets_key_id)
                     VALUES ($1, 1, $2, $3) ON CONFLICT (landlord_id, generation) DO NOTHING",
                    &[&landlord, &wrapped, &secrets.id()],
                )
                .await?;
            }
            KeyAccess::Tenant => {
                db.query_one("SELECT tenant_first_text_key($1, $2)", &[&wrapped, &secrets.id()]).await?;
            }
        }
    }
    // Erased between this transaction's look and its first key: say so.
    if let Some(at) = erased_at(db, landlord).await? {
        return Err(PrivacyError::KeyErased { landlord: landlord.to_owned(), at });
    }
    Err(PrivacyError::NoTextKey { landlord: landlord.to_owned(), generation: 1 })
}

/// Generation `generation` of the landlord's text key, or why it cannot be had (the tenant
/// role reads its own landlord's rows, sealed, under row-level security).
pub async fn key(
    db: &impl GenericClient,
    secrets: &SecretsKey,
    landlord: &str,
    generation: u32,
) -> Result<DataKey, PrivacyError> {
    let row = db
        .query_opt(
            "SELECT wrapped_key, secrets_key_id, destroyed_at FROM landlord_text_keys
             WHERE landlord_id = $1 AND generation = $2",
            &[&landlord, &(generation as i32)],
        )
        .await?;
    let Some(row) = row else {
        return Err(PrivacyError::NoTextKey { landlord: landlord.to_owned(), generation });
    };
    if let Some(at) = row.get::<_, Option<DateTime<Utc>>>(2) {
        return Err(PrivacyError::KeyErased { landlord: landlord.to_owned(), at });
    }
    let Some(wrapped) = row.get::<_, Option<Vec<u8>>>(0) else {
        return Err(PrivacyError::TextKeyRetired { landlord: landlord.to_owned(), generation });
    };
    unwrap(secrets, landlord, generation, &wrapped, row.get(1))
}

/// Destroys every text key of the landlord (no key needed), recording a destroyed generation 1
/// for a landlord that never had one, so none is made later; returns how many were destroyed.
pub(crate) async fn erase(db: &impl GenericClient, landlord: &str) -> Result<u64, PrivacyError> {
    // A first key being added by a transaction not yet committed would escape the UPDATE below
    // and outlive the erasure: wait for it (its INSERT's lock conflicts with this one).
    db.batch_execute("LOCK TABLE landlord_text_keys IN SHARE ROW EXCLUSIVE MODE").await?;
    let destroyed = db
        .execute(
            "UPDATE landlord_text_keys SET wrapped_key = NULL, destroyed_at = coalesce(destroyed_at, now())
             WHERE landlord_id = $1 AND (wrapped_key IS NOT NULL OR destroyed_at IS NULL)",
            &[&landlord],
        )
        .await?;
    db.execute(
        "INSERT INTO landlord_text_keys (landlord_id, generation, wrapped_key, secrets_key_id, destroyed_at)
         VALUES ($1, 1, NULL, '', now()) ON CONFLICT (landlord_id, generation) DO NOTHING",
        &[&landlord],
    )
    .await?;
    Ok(destroyed)
}
