//! A person's TOTP secret at rest (migration 0462): sealed under the services' secrets key
//! ([`dampwatch_privacy::SecretsKey`]), bound to the person's landlord, row and column, so the
//! table alone holds no second factor. The secret in use and the one being enrolled are sealed
//! for their own columns: a pending secret copied into the one in use does not open there, so
//! enrolment cannot be completed without a code (its confirmation seals the secret again).

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

/// Which of a person's two secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The secret in use (`totp_sealed`).
    InUse,
    /// The secret being enrolled (`totp_pending_sealed`).
    Pending,
}

fn place(landlord_id: Option<&str>, user_id: i64, slot: Slot) -> Place<'_> {
    let column = match slot {
        Slot::InUse => "totp_sealed",
        Slot::Pending => "totp_pending_sealed",
    };
    // Operators belong to no landlord: the platform's empty name.
    Place { landlord_id: landlord_id.unwrap_or(""), table: "users", column, row_id: user_id }
}

/// `secret` of person `user_id` (of `landlord_id`), sealed for `slot`.
pub fn seal(
    key: Option<&SecretsKey>,
    landlord_id: Option<&str>,
    user_id: i64,
    slot: Slot,
    secret: &[u8],
) -> Result<Vec<u8>, TotpSecretError> {
    let key = key.ok_or(TotpSecretError::NoKey)?;
    key.seal(&place(landlord_id, user_id, slot), secret).map_err(|e| TotpSecretError::Seal(e.to_string()))
}

/// The secret a row holds for `slot` in the columns `clear` and `sealed` (at most one set).
pub fn open(
    key: Option<&SecretsKey>,
    landlord_id: Option<&str>,
    user_id: i64,
    slot: Slot,
    clear: Option<Vec<u8>>,
    sealed: Option<Vec<u8>>,
) -> Result<Option<Zeroizing<Vec<u8>>>, TotpSecretError> {
    match (sealed, clear) {
        (Some(sealed), _) => {
            let key = key.ok_or(TotpSecretError::NoKey)?;
            match key.open_sealed(&place(landlord_id, user_id, slot), &sealed) {
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
        let seal_one = |s: &Option<Vec<u8>>, slot| {
            s.as_deref().map(|s| seal(Some(key), landlord.as_deref(), id, slot, s)).transpose()
        };
        let (secret_sealed, pending_sealed) =
            (seal_one(&secret, Slot::InUse)?, seal_one(&pending, Slot::Pending)?);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_secret_copied_into_the_one_in_use_does_not_open_there() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretsKey::open_or_create(&dir.path().join("k")).unwrap();
        let secret = b"twenty-bytes-secret!";
        let pending = seal(Some(&key), Some("north"), 7, Slot::Pending, secret).unwrap();
        let opened = open(Some(&key), Some("north"), 7, Slot::Pending, None, Some(pending.clone())).unwrap();
        assert_eq!(opened.unwrap().as_slice(), secret);
        for (landlord, user, slot) in [
            (Some("north"), 7, Slot::InUse),
            (Some("south"), 7, Slot::Pending),
            (Some("north"), 8, Slot::Pending),
            (None, 7, Slot::Pending),
        ] {
            let moved = open(Some(&key), landlord, user, slot, None, Some(pending.clone()));
            assert!(matches!(moved, Err(TotpSecretError::DoesNotOpen(_))), "{landlord:?} {user} {slot:?}");
        }
        assert!(matches!(
            open(None, Some("north"), 7, Slot::Pending, None, Some(pending)),
            Err(TotpSecretError::NoKey)
        ));
    }
}
