//! Each landlord's data keys in `landlord_data_keys`: creating the first, finding the one for a
//! generation, rotating to a new generation, re-wrapping under a new master key, and erasing.
//!
//! The current key (neither retired nor destroyed) seals every new value; a transaction that
//! seals holds it `FOR SHARE`, and rotation and erasure take it `FOR UPDATE`, so nothing is
//! sealed under a generation that a concurrent rotation is retiring, nor under a key being
//! erased. Whatever adds or changes keys (a first key, a rotation, a re-wrap, an erasure) first
//! takes the table in `SHARE ROW EXCLUSIVE` mode, so those run one at a time while seals and
//! reads go on, and each then reads every committed key: a re-wrap cannot miss a generation a
//! concurrent rotation was adding and leave it under the old master key.

use chrono::{DateTime, Utc};
use tokio_postgres::{GenericClient, Transaction};

use std::collections::hash_map::{Entry, HashMap};

use zeroize::Zeroizing;

use crate::error::PrivacyError;
use crate::master::{DataKey, MasterKey, WrapContext};
use crate::seal::{self, Place};

async fn landlord_exists(db: &impl GenericClient, landlord: &str) -> Result<(), PrivacyError> {
    match db.query_opt("SELECT 1 FROM landlords WHERE id = $1", &[&landlord]).await? {
        Some(_) => Ok(()),
        None => Err(PrivacyError::UnknownLandlord(landlord.to_owned())),
    }
}

/// When the landlord's keys were erased, if they were.
async fn erased_at(db: &impl GenericClient, landlord: &str) -> Result<Option<DateTime<Utc>>, PrivacyError> {
    let row = db
        .query_one("SELECT max(destroyed_at) FROM landlord_data_keys WHERE landlord_id = $1", &[&landlord])
        .await?;
    Ok(row.get(0))
}

async fn no_current_key(db: &impl GenericClient, landlord: &str) -> PrivacyError {
    match erased_at(db, landlord).await {
        Ok(Some(at)) => PrivacyError::KeyErased { landlord: landlord.to_owned(), at },
        Ok(None) => PrivacyError::NoKey(landlord.to_owned()),
        Err(e) => e,
    }
}

/// One writer of keys at a time (module comment); seals and reads are not blocked.
async fn lock_keys(db: &impl GenericClient) -> Result<(), PrivacyError> {
    db.batch_execute("LOCK TABLE landlord_data_keys IN SHARE ROW EXCLUSIVE MODE").await?;
    Ok(())
}

fn generation(value: i32) -> u32 {
    u32::try_from(value).expect("the schema keeps generations positive")
}

/// Creates generation 1 of the landlord's data key, wrapped under `master`.
pub async fn create_first_key(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    landlord: &str,
) -> Result<u32, PrivacyError> {
    landlord_exists(db, landlord).await?;
    lock_keys(db).await?;
    if let Some(at) = erased_at(db, landlord).await? {
        return Err(PrivacyError::KeyErased { landlord: landlord.to_owned(), at });
    }
    if db.query_opt("SELECT 1 FROM landlord_data_keys WHERE landlord_id = $1", &[&landlord]).await?.is_some()
    {
        return Err(PrivacyError::KeyExists(landlord.to_owned()));
    }
    let key = DataKey::generate()?;
    let wrapped = master.wrap(&key, &WrapContext { landlord_id: landlord, generation: 1 })?;
    db.execute(
        "INSERT INTO landlord_data_keys (landlord_id, generation, wrapped_key, master_key_id) VALUES ($1, 1, $2, $3)",
        &[&landlord, &wrapped, &master.id()],
    )
    .await?;
    Ok(1)
}

