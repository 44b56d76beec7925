//! A home's occupants as the hazard rules need them: the vulnerabilities it records (an
//! occupant over 65, a child under 5, a heart or lung condition). They are special-category
//! personal data (health), so they are kept only sealed (`dwellings.occupants`, see
//! [`crate::seal`]) under the landlord's data key, like a tenancy's names and notes, and go
//! with it: re-sealed when the key rotates, unreadable once the landlord is erased.
//!
//! In clear beside them is only what the hazard worker needs and cannot otherwise learn (it
//! holds no master key): the ids of the stricter rules they select
//! (`dwellings.occupant_rules`), which the caller derives from the occupant data and which is
//! written in the same statement as the sealed record, so the two never disagree. This crate
//! treats both as opaque names: what they mean is `dampwatch-indicators`' occupant data.

use std::collections::BTreeSet;

use std::fmt;

use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Transaction};
use zeroize::{Zeroize, Zeroizing};

use crate::error::PrivacyError;
use crate::keys;
use crate::master::{DataKey, MasterKey};
use crate::seal::{self, Place};

const TABLE: &str = "dwellings";
const COLUMN: &str = "occupants";

fn place(landlord_id: &str, dwelling_id: i64) -> Place<'_> {
    Place { landlord_id, table: TABLE, column: COLUMN, row_id: dwelling_id }
}

/// The sealed record's plaintext, wiped when dropped.
#[derive(Serialize, Deserialize)]
struct Record {
    vulnerabilities: Vec<String>,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.vulnerabilities.zeroize();
    }
}

/// A home's recorded vulnerabilities, opened: sorted, each once. Wiped from memory when
/// dropped; `Debug` shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Categories(Vec<String>);

impl Categories {
    fn from_names(names: impl IntoIterator<Item = String>) -> Categories {
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        names.dedup();
        Categories(names)
    }

    /// The names (`over_65`, …), sorted.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Categories {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Categories {{ {} recorded }}", self.0.len())
    }
}

/// Records the vulnerabilities of landlord `landlord`'s home `dwelling_id`, sealed under the
/// landlord's current data key (made now if it has none), and in clear the stricter rules
/// `occupant_rules` they select; whatever was waiting unsealed from before goes. An empty set
/// clears the record and needs no key. Returns false when the landlord has no such home.
///
/// The key is taken (`FOR SHARE`) before the home's row, as a rotation takes them (the key
/// `FOR UPDATE`, then the rows): a caller must not have locked the row before.
pub async fn record_occupants(
    tx: &Transaction<'_>,
    master: Option<&dyn MasterKey>,
    landlord: &str,
    dwelling_id: i64,
    vulnerabilities: &BTreeSet<String>,
    occupant_rules: &BTreeSet<String>,
) -> Result<bool, PrivacyError> {
    let rules: Vec<&str> = occupant_rules.iter().map(String::as_str).collect();
    if vulnerabilities.is_empty() {
        let n = tx
            .execute(
                "UPDATE dwellings SET occupants = NULL, occupants_key_generation = NULL, occupant_rules = $3,
                     unsealed_vulnerabilities = '{}'
                 WHERE id = $1 AND landlord_id = $2",
                &[&dwelling_id, &landlord, &rules],
            )
            .await?;
        return Ok(n == 1);
    }
    let master = master.ok_or(PrivacyError::MasterKeyNeeded("recording occupants' vulnerabilities"))?;
    let (generation, key) = keys::current_or_first_key(tx, master, landlord).await?;
    let plaintext = Zeroizing::new(serde_json::to_vec(&Record {
        vulnerabilities: vulnerabilities.iter().cloned().collect(),
    })?);
    let sealed = seal::seal(&key, generation, &place(landlord, dwelling_id), &plaintext)?;
    let n = tx
        .execute(
            "UPDATE dwellings SET occupants = $3, occupants_key_generation = $4, occupant_rules = $5,
                 unsealed_vulnerabilities = '{}'
             WHERE id = $1 AND landlord_id = $2",
            &[&dwelling_id, &landlord, &sealed, &(generation as i32), &rules],
        )
        .await?;
    Ok(n == 1)
}

