//! Several collectors in one MQTT shared-subscription group share the uplinks.

use crate::common::*;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_in_one_group_share_the_uplinks() -> anyhow::Result<()> {
    let env = start_env().await?;
    let a = env.start_collector("collector-a", "collectors").await?;
    let b = env.start_collector("collector-b", "collectors").await?;
    a.ready().await;
    b.ready().await;
    let devices = env.provision_many("acme", "share", 4).await?;
    let fleet = run_fleet(devices, env.plan(100, Some(50.0), 60), CancellationToken::new());
    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    let (ra, rb) = (a.metrics().uplinks_received.get(), b.metrics().uplinks_received.get());
    eprintln!("collector-a received {ra} uplinks, collector-b {rb}");
    assert!(ra > 0 && rb > 0, "both collectors took a share: {ra} and {rb}");
    a.shutdown().await;
    b.shutdown().await;
    Ok(())
}
