//! Endpoints' signing secrets at rest (migration 0461): sealed under the secrets key
//! ([`dampwatch_privacy::SecretsKey`]), bound to the endpoint's landlord and row, so the table
//! alone signs nothing. The sender opens a secret only for the one request it signs.

use dampwatch_privacy::seal::Place;
use dampwatch_privacy::{PrivacyError, SecretsKey};
use tokio_postgres::GenericClient;
use zeroize::Zeroizing;

/// Where the collector keeps the secrets key, relative to its PKI directory.
pub use dampwatch_privacy::secrets_key::KEY_FILE;

fn place(landlord_id: &str, endpoint_id: i64) -> Place<'_> {
    Place { landlord_id, table: "webhook_endpoints", column: "secret_sealed", row_id: endpoint_id }
}

/// `secret` of endpoint `endpoint_id` of `landlord_id`, sealed.
pub fn seal(
    key: &SecretsKey,
    landlord_id: &str,
    endpoint_id: i64,
    secret: &str,
) -> Result<Vec<u8>, PrivacyError> {
    key.seal(&place(landlord_id, endpoint_id), secret.as_bytes())
}

/// An endpoint's stored secret, in whichever form its row holds it.
#[derive(Clone)]
pub enum StoredSecret {
    Sealed(Vec<u8>),
    /// Written before secrets were sealed; sealed at the sender's next start.
    Clear(String),
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoredSecret::Sealed(_) => "Sealed(..)",
            StoredSecret::Clear(_) => "Clear(..)",
        })
    }
}

impl StoredSecret {
    /// From a row's `secret` and `secret_sealed` (exactly one is set, by constraint).
    pub fn from_columns(clear: Option<String>, sealed: Option<Vec<u8>>) -> Option<StoredSecret> {
        sealed.map(StoredSecret::Sealed).or(clear.map(StoredSecret::Clear))
    }

    /// The secret's bytes, wiped when dropped.
    pub fn open(
        &self,
        key: Option<&SecretsKey>,
        landlord_id: &str,
        endpoint_id: i64,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        match self {
            StoredSecret::Clear(text) => Ok(Zeroizing::new(text.as_bytes().to_vec())),
            StoredSecret::Sealed(sealed) => {
                let key =
                    key.ok_or("the secret is sealed and no [alerts.webhooks] secrets_key is configured")?;
                key.open_sealed(&place(landlord_id, endpoint_id), sealed).map_err(|e| match e {
                    PrivacyError::DoesNotOpen(_) => format!(
                        "the secret does not open with the secrets key {} (another installation's key, or a row \
                         copied from another endpoint)",
                        key.id()
                    ),
                    other => other.to_string(),
                })
            }
        }
    }
}

/// Seals every secret still stored in clear; returns how many. Each row is sealed and cleared
/// in one statement, and only if it still holds the secret that was sealed.
pub async fn seal_clear_secrets(
    db: &impl GenericClient,
    key: &SecretsKey,
) -> Result<u64, crate::AlertsError> {
    let rows = db
        .query(
            "SELECT id, landlord_id, secret FROM webhook_endpoints WHERE secret IS NOT NULL ORDER BY id",
            &[],
        )
        .await?;
    let mut sealed = 0;
    for row in rows {
        let (id, landlord, secret): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
        let value =
            seal(key, &landlord, id, &secret).map_err(|e| crate::AlertsError::Secret(e.to_string()))?;
        sealed += db
            .execute(
                "UPDATE webhook_endpoints SET secret = NULL, secret_sealed = $2 WHERE id = $1 AND secret = $3",
                &[&id, &value, &secret],
            )
            .await?;
    }
    Ok(sealed)
}
