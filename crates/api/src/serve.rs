//! Running the API on a TCP listener until told to stop.

use std::net::SocketAddr;

use anyhow::Context;
use dampwatch_clock::Clock;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ApiConfig;
use crate::routes::router;
use crate::state::ApiState;
use crate::tenant::TENANT_ROLE;

/// Binds `addr` (port 0: any free port), checks that the database is reachable and carries
/// this crate's schema, and serves the API in a background task until `stop` is cancelled
/// (then in-flight requests finish). Returns the bound address.
///
/// `clock` must be the clock the hazard engine uses (the same `[alerts.clock]` section), so
/// deadlines computed here and there agree. The server speaks plain HTTP: expose it beyond
/// loopback only behind a TLS-terminating proxy.
pub async fn serve(
    addr: SocketAddr,
    db_url: &str,
    config: ApiConfig,
    clock: Clock,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    config.validate()?;
    let state = ApiState::connect(db_url, clock, config)?;
    check_database(&state).await?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let app = router(state);
    tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the API server stopped");
        }
    });
    tracing::info!(address = %local, "landlord API listening");
    Ok(local)
}

/// Fails early, with the fix in the message, when requests could not work: no schema, or a
/// connection role that may not switch to the tenant role.
async fn check_database(state: &ApiState) -> anyhow::Result<()> {
    let client = state.pool().get().await.context("cannot connect to the database")?;
    client.execute("SELECT 1 FROM api_keys LIMIT 0", &[]).await.context(
        "cannot read api_keys: run the migrations (dampwatch_api::MIGRATIONS) and connect as the \
             role that ran them",
    )?;
    let can_switch: bool = client
        .query_one("SELECT pg_has_role($1, 'MEMBER')", &[&TENANT_ROLE])
        .await
        .context("cannot check the tenant role: run the migrations (dampwatch_api::MIGRATIONS)")?
        .get(0);
    if !can_switch {
        anyhow::bail!(
            "the database user may not switch to {TENANT_ROLE}; as an administrator run \
             GRANT {TENANT_ROLE} TO <the service's database user>"
        );
    }
    Ok(())
}
