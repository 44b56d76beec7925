//! An erasure request for a tenancy: the tenants' personal data is deleted, consents to share
//! it end, and the answer says what is kept and under which legal basis.

use tokio_postgres::Transaction;

use crate::error::PrivacyError;

/// What an erasure did and what it kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenancyErasure {
    pub tenancy_id: i64,
    pub landlord_id: String,
    pub consents_withdrawn: u64,
    /// What is kept: (what, why and on which legal basis).
    pub kept: Vec<(&'static str, &'static str)>,
}

/// What an erasure keeps, and why.
pub const KEPT: [(&str, &str); 4] = [
    (
        "the home's readings, alerts and cases, and the cases' events",
        "kept for the periods of the retention policy (`dampwatch retention policy`): they record \
         the home's condition and the landlord's response, which a disrepair claim may turn on; \
         they name the home, not its tenants. UK GDPR Art. 17(3)(e) (legal claims); Limitation \
         Act 1980 s.5",
    ),
    (
        "audit log entries about the tenancy",
        "kept: the log is append-only and hash-chained, and its entries name the tenancy by number, \
         never its people. UK GDPR Art. 17(3)(b) and (e)",
    ),
    (
        "consent records",
        "kept, without the tenancy, as the proof that past shares were lawful. UK GDPR Art. 5(2) \
         (accountability)",
    ),
    (
        "backups taken before the erasure",
        "hold the sealed personal data until they are rotated out; they cannot be opened once the \
         landlord's data keys are erased (`dampwatch landlords erase`)",
    ),
];

/// Erases tenancy `id`'s personal data in `tx`.
pub async fn erase_tenancy(tx: &Transaction<'_>, id: i64, by: &str) -> Result<TenancyErasure, PrivacyError> {
    let row = tx
        .query_opt(
            "INSERT INTO tenancy_erasures (landlord_id, tenancy_id, dwelling_id, starts_on, ends_on, erased_by)
             SELECT landlord_id, id, dwelling_id, starts_on, ends_on, $2 FROM tenancies WHERE id = $1
             RETURNING landlord_id",
            &[&id, &by],
        )
        .await?
        .ok_or(PrivacyError::UnknownTenancy(id))?;
    let landlord_id: String = row.get(0);
    let consents_withdrawn = tx
        .execute(
            "UPDATE sharing_consents SET withdrawn_at = now(), withdrawn_by = $2
             WHERE tenancy_id = $1 AND withdrawn_at IS NULL",
            &[&id, &by],
        )
        .await?;
    tx.execute("DELETE FROM tenancies WHERE id = $1", &[&id]).await?;
    Ok(TenancyErasure { tenancy_id: id, landlord_id, consents_withdrawn, kept: KEPT.to_vec() })
}
