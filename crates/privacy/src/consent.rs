//! Consent to share a tenancy's data with a third party, and the share itself: refused
//! without a consent valid now for that recipient and purpose. What is shared is the home's
//! data over the tenancy ([`crate::access`] without the tenants' personal data or the audit
//! log: only what the purpose needs).

use std::path::Path;

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::access::{span_of, write_archive, AccessSummary, TenancySpan};
use crate::error::PrivacyError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: i64,
    pub landlord_id: String,
    pub tenancy_id: Option<i64>,
    pub recipient: String,
    pub purpose: String,
    pub evidence: String,
    pub given_at: DateTime<Utc>,
    pub recorded_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

impl Consent {
    /// Whether it allows a share at `at`.
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        self.given_at <= at
            && self.expires_at.is_none_or(|e| at < e)
            && self.withdrawn_at.is_none_or(|w| at < w)
    }
}

/// A consent to record.
#[derive(Debug)]
pub struct NewConsent<'a> {
    pub tenancy_id: i64,
    pub recipient: &'a str,
    pub purpose: &'a str,
    pub evidence: &'a str,
    pub given_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub recorded_by: &'a str,
}

/// The columns [`from_row`] reads.
const COLUMNS: &str =
    "id, landlord_id, tenancy_id, recipient, purpose, evidence, given_at, recorded_by, expires_at, withdrawn_at";

fn from_row(r: &tokio_postgres::Row) -> Consent {
    Consent {
        id: r.get(0),
        landlord_id: r.get(1),
        tenancy_id: r.get(2),
        recipient: r.get(3),
        purpose: r.get(4),
        evidence: r.get(5),
        given_at: r.get(6),
        recorded_by: r.get(7),
        expires_at: r.get(8),
        withdrawn_at: r.get(9),
    }
}

/// Records a consent; returns its id. The recipient and purpose are kept without surrounding
/// spaces: a share matches them exactly.
pub async fn give(client: &impl GenericClient, new: &NewConsent<'_>) -> Result<i64, PrivacyError> {
    let (recipient, purpose) = (new.recipient.trim(), new.purpose.trim());
    if recipient.is_empty() || purpose.is_empty() {
        return Err(PrivacyError::ConsentUnnamed);
    }
    let row = client
        .query_opt(
            "INSERT INTO sharing_consents (landlord_id, tenancy_id, recipient, purpose, evidence, given_at,
                                           expires_at, recorded_by)
             SELECT landlord_id, id, $2, $3, $4, $5, $6, $7 FROM tenancies WHERE id = $1
             RETURNING id",
            &[
                &new.tenancy_id,
                &recipient,
                &purpose,
                &new.evidence,
                &new.given_at,
                &new.expires_at,
                &new.recorded_by,
            ],
        )
        .await?;
    row.map(|r| r.get(0)).ok_or(PrivacyError::UnknownTenancy(new.tenancy_id))
}

/// Withdraws a consent from now on.
pub async fn withdraw(client: &impl GenericClient, id: i64, by: &str) -> Result<Consent, PrivacyError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE sharing_consents SET withdrawn_at = now(), withdrawn_by = $2
                 WHERE id = $1 AND withdrawn_at IS NULL RETURNING {COLUMNS}"
            ),
            &[&id, &by],
        )
        .await?;
    row.as_ref().map(from_row).ok_or(PrivacyError::NoOpenConsent(id))
}

/// The consents recorded for a tenancy, newest first.
pub async fn of_tenancy(client: &impl GenericClient, tenancy_id: i64) -> Result<Vec<Consent>, PrivacyError> {
    let rows = client
        .query(&format!("SELECT {COLUMNS} FROM sharing_consents WHERE tenancy_id = $1 ORDER BY given_at DESC, id DESC"), &[&tenancy_id])
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// The consent that allows sharing tenancy `tenancy_id`'s data with `recipient` for `purpose`
/// at `at`, if any.
pub async fn valid_consent(
    client: &impl GenericClient,
    tenancy_id: i64,
    recipient: &str,
    purpose: &str,
    at: DateTime<Utc>,
) -> Result<Option<Consent>, PrivacyError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM sharing_consents
                 WHERE tenancy_id = $1 AND btrim(recipient) = $2 AND btrim(purpose) = $3 ORDER BY given_at DESC"
            ),
            // Trimmed both sides: consents recorded before they were kept trimmed still match.
            &[&tenancy_id, &recipient.trim(), &purpose.trim()],
        )
        .await?;
    Ok(rows.iter().map(from_row).find(|c| c.valid_at(at)))
}

/// Shares tenancy `tenancy_id`'s home data with `recipient` for `purpose` into `out`, if a
/// consent allows it now; refused ([`PrivacyError::NoConsent`]) otherwise. Returns the consent
/// relied on and what was written. No key is needed: a share carries no personal data.
pub async fn share(
    client: &mut Client,
    tenancy_id: i64,
    recipient: &str,
    purpose: &str,
    out: &Path,
) -> Result<(Consent, AccessSummary), PrivacyError> {
    let tx = dampwatch_store::read_only_snapshot(client).await?;
    let (span, consent) = allowed_share(&tx, tenancy_id, recipient, purpose, Utc::now()).await?;
    let summary = write_share(&tx, &span, out).await?;
    tx.commit().await?;
    Ok((consent, summary))
}

/// The tenancy's span and the consent that allows sharing it with `recipient` for `purpose`
/// at `at`: [`PrivacyError::UnknownTenancy`] when this transaction cannot see the tenancy,
/// [`PrivacyError::NoConsent`] when no consent is in force.
pub async fn allowed_share(
    db: &impl GenericClient,
    tenancy_id: i64,
    recipient: &str,
    purpose: &str,
    at: DateTime<Utc>,
) -> Result<(TenancySpan, Consent), PrivacyError> {
    let span = span_of(db, tenancy_id).await?.ok_or(PrivacyError::UnknownTenancy(tenancy_id))?;
    let consent = valid_consent(db, tenancy_id, recipient, purpose, at).await?.ok_or_else(|| {
        PrivacyError::NoConsent {
            tenancy: tenancy_id,
            recipient: recipient.to_owned(),
            purpose: purpose.to_owned(),
        }
    })?;
    Ok((span, consent))
}

/// Writes the share of `span` (its home's data over the tenancy, no personal data, no audit
/// log) to `out` from the snapshot `tx`, once [`allowed_share`] has found the consent. It
/// reads only rooms, readings, devices, alerts, cases, case events and the home: the evidence
/// reader's tables.
pub async fn write_share(
    tx: &Transaction<'_>,
    span: &TenancySpan,
    out: &Path,
) -> Result<AccessSummary, PrivacyError> {
    write_archive(tx, span, None, out).await
}
