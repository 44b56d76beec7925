//! Legal holds on a home's data (migration 0440): opened for a complaint, a dispute or a claim,
//! released when it ends. While one is open (or the home has an open case) the retention job
//! deletes none of the home's evidence.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

/// Why a home is held.
pub const REASONS: [&str; 3] = ["complaint", "dispute", "claim"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: i64,
    pub landlord_id: String,
    pub dwelling_reference: String,
    pub reason: String,
    pub note: String,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub released_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("landlord {landlord} has no home with reference {reference:?}")]
    NoSuchHome { landlord: String, reference: String },
    #[error("a hold's reason is one of complaint, dispute or claim, not {0:?}")]
    BadReason(String),
    #[error("no open hold {0}")]
    NoSuchHold(i64),
}

/// Opens a hold on the landlord's home `reference`; returns its id.
pub async fn open(
    client: &impl GenericClient,
    landlord: &str,
    reference: &str,
    reason: &str,
    note: &str,
    by: &str,
) -> Result<i64, HoldError> {
    if !REASONS.contains(&reason) {
        return Err(HoldError::BadReason(reason.to_owned()));
    }
    let row = client
        .query_opt(
            "INSERT INTO legal_holds (landlord_id, dwelling_id, reason, note, opened_by)
             SELECT landlord_id, id, $3, $4, $5 FROM dwellings WHERE landlord_id = $1 AND reference = $2
             RETURNING id",
            &[&landlord, &reference, &reason, &note, &by],
        )
        .await?;
    row.map(|r| r.get(0)).ok_or_else(|| HoldError::NoSuchHome {
        landlord: landlord.to_owned(),
        reference: reference.to_owned(),
    })
}

/// Releases an open hold.
pub async fn release(client: &impl GenericClient, id: i64, by: &str) -> Result<(), HoldError> {
    let n = client
        .execute(
            "UPDATE legal_holds SET released_at = now(), released_by = $2 WHERE id = $1 AND released_at IS NULL",
            &[&id, &by],
        )
        .await?;
    if n == 0 {
        return Err(HoldError::NoSuchHold(id));
    }
    Ok(())
}

/// Holds of one landlord or all, open ones first.
pub async fn list(client: &impl GenericClient, landlord: Option<&str>) -> Result<Vec<Hold>, HoldError> {
    let rows = client
        .query(
            "SELECT h.id, h.landlord_id, d.reference, h.reason, h.note, h.opened_at, h.opened_by, h.released_at
             FROM legal_holds h JOIN dwellings d ON d.id = h.dwelling_id
             WHERE $1::text IS NULL OR h.landlord_id = $1
             ORDER BY h.released_at IS NOT NULL, h.opened_at DESC",
            &[&landlord],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Hold {
            id: r.get(0),
            landlord_id: r.get(1),
            dwelling_reference: r.get(2),
            reason: r.get(3),
            note: r.get(4),
            opened_at: r.get(5),
            opened_by: r.get(6),
            released_at: r.get(7),
        })
        .collect())
}
