//! The tenant transaction.
//!
//! [`Tenant`] is the extractor every `/v1` handler takes first: the caller the authentication
//! middleware resolved ([`crate::guard`]), and the way to the database. It holds no connection
//! until [`Tenant::transaction`] is called, after the body has been read: the connection comes
//! from the tenant pool then, and the transaction is switched to the `dampwatch_api_tenant`
//! role with the landlord in `dampwatch.landlord`; from then on PostgreSQL's row-level
//! security shows and accepts only that landlord's rows. Both settings are transaction-local,
//! so a connection goes back to the pool as it came.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use deadpool_postgres::{Object, Pool, Transaction};

use crate::caller::Caller;
use crate::problem::ApiError;
use crate::state::ApiState;

/// The database role requests run as (created by this crate's migration).
pub const TENANT_ROLE: &str = "dampwatch_api_tenant";
/// The transaction setting the row-level security policies read.
pub const LANDLORD_SETTING: &str = "dampwatch.landlord";

/// An authenticated caller, and its database connection once it needs one.
pub struct Tenant {
    caller: Caller,
    pool: Pool,
    client: Option<Object>,
    statement_timeout: Duration,
}

impl Tenant {
    /// The landlord the caller belongs to ("" for a platform operator, whose transactions
    /// see no landlord's rows).
    pub fn landlord_id(&self) -> &str {
        self.caller.landlord_id.as_deref().unwrap_or("")
    }

    /// Who is asking.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// A transaction confined to this landlord's rows.
    pub async fn transaction(&mut self) -> Result<Transaction<'_>, ApiError> {
        let timeout = format!("{}ms", self.statement_timeout.as_millis().max(1));
        let landlord = self.landlord_id().to_owned();
        // A person's id and role narrow further what the database shows (a contractor sees only
        // the cases assigned to them); a key has neither.
        let (user, role) = match self.caller.session() {
            Some(s) => (s.user_id.to_string(), s.role.as_str()),
            None => (String::new(), ""),
        };
        let client = match self.client.take() {
            Some(client) => client,
            None => self.pool.get().await?,
        };
        let tx = self.client.insert(client).transaction().await?;
        // set_config(.., true) is SET LOCAL: undone at commit or rollback, so nothing of it
        // outlives the request on the pooled connection. Switching the role this way checks
        // membership like SET ROLE does.
        tx.execute(
            "SELECT set_config('dampwatch.landlord', $1, true), set_config('statement_timeout', $2, true),
                    set_config('dampwatch.user', $3, true), set_config('dampwatch.user_role', $4, true),
                    set_config('role', 'dampwatch_api_tenant', true)",
            &[&landlord, &timeout, &user, &role],
        )
        .await?;
        Ok(tx)
    }
}

impl Tenant {
    /// The tenant of a caller authenticated some other way (the dashboard's pages).
    pub(crate) fn new(caller: Caller, state: &ApiState) -> Self {
        Tenant {
            caller,
            pool: state.pool.clone(),
            client: None,
            statement_timeout: state.config.request_timeout,
        }
    }
}

impl FromRequestParts<ApiState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        // Only the router's authenticated routes run the authentication middleware; a handler
        // taking a Tenant on any other route is a wiring mistake, never served unauthenticated.
        let caller =
            parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
                ApiError::Internal("a tenant handler on a route without authentication".into())
            })?;
        Ok(Tenant {
            caller,
            pool: state.pool.clone(),
            client: None,
            statement_timeout: state.config.request_timeout,
        })
    }
}
