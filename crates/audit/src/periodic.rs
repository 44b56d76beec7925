//! Checkpoints on a timer, for a long-running service (the collector runs this when its PKI
//! directory holds an audit key).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::checkpoint;
use crate::signer::CheckpointSigner;

/// A small pool for the checkpoint task: one connection at a time is all it uses, and it waits
/// at most `wait` for one (a round that cannot get one is retried at the next).
pub fn pool(db_url: &str, wait: Duration) -> Result<Pool, tokio_postgres::Error> {
    let mut pg: tokio_postgres::Config = db_url.parse()?;
    let tls = dampwatch_store::tls_connector(&mut pg);
    let manager = Manager::from_config(pg, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Ok(Pool::builder(manager)
        .max_size(1)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .build()
        .expect("a pool with a runtime and timeouts builds"))
}

/// Signs the head of the log at once and then every `every`, until `stop`. A round that fails
/// (database unreachable) is logged and retried at the next: entries appended meanwhile are
/// still chained, only their signature comes later. Several services may run this against one
/// database; each head is signed once.
pub async fn run_checkpoints(pool: Pool, signer: CheckpointSigner, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    // After a long pause (a suspended host) one checkpoint is enough, not a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let round = async {
            let client = pool.get().await?;
            checkpoint(&**client, &signer).await
        };
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            result = round => result,
        };
        match result {
            Ok(Some(c)) => tracing::info!(seq = c.seq, key_id = %c.key_id, "signed an audit checkpoint"),
            Ok(None) => tracing::debug!("audit log head already signed"),
            Err(e) => tracing::warn!(error = %e, "audit checkpoint failed; retrying at the next round"),
        }
    }
}
