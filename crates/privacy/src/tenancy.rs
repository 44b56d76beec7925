//! Tenancies: who lives in a home, with their personal data sealed under the landlord's data
//! key (`tenancies.personal`, see [`crate::seal`]). Only the dates, the home and the key's
//! generation are in clear.

use std::collections::hash_map::{Entry, HashMap};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row, Transaction};
use zeroize::{Zeroize, Zeroizing};

use crate::error::PrivacyError;
use crate::keys;
use crate::master::{DataKey, MasterKey};
use crate::seal::{self, Place};

const TABLE: &str = "tenancies";
const COLUMN: &str = "personal";

fn place(landlord_id: &str, row_id: i64) -> Place<'_> {
    Place { landlord_id, table: TABLE, column: COLUMN, row_id }
}

/// The tenants' personal data, as sealed. Wiped from memory when dropped; `Debug` shows only
/// how many of each there are.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personal {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    /// Free text, which may describe a tenant's health or circumstances.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Drop for Personal {
    fn drop(&mut self) {
        self.names.zeroize();
        self.phones.zeroize();
        self.emails.zeroize();
        self.notes.zeroize();
    }
}

impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Personal {{ {} names, {} phones, {} e-mails, {} notes }}",
            self.names.len(),
            self.phones.len(),
            self.emails.len(),
            self.notes.len()
        )
    }
}

/// A tenancy to record.
#[derive(Debug)]
pub struct NewTenancy<'a> {
    pub landlord_id: &'a str,
    /// The landlord's own reference for the home (`dwellings.reference`).
    pub dwelling_reference: &'a str,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub personal: &'a Personal,
}

/// A tenancy, opened.
#[derive(Debug)]
pub struct Tenancy {
    pub id: i64,
    pub landlord_id: String,
    pub dwelling_reference: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub key_generation: u32,
    pub personal: Personal,
}

/// Records a tenancy, its personal data sealed under the landlord's current data key (made
/// now if the landlord has none yet). Returns its id.
pub async fn add_tenancy(
    tx: &Transaction<'_>,
    master: &dyn MasterKey,
    new: &NewTenancy<'_>,
) -> Result<i64, PrivacyError> {
    let dwelling = tx
        .query_opt(
            "SELECT id FROM dwellings WHERE landlord_id = $1 AND reference = $2",
            &[&new.landlord_id, &new.dwelling_reference],
        )
        .await?
        .ok_or_else(|| PrivacyError::UnknownDwelling {
            landlord: new.landlord_id.to_owned(),
            reference: new.dwelling_reference.to_owned(),
        })?;
    let dwelling_id: i64 = dwelling.get(0);
    let (generation, key) = keys::current_or_first_key(tx, master, new.landlord_id).await?;
    // The id is taken first: the seal is bound to it.
    let id: i64 = tx.query_one("SELECT nextval('tenancies_id_seq')", &[]).await?.get(0);
    let plaintext = Zeroizing::new(serde_json::to_vec(new.personal)?);
    let sealed = seal::seal(&key, generation, &place(new.landlord_id, id), &plaintext)?;
    tx.execute(
        "INSERT INTO tenancies (id, landlord_id, dwelling_id, starts_on, ends_on, personal, key_generation)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&id, &new.landlord_id, &dwelling_id, &new.starts_on, &new.ends_on, &sealed, &(generation as i32)],
    )
    .await?;
    Ok(id)
}

const SELECT: &str =
    "SELECT t.id, t.landlord_id, d.reference, t.starts_on, t.ends_on, t.key_generation, t.personal
     FROM tenancies t JOIN dwellings d ON d.id = t.dwelling_id";

async fn open_rows(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    rows: Vec<Row>,
) -> Result<Vec<Tenancy>, PrivacyError> {
    let mut cache: HashMap<(String, u32), DataKey> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.get(0);
        let landlord_id: String = row.get(1);
        let sealed: Vec<u8> = row.get(6);
        // The header's generation picks the key; the seal authenticates it.
        let generation = seal::generation_of(&sealed)?;
        let key = match cache.entry((landlord_id.clone(), generation)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(keys::data_key(db, master, &landlord_id, generation).await?),
        };
        let plaintext = seal::open(key, &place(&landlord_id, id), &sealed)?;
        let personal: Personal = serde_json::from_slice(&plaintext)?;
        out.push(Tenancy {
            id,
            landlord_id,
            dwelling_reference: row.get(2),
            starts_on: row.get(3),
            ends_on: row.get(4),
            key_generation: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
            personal,
        });
    }
    Ok(out)
}

/// Opens one tenancy.
pub async fn open_tenancy(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    id: i64,
) -> Result<Option<Tenancy>, PrivacyError> {
    let rows = db.query(&format!("{SELECT} WHERE t.id = $1"), &[&id]).await?;
    Ok(open_rows(db, master, rows).await?.pop())
}

/// Opens every tenancy of a home, oldest first.
pub async fn tenancies_of_dwelling(
    db: &impl GenericClient,
    master: &dyn MasterKey,
    landlord: &str,
    dwelling_reference: &str,
) -> Result<Vec<Tenancy>, PrivacyError> {
    let dwelling = db
        .query_opt(
            "SELECT id FROM dwellings WHERE landlord_id = $1 AND reference = $2",
            &[&landlord, &dwelling_reference],
        )
        .await?;
    let Some(dwelling) = dwelling else {
        return Err(PrivacyError::UnknownDwelling {
            landlord: landlord.to_owned(),
            reference: dwelling_reference.to_owned(),
        });
    };
    let dwelling_id: i64 = dwelling.get(0);
    let rows = db
        .query(&format!("{SELECT} WHERE t.dwelling_id = $1 ORDER BY t.starts_on, t.id"), &[&dwelling_id])
        .await?;
    open_rows(db, master, rows).await
}

/// Re-seals every tenancy of the resealer's landlord under its new generation (rotation's
/// work), locking them; returns how many.
pub(crate) async fn reseal_all(
    tx: &Transaction<'_>,
    resealer: &mut keys::Resealer<'_>,
) -> Result<u64, PrivacyError> {
    let select = "SELECT id, personal FROM tenancies WHERE landlord_id = $1 ORDER BY id FOR UPDATE";
    let update = "UPDATE tenancies SET personal = $2, key_generation = $3, updated_at = now() WHERE id = $1";
    resealer.reseal_rows(tx, select, update, place).await
}