/// The landlord's current data key and its generation, held `FOR SHARE` until the end of the
/// transaction (a rotation or an erasure waits for it).
pub async fn current_key(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    landlord: &str,
) -> Result<(u32, DataKey), PrivacyError> {
    let row = db
        .query_opt(
            "SELECT generation, wrapped_key, master_key_id FROM landlord_data_keys
             WHERE landlord_id = $1 AND retired_at IS NULL AND destroyed_at IS NULL
             FOR SHARE",
            &[&landlord],
        )
        .await?;
    let Some(row) = row else {
        return Err(no_current_key(db, landlord).await);
    };
    let generation = generation(row.get(0));
    let wrapped: Vec<u8> = row.get(1);
    let stored: String = row.get(2);
    Ok((generation, unwrap(master, landlord, generation, &wrapped, &stored)?))
}

/// The landlord's current key, creating generation 1 if it has none yet.
pub async fn current_or_first_key(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    landlord: &str,
) -> Result<(u32, DataKey), PrivacyError> {
    match current_key(db, master, landlord).await {
        Err(PrivacyError::NoKey(_)) => match create_first_key(db, master, landlord).await {
            // Another transaction made or rotated the key meanwhile: use what it committed.
            Ok(_) | Err(PrivacyError::KeyExists(_)) => current_key(db, master, landlord).await,
            Err(e) => Err(e),
        },
        other => other,
    }
}

fn unwrap(
    master: &dyn MasterKey,
    landlord: &str,
    generation: u32,
    wrapped: &[u8],
    stored_master_id: &str,
) -> Result<DataKey, PrivacyError> {
    if stored_master_id != master.id() {
        return Err(PrivacyError::WrongMasterKey {
            landlord: landlord.to_owned(),
            generation,
            stored: stored_master_id.to_owned(),
            given: master.id().to_owned(),
        });
    }
    master.unwrap(wrapped, &WrapContext { landlord_id: landlord, generation })
}

/// Generation `generation` of the landlord's data key, or why it cannot be had.
pub async fn data_key(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    landlord: &str,
    generation: u32,
) -> Result<DataKey, PrivacyError> {
    let row = db
        .query_opt(
            "SELECT wrapped_key, master_key_id, destroyed_at FROM landlord_data_keys
             WHERE landlord_id = $1 AND generation = $2",
            &[&landlord, &(generation as i32)],
        )
        .await?;
    let Some(row) = row else {
        return Err(match erased_at(db, landlord).await? {
            Some(at) => PrivacyError::KeyErased { landlord: landlord.to_owned(), at },
            None => PrivacyError::NoKey(landlord.to_owned()),
        });
    };
    if let Some(at) = row.get::<_, Option<DateTime<Utc>>>(2) {
        return Err(PrivacyError::KeyErased { landlord: landlord.to_owned(), at });
    }
    let Some(wrapped) = row.get::<_, Option<Vec<u8>>>(0) else {
        return Err(PrivacyError::KeyRetired { landlord: landlord.to_owned(), generation });
    };
    unwrap(master, landlord, generation, &wrapped, row.get(1))
}

/// Re-seals a landlord's records under the generation a rotation made: one definition for
/// every sealed column, each old generation's key unwrapped once however many records it holds.
pub(crate) struct Resealer<'a> {
    master: &'a dyn MasterKey,
    landlord: &'a str,
    to: u32,
    key: &'a DataKey,
    old_keys: HashMap<u32, DataKey>,
}

impl Resealer<'_> {
    /// `sealed` (at `place`) sealed again under the new generation, with that generation;
    /// `None` when it already is.
    async fn reseal(
        &mut self,
        tx: &Transaction<'_>,
        place: &Place<'_>,
        sealed: &[u8],
    ) -> Result<Option<(Vec<u8>, i32)>, PrivacyError> {
        let generation = seal::generation_of(sealed)?;
        if generation == self.to {
            return Ok(None);
        }
        let old_key = match self.old_keys.entry(generation) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(data_key(tx, self.master, self.landlord, generation).await?),
        };
        let plaintext: Zeroizing<Vec<u8>> = seal::open(old_key, place, sealed)?;
        let again = seal::seal(self.key, self.to, place, &plaintext)?;
        Ok(Some((again, self.to as i32)))
    }

    /// Re-seals every row `select` returns (`id`, sealed bytes; it locks them), writing each
    /// through `update` (`$1` id, `$2` sealed bytes, `$3` generation); returns how many.
    pub async fn reseal_rows(
        &mut self,
        tx: &Transaction<'_>,
        select: &str,
        update: &str,
        place: for<'p> fn(&'p str, i64) -> Place<'p>,
    ) -> Result<u64, PrivacyError> {
        let landlord = self.landlord;
        let mut resealed = 0;
        for row in tx.query(select, &[&landlord]).await? {
            let id: i64 = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            if let Some((again, generation)) = self.reseal(tx, &place(landlord, id), &sealed).await? {
                tx.execute(update, &[&id, &again, &generation]).await?;
                resealed += 1;
            }
        }
        Ok(resealed)
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub from: u32,
    pub to: u32,
    /// Tenancies re-sealed under the new generation.
    pub resealed: u64,
    /// Homes' records of their occupants re-sealed under it.
    pub homes_resealed: u64,
}

