//! The cluster-wide roles the schema grants to. Roles belong to a cluster, not to a database,
//! so a database restored into another cluster needs them before its grants and row-level
//! security policies can be restored; migration 0200 creates them the same way.

use tokio_postgres::Client;

/// The tenant role (see migration 0200): NOLOGIN, switched to with `SET LOCAL ROLE`.
pub const TENANT_ROLE: &str = "dampwatch_api_tenant";

/// Creates the roles the schema names if the cluster lacks them, and lets the connected role
/// switch to them (as the service must). Harmless when they exist.
pub async fn ensure_cluster_roles(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(&format!(
            "DO $$
             BEGIN
                 CREATE ROLE {TENANT_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT NOCREATEDB NOCREATEROLE;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN
                 NULL;
             END
             $$;
             DO $$
             BEGIN
                 GRANT {TENANT_ROLE} TO CURRENT_USER;
             EXCEPTION WHEN unique_violation THEN
                 NULL;
             END
             $$;"
        ))
        .await
}
