//! Who is asking: the bearer key resolved to its landlord before the request may spend anything
//! on the caller (a database connection of the tenant pool, a body read, handler time).
//!
//! Keys resolve from [`KeyCache`] when they can; otherwise on the key-lookup pool, a few
//! connections of their own with a bounded wait, so request handlers holding the tenant pool
//! cannot stop anyone from authenticating, and a flood of bad keys cannot take connections
//! the handlers need. The lookup runs as the service's own role (the tenant role cannot read
//! `api_keys`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use chrono::Utc;
use deadpool_postgres::Pool;

use dampwatch_accounts::{Permission, Session};

use crate::key_cache::{Cached, KeyCache};
use crate::keys::{find_key_owner, hash_key, touch_key, Credential, KeyOwner, MAX_PRESENTED_LEN};
use crate::problem::ApiError;
use crate::stats::ApiStats;

/// Most keys remembered at once. Valid keys are few (a handful per landlord); the rest are
/// remembered guesses, and losing those costs only a lookup.
pub const KEY_CACHE_CAPACITY: usize = 10_000;

/// An authenticated caller: a landlord's system with an API key, or a person with a session.
/// Put in the request's extensions by the authentication middleware, read by
/// [`crate::tenant::Tenant`] and the handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The landlord whose rows the request may reach; None for a platform operator.
    pub landlord_id: Option<String>,
    pub principal: Principal,
}

/// Who is behind a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An API key, or an OAuth client's token (then `id` is the client's).
    Key {
        id: i64,
        write: bool,
        expires_at: Option<chrono::DateTime<Utc>>,
        credential: Credential,
        /// A third party's OAuth token: the recipient it fetches shares for; it may do nothing
        /// else.
        share_recipient: Option<String>,
    },
    Person(Box<Session>),
}

impl Caller {
    /// Whether the caller may do `permission`. Keys: reading with any key, changing cases with
    /// the `write` scope, never managing people, keys or the platform; a third party's token
    /// nothing (it only fetches shares, [`Caller::share_recipient`]). People: their role.
    pub fn allows(&self, permission: Permission) -> bool {
        match &self.principal {
            Principal::Key { share_recipient: Some(_), .. } => false,
            Principal::Key { write, .. } => {
                permission.is_read() && permission != Permission::ReadAuditLog
                    || *write
                        && matches!(
                            permission,
                            Permission::TriageAlerts
                                | Permission::RecordCaseEvents
                                | Permission::RecordWorks
                                | Permission::AssignCases
                        )
            }
            Principal::Person(session) => session.fully_authenticated() && session.role.allows(permission),
        }
    }

    /// How changes by this caller are attributed: `key:7`, `user:12`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::Key { id, credential: Credential::ApiKey, .. } => format!("key:{id}"),
            Principal::Key { id, credential: Credential::OAuthToken, .. } => format!("client:{id}"),
            Principal::Person(session) => format!("user:{}", session.user_id),
        }
    }

    /// The recipient a third party's token fetches shares for, if the caller is one.
    pub fn share_recipient(&self) -> Option<&str> {
        match &self.principal {
            Principal::Key { share_recipient, .. } => share_recipient.as_deref(),
            Principal::Person(_) => None,
        }
    }

    /// The person's session, if the caller is one.
    pub fn session(&self) -> Option<&Session> {
        match &self.principal {
            Principal::Person(session) => Some(session),
            Principal::Key { .. } => None,
        }
    }

    /// The rate-limit bucket: one per key, one per person.
    pub fn bucket(&self) -> Bucket {
        match &self.principal {
            Principal::Key { id, credential: Credential::ApiKey, .. } => Bucket::Key(*id),
            Principal::Key { id, credential: Credential::OAuthToken, .. } => Bucket::Client(*id),
            Principal::Person(session) => Bucket::User(session.user_id),
        }
    }
}

/// A per-caller rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Key(i64),
    Client(i64),
    User(i64),
}

impl From<&KeyOwner> for Caller {
    fn from(owner: &KeyOwner) -> Self {
        Caller {
            landlord_id: Some(owner.landlord_id.clone()),
            principal: Principal::Key {
                id: owner.key_id,
                write: owner.write,
                expires_at: owner.expires_at,
                credential: owner.credential,
                share_recipient: owner.share_recipient.clone(),
            },
        }
    }
}

/// The key in an `Authorization: Bearer <key>` header; `None` when there is no such header.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::InvalidKey)?;
    let (scheme, key) = text.split_once(' ').ok_or(ApiError::InvalidKey)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidKey);
    }
    Ok(Some(key.trim()))
}