/// The vulnerabilities recorded for home `dwelling_id` of `landlord`, opened with `master`:
/// the sealed record, and anything recorded before sealing began that still waits unsealed.
pub async fn open_occupants(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    landlord: &str,
    dwelling_id: i64,
) -> Result<Categories, PrivacyError> {
    let row = db
        .query_opt(
            "SELECT occupants, unsealed_vulnerabilities FROM dwellings WHERE id = $1 AND landlord_id = $2",
            &[&dwelling_id, &landlord],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Categories::default());
    };
    let mut names: Vec<String> = row.get(1);
    if let Some(sealed) = row.get::<_, Option<Vec<u8>>>(0) {
        let key = keys::data_key(db, master, landlord, seal::generation_of(&sealed)?).await?;
        names.extend(open_with(&key, landlord, dwelling_id, &sealed)?);
    }
    Ok(Categories::from_names(names))
}

fn open_with(
    key: &DataKey,
    landlord: &str,
    dwelling_id: i64,
    sealed: &[u8],
) -> Result<Vec<String>, PrivacyError> {
    let plaintext = seal::open(key, &place(landlord, dwelling_id), sealed)?;
    let mut record: Record = serde_json::from_slice(&plaintext)?;
    Ok(std::mem::take(&mut record.vulnerabilities))
}

/// Seals what was recorded in clear before sealing began (`unsealed_vulnerabilities`), for
/// every landlord or one, leaving the clear selection as it is; returns how many homes. A
/// landlord whose keys were erased has its clear record emptied instead, as its sealed data
/// is. One landlord at a time, its key before its rows (as [`record_occupants`]). Idempotent:
/// a second run finds nothing.
pub async fn seal_unsealed(
    tx: &Transaction<'_>,
    master: &dyn MasterKey,
    landlord: Option<&str>,
) -> Result<u64, PrivacyError> {
    let landlords: Vec<String> = tx
        .query(
            "SELECT DISTINCT landlord_id FROM dwellings
             WHERE cardinality(unsealed_vulnerabilities) > 0 AND ($1::text IS NULL OR landlord_id = $1)
             ORDER BY landlord_id",
            &[&landlord],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut sealed = 0;
    for landlord_id in landlords {
        match keys::current_or_first_key(tx, master, &landlord_id).await {
            Err(PrivacyError::KeyErased { .. }) => {
                tx.execute(
                    "UPDATE dwellings SET unsealed_vulnerabilities = '{}', occupant_rules = '{}' WHERE landlord_id = $1",
                    &[&landlord_id],
                )
                .await?;
                continue;
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let rows = tx
            .query(
                "SELECT id, unsealed_vulnerabilities, occupants IS NOT NULL, occupant_rules FROM dwellings
                 WHERE landlord_id = $1 AND cardinality(unsealed_vulnerabilities) > 0
                 ORDER BY id FOR NO KEY UPDATE",
                &[&landlord_id],
            )
            .await?;
        for row in rows {
            let id: i64 = row.get(0);
            let mut all: BTreeSet<String> = row.get::<_, Vec<String>>(1).into_iter().collect();
            if row.get::<_, bool>(2) {
                all.extend(open_occupants(tx, master, &landlord_id, id).await?.names().iter().cloned());
            }
            let rules: BTreeSet<String> = row.get::<_, Vec<String>>(3).into_iter().collect();
            record_occupants(tx, Some(master), &landlord_id, id, &all, &rules).await?;
            sealed += 1;
        }
    }
    Ok(sealed)
}

/// Re-seals every home's record of the resealer's landlord under its new generation
/// (rotation's work), locking them; returns how many.
pub(crate) async fn reseal_all(
    tx: &Transaction<'_>,
    resealer: &mut keys::Resealer<'_>,
) -> Result<u64, PrivacyError> {
    let select = "SELECT id, occupants FROM dwellings WHERE landlord_id = $1 AND occupants IS NOT NULL
         ORDER BY id FOR NO KEY UPDATE";
    let update = "UPDATE dwellings SET occupants = $2, occupants_key_generation = $3 WHERE id = $1";
    resealer.reseal_rows(tx, select, update, place).await
}
