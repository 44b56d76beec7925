//! Faults mid-stream. Each test ends with every device's readings confirmed and the database
//! holding exactly the distinct readings sent: nothing lost, nothing twice.

use crate::common::*;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Holds an exclusive lock on `readings`, so the collector's next commit waits: it then has
/// messages in flight that it must not acknowledge.
async fn block_commits(env: &Env) -> anyhow::Result<tokio_postgres::Client> {
    let db = env.db().await?;
    db.batch_execute("BEGIN; LOCK TABLE readings IN ACCESS EXCLUSIVE MODE").await?;
    Ok(db)
}

/// Waits until a collector's batch is held by the lock of [`block_commits`]: another session
/// waits for a lock on `readings`.
async fn until_a_batch_waits(env: &Env) -> anyhow::Result<()> {
    let db = env.db().await?;
    let waiting = eventually_true(Duration::from_secs(30), || async {
        db.query_one(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'readings'::regclass",
            &[],
        )
        .await
        .is_ok_and(|r| r.get::<_, i64>(0) > 0)
    })
    .await;
    anyhow::ensure!(waiting, "no batch reached the locked table");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_killed_with_sigkill_mid_stream_and_restarted() -> anyhow::Result<()> {
    let env = start_env().await?;
    let collector = tokio::task::block_in_place(|| env.spawn_collector("collector", ""))?;
    let devices = env.provision_many("acme", "kill", 4).await?;
    let fleet = run_fleet(devices, env.plan(300, Some(40.0), 120), CancellationToken::new());

    let stored_some = eventually_true(Duration::from_secs(30), || async {
        collector.metric("dampwatch_collector_readings_stored_total").await > 50.0
    })
    .await;
    assert!(stored_some, "the collector stores readings before the fault");
    // Kill it while a batch waits on the database: messages in flight, unacknowledged.
    let lock = block_commits(&env).await?;
    until_a_batch_waits(&env).await?;
    collector.kill();
    lock.batch_execute("ROLLBACK").await?;
    // Devices keep publishing while no collector runs; the persistent session keeps it. The
    // outage lasts a second on purpose (nothing is awaited here: the fault is the waiting).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarted = tokio::task::block_in_place(|| env.spawn_collector("collector", ""))?;

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    assert!(restarted.metric("dampwatch_collector_readings_stored_total").await > 0.0);
    restarted.terminate()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashes_and_restarts_mid_stream() -> anyhow::Result<()> {
    let mut env = start_env().await?;
    let collector = env.start_collector("collector", "").await?;
    let m = collector.metrics();
    let devices = env.provision_many("acme", "pg", 4).await?;
    let fleet = run_fleet(devices, env.plan(300, Some(40.0), 120), CancellationToken::new());

    assert!(eventually_true(Duration::from_secs(30), || async { m.readings_stored.get() > 50 }).await);
    tokio::task::block_in_place(|| env.pg.kill_hard())?;
    // While the database is down: nothing acknowledged, memory bounded by the broker's window.
    // The outage lasts half a second on purpose: what is checked is that nothing happens.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acks_before = m.acks_published.get();
    let stored_before = m.readings_stored.get();
    let (mut most_pending, mut saw_disconnected) = (0, false);
    for _ in 0..30 {
        most_pending = most_pending.max(m.uplinks_pending.get());
        saw_disconnected |= m.db_connected.get() == 0;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(m.acks_published.get(), acks_before, "no commit position while the database is down");
    assert_eq!(m.readings_stored.get(), stored_before);
    assert!(m.database_errors.get() > 0 && saw_disconnected, "the collector noticed and retries");
    assert!(
        most_pending > 0 && most_pending <= 100,
        "pending uplinks stay within the broker's window: {most_pending}"
    );
    tokio::task::block_in_place(|| env.pg.restart())?;

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    collector.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_restarts_mid_stream() -> anyhow::Result<()> {
    let mut env = start_env().await?;
    let collector = env.start_collector("collector", "").await?;
    let m = collector.metrics();
    let devices = env.provision_many("acme", "gw", 4).await?;
    let fleet = run_fleet(devices, env.plan(300, Some(40.0), 120), CancellationToken::new());

    assert!(eventually_true(Duration::from_secs(30), || async { m.readings_stored.get() > 50 }).await);
    env.stop_gateway().await;
    // The gateway stays down for a second on purpose: devices queue and reconnect.
    tokio::time::sleep(Duration::from_secs(1)).await;
    env.restart_gateway().await?;
    let before = m.readings_stored.get();

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    assert!(m.readings_stored.get() > before, "the collector reconnected and resubscribed");
    assert!(outcomes.iter().any(|o| o.resent > 0), "devices resent what the old broker lost");
    collector.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_share_the_load_and_one_is_killed() -> anyhow::Result<()> {
    let env = start_env().await?;
    let a = tokio::task::block_in_place(|| env.spawn_collector("collector-a", "collectors"))?;
    let b = tokio::task::block_in_place(|| env.spawn_collector("collector-b", "collectors"))?;
    let devices = env.provision_many("acme", "pair", 4).await?;
    let fleet = run_fleet(devices, env.plan(300, Some(40.0), 120), CancellationToken::new());

    let both = eventually_true(Duration::from_secs(30), || async {
        a.metric("dampwatch_collector_readings_stored_total").await > 20.0
            && b.metric("dampwatch_collector_readings_stored_total").await > 20.0
    })
    .await;
    assert!(both, "both collectors take a share of the uplinks");
    let lock = block_commits(&env).await?;
    until_a_batch_waits(&env).await?;
    b.kill();
    lock.batch_execute("ROLLBACK").await?;
    let survivor_before = a.metric("dampwatch_collector_readings_stored_total").await;

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    assert!(a.metric("dampwatch_collector_readings_stored_total").await > survivor_before);
    a.terminate()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_batch_is_checked_while_one_waits_on_the_database() -> anyhow::Result<()> {
    let env = start_env().await?;
    let collector = env.start_collector("collector", "").await?;
    let m = collector.metrics();
    let devices = env.provision_many("acme", "overlap", 4).await?;
    let fleet = run_fleet(devices, env.plan(300, Some(40.0), 120), CancellationToken::new());

    assert!(eventually_true(Duration::from_secs(30), || async { m.readings_stored.get() > 50 }).await);
    let lock = block_commits(&env).await?;
    until_a_batch_waits(&env).await?;
    let stored = m.readings_stored.get();
    // Devices go on sending: the next batch is checked and waits its turn, rather than waiting
    // unchecked for the commit before it.
    let checked_meanwhile =
        eventually_true(Duration::from_secs(30), || async { m.checked_batches_waiting.get() >= 1 }).await;
    assert!(checked_meanwhile, "a batch is checked while the one before it waits on the database");
    assert_eq!(m.readings_stored.get(), stored, "nothing is stored past the lock");
    lock.batch_execute("ROLLBACK").await?;

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    let all_taken =
        eventually_true(Duration::from_secs(30), || async { m.checked_batches_waiting.get() == 0 }).await;
    assert!(all_taken, "every checked batch is taken up for storing");
    collector.shutdown().await;
    Ok(())
}