/// Rotates the landlord's data key: a new generation, every tenancy of the landlord and every
/// home's record of its occupants re-sealed under it, the old generation retired and its wrapped key deleted, all in `tx` (the caller
/// commits; until then nothing is visible, and a failure leaves the old key in use).
pub async fn rotate_landlord_key(
    tx: &Transaction<'_>,
    master: &dyn MasterKey,
    landlord: &str,
) -> Result<Rotation, PrivacyError> {
    landlord_exists(tx, landlord).await?;
    lock_keys(tx).await?;
    let row = tx
        .query_opt(
            "SELECT generation FROM landlord_data_keys
             WHERE landlord_id = $1 AND retired_at IS NULL AND destroyed_at IS NULL
             FOR UPDATE",
            &[&landlord],
        )
        .await?;
    let Some(row) = row else {
        return Err(no_current_key(tx, landlord).await);
    };
    let from = generation(row.get(0));
    let to: i32 = tx
        .query_one("SELECT max(generation) + 1 FROM landlord_data_keys WHERE landlord_id = $1", &[&landlord])
        .await?
        .get(0);
    let to = generation(to);

    let key = DataKey::generate()?;
    let wrapped = master.wrap(&key, &WrapContext { landlord_id: landlord, generation: to })?;
    tx.execute(
        "UPDATE landlord_data_keys SET retired_at = now() WHERE landlord_id = $1 AND generation = $2",
        &[&landlord, &(from as i32)],
    )
    .await?;
    tx.execute(
        "INSERT INTO landlord_data_keys (landlord_id, generation, wrapped_key, master_key_id) VALUES ($1, $2, $3, $4)",
        &[&landlord, &(to as i32), &wrapped, &master.id()],
    )
    .await?;

    let mut resealer = Resealer { master, landlord, to, key: &key, old_keys: HashMap::new() };
    let resealed = crate::tenancy::reseal_all(tx, &mut resealer).await?;
    let homes_resealed = crate::occupants::reseal_all(tx, &mut resealer).await?;

    // Only now, with nothing left under them, do the old generations' keys go.
    tx.execute(
        "UPDATE landlord_data_keys SET wrapped_key = NULL, retired_at = coalesce(retired_at, now())
         WHERE landlord_id = $1 AND generation < $2 AND wrapped_key IS NOT NULL",
        &[&landlord, &(to as i32)],
    )
    .await?;
    Ok(Rotation { from, to, resealed, homes_resealed })
}

