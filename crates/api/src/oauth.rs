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

/// A registered client as listed (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientInfo {
    pub id: i64,
    pub client_id: String,
    pub label: String,
    pub scopes: Vec<String>,
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
}

/// Registers a client of `landlord` (in a landlord admin's tenant transaction).
pub async fn create_client(
    db: &impl GenericClient,
    landlord: &str,
    label: &str,
    scopes: Scopes,
) -> Result<NewClient, ApiKeyError> {
    if label.trim().is_empty() || label.chars().count() > 200 || label.chars().any(char::is_control) {
        return Err(ApiKeyError::BadLabel);
    }
    let client_id = random(CLIENT_PREFIX)?;
    let secret = random(SECRET_PREFIX)?;
    let row = db
        .query_one(
            "INSERT INTO oauth_clients (landlord_id, client_id, secret_hash, label, scopes)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&landlord, &client_id, &hash_key(&secret).as_slice(), &label, &scopes.names()],
        )
        .await?;
    Ok(NewClient { id: row.get(0), client_id, client_secret: secret, scopes: scopes.names() })
}

pub async fn list_clients(db: &impl GenericClient) -> Result<Vec<ClientInfo>, ApiKeyError> {
    let rows = db
        .query(
            "SELECT id, client_id, label, scopes, created_at, last_used_at, revoked_at FROM oauth_clients ORDER BY id",
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
    pub scopes: Scopes,
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
    // The database compares the digests (oauth_client_check, migration 0460): the API's login
    // never reads a client's secret hash.
    let row = db
        .query_opt(
            "SELECT id, landlord_id, can_write FROM oauth_client_check($1, $2)",
            &[&client_id, &hash_key(secret).as_slice()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Err(TokenRefusal::InvalidClient));
    };
    let allowed = Scopes { write: row.get(2) };
    let scopes = match requested.map(Scopes::parse) {
        None => allowed,
        Some(Ok(asked)) if asked.write && !allowed.write => return Ok(Err(TokenRefusal::InvalidScope)),
        Some(Ok(asked)) => asked,
        Some(Err(_)) => return Ok(Err(TokenRefusal::InvalidScope)),
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
                &scopes.names(),
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
