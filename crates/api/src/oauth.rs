//! OAuth 2.0 client credentials (RFC 6749 §4.4) for landlords' housing-management systems.
//!
//! A landlord admin registers a client (`dwc_…` id and a secret shown once, stored as its
//! SHA-256); the client exchanges them at `POST /oauth/token` for a bearer token (`dwt_…`,
//! 256 random bits, stored hashed) that lasts [`TOKEN_LIFETIME`] and carries the client's
//! landlord and (at most) its scopes. The token is then presented like an API key. Revoking the
//! client voids its tokens (the database does it).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use tokio_postgres::GenericClient;
use utoipa::ToSchema;

use crate::keys::{hash_key, ApiKeyError, Scopes};

/// Prefix of a client id.
pub const CLIENT_PREFIX: &str = "dwc_";
/// Prefix of a client secret.
pub const SECRET_PREFIX: &str = "dwcs_";
/// Prefix of an access token.
pub const TOKEN_PREFIX: &str = "dwt_";
/// How long an access token lasts: short, so a leaked token is soon worthless; a client simply
/// asks for another.
pub const TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(15);

fn random(prefix: &str) -> Result<String, ApiKeyError> {
    let mut raw = [0u8; 32];
    SystemRandom::new().fill(&mut raw).map_err(|_| ApiKeyError::Random)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// What a client is for: a landlord's own system, with [`Scopes`], or a third party's (an
/// insurer, say), which may only fetch tenancies' shares under a consent naming its recipient
/// (scope `share`, `GET /v1/tenancies/{id}/share`) and read nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientGrant<'a> {
    System(Scopes),
    Share { recipient: &'a str },
}

/// The scope a third party's client holds, alone.
pub const SHARE_SCOPE: &str = "share";

impl ClientGrant<'_> {
    /// The stored scope names.
    pub fn names(self) -> Vec<String> {
        match self {
            ClientGrant::System(scopes) => scopes.names(),
            ClientGrant::Share { .. } => vec![SHARE_SCOPE.to_owned()],
        }
    }

    fn recipient(self) -> Option<String> {
        match self {
            ClientGrant::System(_) => None,
            ClientGrant::Share { recipient } => Some(recipient.to_owned()),
        }
    }
}

/// A registered client as listed (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientInfo {
    pub id: i64,
    pub client_id: String,
    pub label: String,
    pub scopes: Vec<String>,
    /// A third party's client: the recipient it fetches shares for, as consents name it.
    pub recipient: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new client's credentials, shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NewClient {
    pub id: i64,
    pub client_id: String,
    /// Shown this once: only its hash is kept.
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub recipient: Option<String>,
}

/// Registers a client of `landlord` (in a landlord admin's tenant transaction).
pub async fn create_client(
    db: &impl GenericClient,
    landlord: &str,
    label: &str,
    grant: ClientGrant<'_>,
) -> Result<NewClient, ApiKeyError> {
    if !crate::keys::valid_label(label) {
        return Err(ApiKeyError::BadLabel);
    }
    if let ClientGrant::Share { recipient } = grant {
        // Matched exactly against consents' recipients: no padding that would never match.
        if !crate::keys::valid_label(recipient) || recipient.trim() != recipient {
            return Err(ApiKeyError::BadRecipient);
        }
    }
    let client_id = random(CLIENT_PREFIX)?;
    let secret = random(SECRET_PREFIX)?;
    let row = db
        .query_one(
            "INSERT INTO oauth_clients (landlord_id, client_id, secret_hash, label, scopes, recipient)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &landlord,
                &client_id,
                &hash_key(&secret).as_slice(),
                &label,
                &grant.names(),
                &grant.recipient(),
            ],
        )
        .await?;
    Ok(NewClient {
        id: row.get(0),
        client_id,
        client_secret: secret,
        scopes: grant.names(),
        recipient: grant.recipient(),
    })
}

pub async fn list_clients(db: &impl GenericClient) -> Result<Vec<ClientInfo>, ApiKeyError> {
    let rows = db
        .query(
            "SELECT id, client_id, label, scopes, created_at, last_used_at, revoked_at, recipient
             FROM oauth_clients ORDER BY id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ClientInfo {
            id: r.get(0),
            client_id: r.get(1),
            label: r.get(2),
            scopes: r.get(3),
            created_at: r.get(4),
            last_used_at: r.get(5),
            revoked_at: r.get(6),
            recipient: r.get(7),
        })
        .collect())
}