/// Re-wraps every data key still held (every landlord, every live generation) from `old` to
/// `new`, in `tx`. Keys already under `new` are left as they are, so an interrupted run can be
/// repeated; a key under a third master key stops it with an error naming both. Returns how
/// many keys were re-wrapped. After commit, `old` opens nothing in the database; delete it
/// (and note that backups taken before still need it).
pub async fn rewrap_all(
    tx: &Transaction<'_>,
    old: &dyn MasterKey,
    new: &dyn MasterKey,
) -> Result<u64, PrivacyError> {
    lock_keys(tx).await?;
    let rows = tx
        .query(
            "SELECT landlord_id, generation, wrapped_key, master_key_id FROM landlord_data_keys
             WHERE wrapped_key IS NOT NULL ORDER BY landlord_id, generation FOR UPDATE",
            &[],
        )
        .await?;
    let mut rewrapped = 0;
    for row in rows {
        let landlord: String = row.get(0);
        let generation = generation(row.get(1));
        let wrapped: Vec<u8> = row.get(2);
        let stored: String = row.get(3);
        if stored == new.id() {
            continue;
        }
        let key = unwrap(old, &landlord, generation, &wrapped, &stored)?;
        let context = WrapContext { landlord_id: &landlord, generation };
        let again = new.wrap(&key, &context)?;
        tx.execute(
            "UPDATE landlord_data_keys SET wrapped_key = $3, master_key_id = $4
             WHERE landlord_id = $1 AND generation = $2",
            &[&landlord, &(generation as i32), &again, &new.id()],
        )
        .await?;
        rewrapped += 1;
    }
    Ok(rewrapped)
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Generations of the data key destroyed now (0 when erased before or never given a key).
    pub keys_destroyed: u64,
    /// The landlord's tenancies, whose sealed personal data can no longer be opened.
    pub tenancies: i64,
    /// The landlord's homes that recorded their occupants: the sealed records can no longer be
    /// opened, and the stricter rules they selected no longer apply.
    pub homes: u64,
    /// Generations of the landlord's case text key destroyed now ([`crate::text_keys`]).
    pub text_keys_destroyed: u64,
    /// What officers wrote on the landlord's cases: sealed, and no longer openable.
    pub case_texts: i64,
    pub erased_at: DateTime<Utc>,
}

/// Cryptographic erasure of the landlord's personal data, in `tx`: every wrapped data key and
/// case text key of the landlord is deleted and its destruction recorded, so no master key can open its
/// tenancies again and no new key is made for it. The ciphertext stays (it is useless without
/// the key), and the stricter rules its homes' sealed records selected are cleared; the caller commits, and may append an audit entry in the same transaction.
pub async fn erase_landlord(tx: &Transaction<'_>, landlord: &str) -> Result<Erasure, PrivacyError> {
    landlord_exists(tx, landlord).await?;
    lock_keys(tx).await?;
    let keys_destroyed = tx
        .execute(
            "UPDATE landlord_data_keys SET wrapped_key = NULL, destroyed_at = coalesce(destroyed_at, now())
             WHERE landlord_id = $1 AND (wrapped_key IS NOT NULL OR destroyed_at IS NULL)",
            &[&landlord],
        )
        .await?;
    // A landlord that never had a key gets a destroyed generation 1, so none is made later.
    tx.execute(
        "INSERT INTO landlord_data_keys (landlord_id, generation, wrapped_key, master_key_id, destroyed_at)
         SELECT $1, 1, NULL, '', now()
         WHERE NOT EXISTS (SELECT 1 FROM landlord_data_keys WHERE landlord_id = $1)",
        &[&landlord],
    )
    .await?;
    let erased_at = erased_at(tx, landlord).await?.expect("recorded above");
    let tenancies: i64 =
        tx.query_one("SELECT count(*) FROM tenancies WHERE landlord_id = $1", &[&landlord]).await?.get(0);
    // The clear selection was derived from the sealed record: it goes with it.
    let homes = tx
        .execute(
            "UPDATE dwellings SET occupant_rules = '{}', unsealed_vulnerabilities = '{}'
             WHERE landlord_id = $1
               AND (occupants IS NOT NULL OR cardinality(occupant_rules) > 0
                    OR cardinality(unsealed_vulnerabilities) > 0)",
            &[&landlord],
        )
        .await?;
    // The landlord's second key tree, what officers wrote on its cases, goes with the first.
    let text_keys_destroyed = crate::text_keys::erase(tx, landlord).await?;
    let case_texts: i64 = tx
        .query_one("SELECT count(*) FROM case_event_texts WHERE landlord_id = $1", &[&landlord])
        .await?
        .get(0);
    Ok(Erasure { keys_destroyed, tenancies, homes, text_keys_destroyed, case_texts, erased_at })
}
