//! A person's TOTP secret at rest (migration 0462): sealed under the services' secrets key
//! ([`dampwatch_privacy::SecretsKey`]), bound to the person's landlord and row, so the table
//! alone holds no second factor. The secret in use and the one being enrolled are sealed for
//! the same place: enrolment's confirmation moves the sealed value as it is.

use dampwatch_privacy::seal::Place;
use dampwatch_privacy::{PrivacyError, SecretsKey};
use tokio_postgres::GenericClient;
use zeroize::Zeroizing;

/// Why a stored TOTP secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TotpSecretError {
    #[error("second-factor secrets are sealed and this service has no secrets key configured")]
    NoKey,
    #[error("a second-factor secret does not open with the secrets key {0} (another installation's key?)")]
    DoesNotOpen(String),
    #[error("cannot seal a second-factor secret: {0}")]
    Seal(String),
    #[error("database error")]
    Db(#[from] tokio_postgres::Error),
}

fn place(landlord_id: Option<&str>, user_id: i64) -> Place<'_> {
    // Operators belong to no landlord: the platform's empty name.
    Place { landlord_id: landlord_id.unwrap_or(""), table: "users", column: "totp", row_id: user_id }
}

/// `secret` of person `user_id` (of `landlord_id`), sealed.
pub fn seal(
    key: Option<&SecretsKey>,
    landlord_id: Option<&str>,
    user_id: i64,
    secret: &[u8],
) -> Result<Vec<u8>, TotpSecretError> {
    let key = key.ok_or(TotpSecretError::NoKey)?;
    key.seal(&place(landlord_id, user_id), secret).map_err(|e| TotpSecretError::Seal(e.to_string()))
}

/// The secret a row holds in the columns `clear` and `sealed` (at most one set), if any.
pub fn open(
    key: Option<&SecretsKey>,
    landlord_id: Option<&str>,
    user_id: i64,
    clear: Option<Vec<u8>>,
    sealed: Option<Vec<u8>>,
) -> Result<Option<Zeroizing<Vec<u8>>>, TotpSecretError> {
    match (sealed, clear) {
        (Some(sealed), _) => {
            let key = key.ok_or(TotpSecretError::NoKey)?;
            match key.open_sealed(&place(landlord_id, user_id), &sealed) {
                Ok(secret) => Ok(Some(secret)),
                Err(PrivacyError::DoesNotOpen(_)) => Err(TotpSecretError::DoesNotOpen(key.id().to_owned())),
                Err(e) => Err(TotpSecretError::Seal(e.to_string())),
            }
        }
        (None, clear) => Ok(clear.map(Zeroizing::new)),
    }
}

/// Seals every TOTP secret (in use or pending) still stored in clear; returns how many rows.
/// Each row is rewritten in one statement, and only if its clear values are still those read.
pub async fn seal_clear_secrets(
    client: &impl GenericClient,
    key: &SecretsKey,
) -> Result<u64, TotpSecretError> {
    let rows = client
        .query(
            "SELECT id, landlord_id, totp_secret, totp_pending FROM users
             WHERE totp_secret IS NOT NULL OR totp_pending IS NOT NULL ORDER BY id",
            &[],
        )
        .await?;
    let mut sealed = 0;
    for row in rows {
        let (id, landlord): (i64, Option<String>) = (row.get(0), row.get(1));
        let (secret, pending): (Option<Vec<u8>>, Option<Vec<u8>>) = (row.get(2), row.get(3));
        let seal_one = |s: &Option<Vec<u8>>| {
            s.as_deref().map(|s| seal(Some(key), landlord.as_deref(), id, s)).transpose()
        };
        let (secret_sealed, pending_sealed) = (seal_one(&secret)?, seal_one(&pending)?);
        sealed += client
            .execute(
                "UPDATE users SET
                     totp_sealed = coalesce($4, totp_sealed), totp_secret = NULL,
                     totp_pending_sealed = coalesce($5, totp_pending_sealed), totp_pending = NULL
                 WHERE id = $1 AND totp_secret IS NOT DISTINCT FROM $2 AND totp_pending IS NOT DISTINCT FROM $3",
                &[&id, &secret, &pending, &secret_sealed, &pending_sealed],
            )
            .await?;
    }
    Ok(sealed)
}
