//! Per-landlord API keys. A key is `dwk_` followed by 43 base64url characters (256 random
//! bits); only its SHA-256 hash is stored, so a copy of the database does not hold usable
//! keys. A presented key is looked up by the hash of whatever was sent: nothing is compared
//! character by character, so response times say nothing about how close a guess was.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use tokio_postgres::GenericClient;

/// Prefix of every key, so a leaked key is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "dwk_";
/// Characters of a key kept in clear for listings (the prefix and 6 more).
const SHOWN_CHARS: usize = KEY_PREFIX.len() + 6;
/// Longest bearer token even looked up; anything longer is refused at once. (Length is not
/// secret: every valid key has the same length.)
pub const MAX_PRESENTED_LEN: usize = 256;
/// Longest label.
const MAX_LABEL_LEN: usize = 200;

/// Why a key could not be made, listed or revoked.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("no landlord {0:?}")]
    UnknownLandlord(String),
    #[error("the label must be 1 to {MAX_LABEL_LEN} characters without control characters")]
    BadLabel,
    #[error("no API key {0}")]
    UnknownKey(i64),
    #[error("unknown scope {0:?}: scopes are read and write")]
    BadScope(String),
    #[error(
        "the recipient must be 1 to {MAX_LABEL_LEN} characters without control characters or surrounding spaces, \
         as the tenants' consents name it"
    )]
    BadRecipient,
    #[error("a key must expire within {} days", MAX_KEY_LIFETIME_DAYS)]
    BadExpiry,
    #[error("the system random number generator failed")]
    Random,
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
}

/// A stored key as an operator sees it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    pub id: i64,
    pub landlord_id: String,
    pub label: String,
    /// The key's first characters (`dwk_` and 6 more).
    pub prefix: String,
    /// read, or read and write.
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working (None only for keys made before keys expired).
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a key or an OAuth client may do: `read` (every permission that only reads, except the
/// audit log) and `write` (triage, case events, works and assignment as well).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    pub write: bool,
}

impl Scopes {
    pub const READ: Scopes = Scopes { write: false };
    pub const READ_WRITE: Scopes = Scopes { write: true };

    /// Scopes from names separated by spaces or commas (`"read write"`, OAuth's form).
    pub fn parse(text: &str) -> Result<Self, ApiKeyError> {
        let mut write = false;
        for name in text.split([' ', ',']).filter(|s| !s.is_empty()) {
            match name {
                "read" => {}
                "write" => write = true,
                other => return Err(ApiKeyError::BadScope(other.to_owned())),
            }
        }
        Ok(Scopes { write })
    }

    /// The stored names.
    pub fn names(self) -> Vec<String> {
        if self.write {
            vec!["read".into(), "write".into()]
        } else {
            vec!["read".into()]
        }
    }
}

/// Longest a key may live; a new key's default lifetime.
pub const MAX_KEY_LIFETIME_DAYS: i64 = 365;
pub const DEFAULT_KEY_LIFETIME_DAYS: i64 = 90;

/// A key to make.
#[derive(Debug, Clone)]
pub struct KeySpec<'a> {
    pub landlord: &'a str,
    pub label: &'a str,
    pub scopes: Scopes,
    /// Days from now until it stops working (1 to [`MAX_KEY_LIFETIME_DAYS`]).
    pub lifetime_days: i64,
}

/// How a bearer token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A long-lived API key (`dwk_…`).
    ApiKey,
    /// A short-lived token an OAuth client obtained (`dwt_…`); the id is the client's.
    OAuthToken,
}

/// The caller a valid key identifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub key_id: i64,
    pub landlord_id: String,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whether the key has the `write` scope (every key may read).
    pub write: bool,
    /// When the key stops working (None: keys made before keys expired).
    pub expires_at: Option<DateTime<Utc>>,
    pub credential: Credential,
    /// A third party's token (scope `share`): the recipient it fetches shares for. Such a
    /// caller may do nothing else.
    pub share_recipient: Option<String>,
}

/// SHA-256 of a presented key.
pub fn hash_key(key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key.as_bytes()).as_ref());
    out
}

fn generate_key() -> Result<String, ApiKeyError> {
    let mut secret = [0u8; 32];
    SystemRandom::new().fill(&mut secret).map_err(|_| ApiKeyError::Random)?;
    Ok(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret)))
}

pub(crate) fn valid_label(label: &str) -> bool {
    !label.trim().is_empty() && label.chars().count() <= MAX_LABEL_LEN && !label.chars().any(char::is_control)
}

/// Creates a read-and-write key for `landlord` with the default lifetime and returns it.
pub async fn create_api_key(
    db: &impl GenericClient,
    landlord: &str,
    label: &str,
) -> Result<String, ApiKeyError> {
    let spec =
        KeySpec { landlord, label, scopes: Scopes::READ_WRITE, lifetime_days: DEFAULT_KEY_LIFETIME_DAYS };
    create_key(db, &spec).await
}

