//! The cluster-wide roles the schema grants to. Roles belong to a cluster, not to a database,
//! so a database restored into another cluster needs them before its grants and row-level
//! security policies can be restored; migrations 0200 and 0432 create them the same way.

use tokio_postgres::Client;

/// The tenant role (see migration 0200): NOLOGIN, switched to with `SET LOCAL ROLE`.
pub const TENANT_ROLE: &str = "dampwatch_api_tenant";
/// The role evidence packs are read as (migration 0432).
pub const EVIDENCE_ROLE: &str = "dampwatch_evidence_reader";
/// Every cluster-wide role the schema grants to.
pub const ROLES: [&str; 2] = [TENANT_ROLE, EVIDENCE_ROLE];

/// Creates the roles the schema names if the cluster lacks them, and lets the connected role
/// switch to them (as the service must). Harmless when they exist.
pub async fn ensure_cluster_roles(client: &Client) -> Result<(), tokio_postgres::Error> {
    for role in ROLES {
        ensure_role(client, role).await?;
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
             DO $$
             BEGIN
                 GRANT {role} TO CURRENT_USER;
             EXCEPTION WHEN unique_violation THEN
                 NULL;
             END
             $$;"
        ))
        .await
}
