//! Authentication and the tenant transaction.
//!
//! [`Tenant`] is the extractor every `/v1` handler takes first: it reads the bearer key, finds
//! its landlord (as the service's own role: the tenant role cannot read `api_keys`), and holds
//! a pooled connection. Handlers reach the database only through [`Tenant::transaction`],
//! which switches the transaction to the `dampwatch_api_tenant` role and names the landlord
//! in `dampwatch.landlord`; from then on PostgreSQL's row-level security shows and accepts
//! only that landlord's rows. Both settings are transaction-local, so a connection goes back
//! to the pool as it came.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use chrono::Utc;
use deadpool_postgres::{Object, Transaction};

use crate::keys::{find_key_owner, touch_key};
use crate::problem::ApiError;
use crate::state::ApiState;

/// The database role requests run as (created by this crate's migration).
pub const TENANT_ROLE: &str = "dampwatch_api_tenant";
/// The transaction setting the row-level security policies read.
pub const LANDLORD_SETTING: &str = "dampwatch.landlord";

/// An authenticated caller with a database connection.
pub struct Tenant {
    landlord_id: String,
    key_id: i64,
    client: Object,
    statement_timeout: Duration,
}

impl Tenant {
    /// The landlord the key belongs to.
    pub fn landlord_id(&self) -> &str {
        &self.landlord_id
    }

    /// The key's id (recorded with every change made through it).
    pub fn key_id(&self) -> i64 {
        self.key_id
    }

    /// A transaction confined to this landlord's rows.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, ApiError> {
        let timeout = format!("{}ms", self.statement_timeout.as_millis().max(1));
        let tx = self.client.transaction().await?;
        // set_config(.., true) is SET LOCAL: undone at commit or rollback, so nothing of it
        // outlives the request on the pooled connection. Switching the role this way checks
        // membership like SET ROLE does.
        tx.execute(
            "SELECT set_config('dampwatch.landlord', $1, true), set_config('statement_timeout', $2, true),
                    set_config('role', 'dampwatch_api_tenant', true)",
            &[&self.landlord_id, &timeout],
        )
        .await?;
        Ok(tx)
    }
}

/// The key in an `Authorization: Bearer <key>` header; `None` when there is no such header.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
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

impl FromRequestParts<ApiState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let key = bearer(&parts.headers)?.ok_or(ApiError::MissingCredentials)?;
        let client = state.pool.get().await?;
        let owner = find_key_owner(&**client, key).await?.ok_or(ApiError::InvalidKey)?;
        touch_key(&**client, &owner, Utc::now()).await?;
        Ok(Tenant {
            landlord_id: owner.landlord_id,
            key_id: owner.key_id,
            client,
            statement_timeout: state.config.request_timeout,
        })
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