/// Creates a key and returns it. This is the only time the key exists outside the caller: only
/// its hash is stored. Works as the service role and in a landlord admin's tenant transaction.
pub async fn create_key(db: &impl GenericClient, spec: &KeySpec<'_>) -> Result<String, ApiKeyError> {
    if !valid_label(spec.label) {
        return Err(ApiKeyError::BadLabel);
    }
    if !(1..=MAX_KEY_LIFETIME_DAYS).contains(&spec.lifetime_days) {
        return Err(ApiKeyError::BadExpiry);
    }
    let known = db.query_opt("SELECT 1 FROM landlords WHERE id = $1", &[&spec.landlord]).await?;
    if known.is_none() {
        return Err(ApiKeyError::UnknownLandlord(spec.landlord.to_owned()));
    }
    let key = generate_key()?;
    let hash = hash_key(&key);
    let prefix: String = key.chars().take(SHOWN_CHARS).collect();
    let expires_at = Utc::now() + chrono::Duration::days(spec.lifetime_days);
    db.execute(
        "INSERT INTO api_keys (landlord_id, label, key_hash, prefix, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&spec.landlord, &spec.label, &hash.as_slice(), &prefix, &spec.scopes.names(), &expires_at],
    )
    .await?;
    Ok(key)
}

/// Every key, or those of one landlord, oldest first.
pub async fn list_api_keys(
    db: &impl GenericClient,
    landlord: Option<&str>,
) -> Result<Vec<ApiKeyInfo>, ApiKeyError> {
    let rows = db
        .query(
            "SELECT id, landlord_id, label, prefix, created_at, last_used_at, revoked_at, scopes, expires_at
             FROM api_keys WHERE $1::text IS NULL OR landlord_id = $1 ORDER BY id",
            &[&landlord],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ApiKeyInfo {
            id: r.get(0),
            landlord_id: r.get(1),
            label: r.get(2),
            prefix: r.get(3),
            created_at: r.get(4),
            last_used_at: r.get(5),
            revoked_at: r.get(6),
            scopes: r.get(7),
            expires_at: r.get(8),
        })
        .collect())
}

/// Revokes a key (kept for the record, never accepted again). Revoking twice is harmless.
pub async fn revoke_api_key(db: &impl GenericClient, id: i64) -> Result<(), ApiKeyError> {
    let n = db
        .execute("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", &[&id])
        .await?;
    if n == 0 {
        return Err(ApiKeyError::UnknownKey(id));
    }
    Ok(())
}

/// The owner of a presented key, if it is a valid, unrevoked key. Must run as the service's
/// own role (the tenant role cannot read `api_keys`).
pub async fn find_key_owner(
    db: &impl GenericClient,
    presented: &str,
) -> Result<Option<KeyOwner>, tokio_postgres::Error> {
    if presented.is_empty() || presented.len() > MAX_PRESENTED_LEN {
        return Ok(None);
    }
    let hash = hash_key(presented);
    // An OAuth token is looked up among tokens, anything else among keys; both by hash, each
    // through a function that returns the one row presented (migrations 0460 and 0466).
    let (sql, credential) = if presented.starts_with(crate::oauth::TOKEN_PREFIX) {
        ("SELECT * FROM oauth_token_holder($1)", Credential::OAuthToken)
    } else {
        ("SELECT * FROM api_key_owner($1)", Credential::ApiKey)
    };
    let row = db.query_opt(sql, &[&hash.as_slice()]).await?;
    Ok(row.map(|r| KeyOwner {
        key_id: r.get(0),
        landlord_id: r.get(1),
        last_used_at: r.get(2),
        write: r.get(3),
        expires_at: r.get(4),
        credential,
        share_recipient: match credential {
            Credential::OAuthToken => r.get(5),
            Credential::ApiKey => None,
        },
    }))
}

/// Notes that the key (or the OAuth client of the token) whose hash is `hash` was used, at
/// most once every few minutes per key (so reads do not turn into a write per request).
pub async fn touch_key(
    db: &impl GenericClient,
    hash: &[u8; 32],
    owner: &KeyOwner,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    let stale = owner.last_used_at.is_none_or(|t| now - t > chrono::Duration::minutes(5));
    if stale {
        db.execute("SELECT credential_used($1, $2)", &[&hash.as_slice(), &now]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_of_fixed_length() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert!(a.len() <= MAX_PRESENTED_LEN);
    }

    #[test]
    fn the_hash_is_sha256_of_the_whole_key() {
        assert_eq!(
            hex::encode(hash_key("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn labels_must_be_printable_and_not_blank() {
        assert!(valid_label("Housing officers' dashboard"));
        assert!(!valid_label("  "));
        assert!(!valid_label("a\nb"));
        assert!(!valid_label(&"x".repeat(201)));
    }
}