/// Revokes a client and (by the database's trigger) its tokens; false when there is no such
/// client (in this transaction's view).
pub async fn revoke_client(db: &impl GenericClient, id: i64) -> Result<bool, ApiKeyError> {
    let n = db
        .execute("UPDATE oauth_clients SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", &[&id])
        .await?;
    Ok(n > 0)
}

/// Why a token request was refused: the RFC 6749 §5.2 error codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    InvalidRequest(String),
    InvalidClient,
    InvalidScope,
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    /// The scope names granted.
    pub scopes: Vec<String>,
    pub client: i64,
    pub landlord_id: String,
}

/// Authenticates the client and issues a token with `requested` scopes (None: all of the
/// client's). Runs as the service role.
pub async fn issue_token(
    db: &impl GenericClient,
    client_id: &str,
    secret: &str,
    requested: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<Issued, TokenRefusal>, tokio_postgres::Error> {
    if client_id.len() > 128 || secret.len() > 128 {
        return Ok(Err(TokenRefusal::InvalidClient));
    }
    // The database compares the digests (oauth_client_scopes, migration 0466): the API's login
    // never reads a client's secret hash.
    let row = db
        .query_opt(
            "SELECT id, landlord_id, scopes FROM oauth_client_scopes($1, $2)",
            &[&client_id, &hash_key(secret).as_slice()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Err(TokenRefusal::InvalidClient));
    };
    let held: Vec<String> = row.get(2);
    let Some(scopes) = granted(&held, requested) else {
        return Ok(Err(TokenRefusal::InvalidScope));
    };
    let Ok(token) = random(TOKEN_PREFIX) else {
        return Ok(Err(TokenRefusal::InvalidRequest("the random number generator failed".into())));
    };
    // Written by the database, which checks the client and its scopes again, stamps its use
    // and drops expired tokens (oauth_token_issue): the API's login has no privilege on
    // oauth_tokens itself.
    let issued = db
        .query_opt(
            "SELECT client, landlord_id FROM oauth_token_issue($1, $2, $3, $4, $5, $6, $7)",
            &[
                &client_id,
                &hash_key(secret).as_slice(),
                &hash_key(&token).as_slice(),
                &scopes,
                &now,
                &(now + TOKEN_LIFETIME),
                &(now - TOKEN_LIFETIME),
            ],
        )
        .await?;
    let Some(issued) = issued else {
        // Revoked between the check and the issue.
        return Ok(Err(TokenRefusal::InvalidClient));
    };
    let (client, landlord_id): (i64, String) = (issued.get(0), issued.get(1));
    Ok(Ok(Issued { token, scopes, client, landlord_id }))
}

/// The scope names a token gets from a client holding `held` that asked for `requested` (None:
/// all it holds); None when it asked for more, or for something else. A third party's client
/// holds `share` alone and gets only that; a landlord's system gets `read`, with `write` if it
/// holds it and asked.
fn granted(held: &[String], requested: Option<&str>) -> Option<Vec<String>> {
    if held == [SHARE_SCOPE] {
        return match requested.map(str::trim) {
            None | Some(SHARE_SCOPE) => Some(held.to_vec()),
            Some(_) => None,
        };
    }
    let allowed = Scopes { write: held.iter().any(|s| s == "write") };
    match requested.map(Scopes::parse) {
        None => Some(allowed.names()),
        Some(Ok(asked)) if asked.write && !allowed.write => None,
        Some(Ok(asked)) => Some(asked.names()),
        Some(Err(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_third_partys_client_is_granted_share_alone() {
        let share = held(&["share"]);
        assert_eq!(granted(&share, None), Some(share.clone()));
        assert_eq!(granted(&share, Some("share")), Some(share.clone()));
        assert_eq!(granted(&share, Some("read")), None);
        assert_eq!(granted(&share, Some("share read")), None);
    }

    #[test]
    fn a_landlords_system_is_granted_within_its_scopes_and_never_share() {
        let read = held(&["read"]);
        let both = held(&["read", "write"]);
        assert_eq!(granted(&read, None), Some(read.clone()));
        assert_eq!(granted(&read, Some("read write")), None);
        assert_eq!(granted(&both, Some("read")), Some(read.clone()));
        assert_eq!(granted(&both, None), Some(both.clone()));
        assert_eq!(granted(&both, Some("share")), None);
    }
}