/// Whether a remembered key has expired since it was looked up (the cache must not stretch a
/// key's life).
fn expired(owner: &KeyOwner) -> bool {
    owner.expires_at.is_some_and(|t| t <= Utc::now())
}

/// Resolves presented keys: the cache, then the key-lookup pool.
pub struct KeyDirectory {
    cache: KeyCache,
    pool: Pool,
    timeout: Duration,
    stats: Arc<ApiStats>,
}

impl KeyDirectory {
    /// Keys looked up on `pool` (waiting at most `timeout`) and remembered for `ttl`.
    pub fn new(pool: Pool, ttl: Duration, timeout: Duration, stats: Arc<ApiStats>) -> Self {
        KeyDirectory { cache: KeyCache::new(ttl, KEY_CACHE_CAPACITY), pool, timeout, stats }
    }

    /// The key-lookup pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The caller, when `presented` is a key remembered as valid; nothing else is spent.
    pub fn cached(&self, presented: &str) -> Option<Caller> {
        let hash = hash_key(presented);
        match self.cache.get(&hash, Instant::now()) {
            Cached::Valid(owner) if !expired(&owner) => {
                self.stats.key_cache_hit();
                self.note_use(&hash, &owner);
                Some(Caller::from(&owner))
            }
            Cached::Valid(_) | Cached::Invalid | Cached::Unknown => None,
        }
    }

    /// The caller `presented` identifies, from the cache or else the database; a key that is
    /// malformed, unknown or revoked is [`ApiError::InvalidKey`].
    pub async fn resolve(&self, presented: &str) -> Result<Caller, ApiError> {
        if presented.is_empty() || presented.len() > MAX_PRESENTED_LEN {
            return Err(ApiError::InvalidKey);
        }
        let hash = hash_key(presented);
        match self.cache.get(&hash, Instant::now()) {
            Cached::Valid(owner) if !expired(&owner) => {
                self.stats.key_cache_hit();
                self.note_use(&hash, &owner);
                return Ok(Caller::from(&owner));
            }
            Cached::Valid(_) | Cached::Invalid => {
                self.stats.key_cache_hit();
                return Err(ApiError::InvalidKey);
            }
            Cached::Unknown => {}
        }
        self.stats.key_lookup();
        let owner = match tokio::time::timeout(self.timeout, self.look_up(presented)).await {
            Ok(Ok(owner)) => owner,
            Ok(Err(e)) => {
                if matches!(e, ApiError::Unavailable(_)) {
                    self.stats.key_lookup_unavailable();
                }
                return Err(e);
            }
            Err(_) => {
                self.stats.key_lookup_unavailable();
                return Err(ApiError::Unavailable(format!("key lookup took longer than {:?}", self.timeout)));
            }
        };
        // Remembered from when the answer arrived: the TTL bounds how long after this moment
        // a revocation can go unnoticed.
        self.cache.put(hash, owner.clone(), Instant::now());
        let owner = owner.ok_or(ApiError::InvalidKey)?;
        self.note_use(&hash, &owner);
        Ok(Caller::from(&owner))
    }

    async fn look_up(&self, presented: &str) -> Result<Option<KeyOwner>, ApiError> {
        let client = self.pool.get().await?;
        Ok(find_key_owner(&**client, presented).await?)
    }

    /// Records the key's use in `api_keys.last_used_at` when the record is stale, in the
    /// background (the request does not wait for a write), at most once per staleness period.
    fn note_use(&self, hash: &[u8; 32], owner: &KeyOwner) {
        let now = Utc::now();
        let stale = owner.last_used_at.is_none_or(|t| now - t > chrono::Duration::minutes(5));
        if !stale {
            return;
        }
        self.cache.mark_used(hash, now);
        let pool = self.pool.clone();
        let owner = owner.clone();
        let hash = *hash;
        tokio::spawn(async move {
            let touched = match pool.get().await {
                Ok(client) => touch_key(&**client, &hash, &owner, now).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = touched {
                tracing::warn!(key_id = owner.key_id, error = %e, "cannot record an API key's use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_keys_are_read_case_insensitively() {
        assert_eq!(bearer(&headers("Bearer dwk_x")).unwrap(), Some("dwk_x"));
        assert_eq!(bearer(&headers("bearer dwk_x")).unwrap(), Some("dwk_x"));
        assert_eq!(bearer(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn other_schemes_are_invalid_keys() {
        assert!(matches!(bearer(&headers("Basic dXNlcjpwYXNz")), Err(ApiError::InvalidKey)));
        assert!(matches!(bearer(&headers("dwk_x")), Err(ApiError::InvalidKey)));
    }
}
