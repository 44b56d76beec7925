//! The cluster-wide roles the schema grants to. Roles belong to a cluster, not to a database,
//! so a database restored into another cluster needs them before its grants and row-level
//! security policies can be restored; migrations 0200, 0432 and 0460 create them the same way.

use tokio_postgres::Client;

/// The tenant role (see migration 0200): NOLOGIN, switched to with `SET LOCAL ROLE`.
pub const TENANT_ROLE: &str = "dampwatch_api_tenant";
/// The role evidence packs are read as (migration 0432).
pub const EVIDENCE_ROLE: &str = "dampwatch_evidence_reader";
/// The role the collector logs in as (migration 0460): every table's rows, owner of nothing.
pub const COLLECTOR_LOGIN: &str = "dampwatch_collector";
/// The role the landlord API logs in as (migration 0460): sign-in's tables, and may switch to
/// [`TENANT_ROLE`] and [`EVIDENCE_ROLE`] without inheriting what they may do.
pub const API_LOGIN: &str = "dampwatch_api";
/// The roles a transaction switches to: the owner may switch to them too.
pub const ROLES: [&str; 2] = [TENANT_ROLE, EVIDENCE_ROLE];
/// The services' logins, which a restore also needs before the grants to them.
pub const LOGINS: [&str; 2] = [COLLECTOR_LOGIN, API_LOGIN];

/// Creates the roles the schema names if the cluster lacks them, lets the connected role
/// switch to the ones transactions switch to, and lets the API's login switch to them.
/// Harmless when they exist. The logins are made without LOGIN: the deployment gives them that
/// and a password.
pub async fn ensure_cluster_roles(client: &Client) -> Result<(), tokio_postgres::Error> {
    for role in ROLES.into_iter().chain(LOGINS) {
        ensure_role(client, role).await?;
    }
    for role in ROLES {
        grant(client, role, "CURRENT_USER").await?;
        grant(client, role, API_LOGIN).await?;
    }
    Ok(())
}

async fn ensure_role(client: &Client, role: &str) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "DO $$
             BEGIN
                 CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN
                 NULL;
             END
             $$;
             ALTER ROLE {role} NOINHERIT NOCREATEDB NOCREATEROLE;"
        ))
        .await
}

async fn grant(client: &Client, role: &str, to: &str) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "DO $$
             BEGIN
                 GRANT {role} TO {to};
             EXCEPTION WHEN unique_violation THEN
                 NULL;
             END
             $$;"
        ))
        .await
}

/// Lets `role`, one of [`LOGINS`], log in with `password`. Run by a role that may alter it
/// (the owner with CREATEROLE, or a superuser). Only the password's SCRAM-SHA-256 verifier is
/// sent (computed here, with a fresh salt), so the password itself never reaches the server's
/// log or statement statistics.
pub async fn allow_login(client: &Client, role: &str, password: &str) -> Result<(), tokio_postgres::Error> {
    assert!(LOGINS.contains(&role), "{role} is not one of the services' logins");
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    // The verifier is base64 and `$`/`:` separated: no quote to escape, checked all the same.
    let quoted = verifier.replace('\'', "''");
    client.batch_execute(&format!("ALTER ROLE {role} LOGIN PASSWORD '{quoted}'")).await
}

/// Where the services connect on one database.
#[derive(Clone)]
pub struct ServiceUrls {
    /// As [`COLLECTOR_LOGIN`].
    pub collector: String,
    /// As [`API_LOGIN`].
    pub api: String,
}

impl std::fmt::Debug for ServiceUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceUrls")
            .field("collector", &crate::redacted(&self.collector))
            .field("api", &crate::redacted(&self.api))
            .finish()
    }
}

/// Why a private cluster's logins could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("cannot keep the password of a login of the private PostgreSQL")]
    Password(#[from] dampwatch_pg::PgError),
    #[error("cannot let the services' roles log in to the private PostgreSQL")]
    Database(#[from] tokio_postgres::Error),
}

/// The services' logins to the private cluster `pg`'s database, migrated: each role given
/// LOGIN and its password (kept in the cluster's data directory), as the owner at `owner`.
pub async fn private_logins(
    pg: &dampwatch_pg::PrivatePostgres,
    owner: &str,
) -> Result<ServiceUrls, LoginError> {
    let client = crate::connect(owner).await?;
    let collector = pg.login(COLLECTOR_LOGIN, dampwatch_pg::DATABASE)?;
    let api = pg.login(API_LOGIN, dampwatch_pg::DATABASE)?;
    for login in [&collector, &api] {
        allow_login(&client, &login.role, &login.password).await?;
    }
    Ok(ServiceUrls { collector: collector.url, api: api.url })
}
