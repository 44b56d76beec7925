//! Browser sessions, kept in PostgreSQL.
//!
//! The browser holds an opaque 256-bit id (in a `__Host-` cookie, see the API); the database
//! holds its SHA-256, so a copy of the table lets nobody in. A session ends at the first of:
//! its absolute lifetime (8 hours by default) from sign-in, an idle gap longer than the idle
//! timeout (30 minutes by default), sign-out, or a change to the user (role, password,
//! disabling: the database ends those sessions itself). Each session has its own CSRF token,
//! also stored hashed, which every state-changing request must echo.
//!
//! Every function takes `now`, so tests can move time forward instead of waiting.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::role::Role;
use crate::token::{new_token, token_hash, token_matches};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionPolicy {
    /// The longest a session lasts from sign-in.
    #[serde(with = "humantime_serde")]
    pub absolute: Duration,
    /// The longest gap between two requests of a session.
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { absolute: Duration::from_secs(8 * 3600), idle: Duration::from_secs(30 * 60) }
    }
}

/// A new session: the values for the browser, shown once.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value.
    pub id: String,
    /// The CSRF token the pages and scripts echo.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session and its user, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: [u8; 32],
    pub user_id: i64,
    pub landlord_id: Option<String>,
    pub role: Role,
    pub mfa_verified: bool,
    csrf_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        token_matches(presented, &self.csrf_hash)
    }

    /// Whether the session may act as its role: signed in with a second factor if the user has
    /// one or the role requires one. Otherwise it may only enrol one.
    pub fn fully_authenticated(&self) -> bool {
        self.mfa_verified
    }
}

/// A session as listed to its user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// A handle for ending this session: the first 16 hex digits of the stored hash (the id
    /// itself is never shown again).
    pub handle: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub source: Option<String>,
    pub user_agent: Option<String>,
    /// Whether it is the session asking.
    pub current: bool,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Starts a session for `user_id`.
pub async fn create(
    client: &impl GenericClient,
    user_id: i64,
    mfa_verified: bool,
    source: Option<&str>,
    user_agent: Option<&str>,
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> Result<NewSession, tokio_postgres::Error> {
    let (id, id_hash) = new_token();
    let (csrf_token, csrf_hash) = new_token();
    let expires_at = now + chrono(policy.absolute);
    let user_agent = user_agent.map(|ua| ua.chars().take(256).collect::<String>());
    client
        .execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_hash, mfa_verified, created_at, last_seen_at,
                                   expires_at, source, user_agent)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)",
            &[
                &&id_hash[..],
                &user_id,
                &&csrf_hash[..],
                &mfa_verified,
                &now,
                &expires_at,
                &source,
                &user_agent,
            ],
        )
        .await?;
    Ok(NewSession { id, csrf_token, expires_at })
}

/// How stale a session's last-seen time may get before a request records its own: a page
/// view then only reads the session, and the idle timeout counts from a last-seen time at
/// most this old (a session may end that much before a full idle gap). At most a thirtieth of
/// the idle timeout, so a short timeout stays close to exact.
const LAST_SEEN_GRANULARITY: Duration = Duration::from_secs(60);

/// The live session with cookie value `id` at `now`, its last-seen time moved to `now` if it
/// was older than the granularity above. An expired or idle one is deleted and not returned;
/// so is one of a disabled user.
pub async fn find(
    client: &impl GenericClient,
    id: &str,
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> Result<Option<Session>, tokio_postgres::Error> {
    if id.is_empty() || id.len() > 64 {
        return Ok(None);
    }
    let id_hash = token_hash(id);
    let idle_since = now - chrono(policy.idle);
    let row = client
        .query_opt(
            "SELECT s.user_id, u.landlord_id, u.role, s.mfa_verified, s.csrf_hash, s.created_at, s.expires_at,
                    s.last_seen_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND u.disabled_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3",
            &[&&id_hash[..], &now, &idle_since],
        )
        .await?;
    let Some(row) = row else {
        // Gone, expired, idle or its user disabled: make sure nothing of it is left.
        client.execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]]).await?;
        return Ok(None);
    };
    let granularity = LAST_SEEN_GRANULARITY.min(policy.idle / 30);
    let last_seen: DateTime<Utc> = row.get(7);
    if last_seen <= now - chrono(granularity) {
        client
            .execute(
                "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2",
                &[&&id_hash[..], &now],
            )
            .await?;
    }
    let Ok(role) = row.get::<_, String>(2).parse::<Role>() else {
        return Ok(None);
    };
    Ok(Some(Session {
        id_hash,
        user_id: row.get(0),
        landlord_id: row.get(1),
        role,
        mfa_verified: row.get(3),
        csrf_hash: row.get(4),
        created_at: row.get(5),
        expires_at: row.get(6),
    }))
}

/// Ends one session (sign out here).
pub async fn end(client: &impl GenericClient, id_hash: &[u8; 32]) -> Result<bool, tokio_postgres::Error> {
    Ok(client.execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]]).await? > 0)
}

/// Ends the user's session whose handle is `handle` (from [`list`]).
pub async fn end_by_handle(
    client: &impl GenericClient,
    user_id: i64,
    handle: &str,
) -> Result<bool, tokio_postgres::Error> {
    if handle.len() != 16 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let n = client
        .execute(
            "DELETE FROM sessions WHERE user_id = $1 AND substr(encode(id_hash, 'hex'), 1, 16) = lower($2)",
            &[&user_id, &handle],
        )
        .await?;
    Ok(n > 0)
}

/// Ends every session of the user (sign out everywhere); how many there were.
pub async fn end_all(client: &impl GenericClient, user_id: i64) -> Result<u64, tokio_postgres::Error> {
    client.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id]).await
}

/// The user's live sessions, newest first; `current` marks the one asking.
pub async fn list(
    client: &impl GenericClient,
    user_id: i64,
    current: &[u8; 32],
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> Result<Vec<SessionInfo>, tokio_postgres::Error> {
    let idle_since = now - chrono(policy.idle);
    let rows = client
        .query(
            "SELECT id_hash, created_at, last_seen_at, expires_at, source, user_agent FROM sessions
             WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3 ORDER BY created_at DESC",
            &[&user_id, &now, &idle_since],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let hash: Vec<u8> = r.get(0);
            SessionInfo {
                handle: hex::encode(&hash[..8]),
                current: hash == current[..],
                created_at: r.get(1),
                last_seen_at: r.get(2),
                expires_at: r.get(3),
                source: r.get(4),
                user_agent: r.get(5),
            }
        })
        .collect())
}

/// Deletes every session past its end at `now`; how many. Run periodically so the table holds
/// only live sessions.
pub async fn sweep(
    client: &impl GenericClient,
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> Result<u64, tokio_postgres::Error> {
    let idle_since = now - chrono(policy.idle);
    client
        .execute("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2", &[&now, &idle_since])
        .await
}
