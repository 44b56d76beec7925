//! The uplink stream on a real three-node cluster: every acknowledged uplink reaches the
//! collectors' group once (resends within the window are recognised as duplicates), survives
//! the SIGKILL of the node leading the stream, and an uplink a collector took but never
//! acknowledged goes to a collector again, counted by its delivery number.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dampwatch_cluster::{NatsCluster, Role, UplinkConsumer, UplinkStream};

const READY: Duration = Duration::from_secs(30);
const PER_PHASE: usize = 100;

async fn client(cluster: &NatsCluster, role: Role) -> async_nats::Client {
    cluster.client(role).await.expect("connect to the cluster")
}

/// Publishes `id`; while the stream elects a new leader the publish is refused (a gateway then
/// does not acknowledge the device, whose resend comes back), so it is sent again once the
/// stream answers with a leader. Bounded.
async fn publish(stream: &UplinkStream, id: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match stream.publish("acme", "dev-1", Some(id), Bytes::from(id.to_owned())).await {
            Ok(stored) => return stored.duplicate,
            Err(e) if Instant::now() < deadline => {
                eprintln!("publish {id} refused while the cluster recovers: {e}");
                let led = dampwatch_testkit::eventually_true(
                    deadline.saturating_duration_since(Instant::now()),
                    || async { matches!(stream.leader().await, Ok(Some(_))) },
                )
                .await;
                assert!(led, "the stream had no leader again within 30 s");
            }
            Err(e) => panic!("publish {id}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_uplinks_survive_the_stream_leaders_death_and_unacknowledged_ones_come_back() {
    let mut cluster = NatsCluster::start(3, READY).await.expect("a three-node cluster");
    let stream = UplinkStream::ensure(client(&cluster, Role::Gateway).await, 3, 1 << 30)
        .await
        .expect("the uplink stream");

    // 1. Uplinks, then the same ones again (a device resending after a lost acknowledgement).
    for n in 0..PER_PHASE {
        assert!(!publish(&stream, &format!("up-{n}")).await, "up-{n} is new");
    }
    for n in 0..10 {
        assert!(publish(&stream, &format!("up-{n}")).await, "up-{n} again is a duplicate");
    }

    // 2. The node leading the stream dies; publishing goes on once another leads.
    let leader = stream.leader().await.expect("stream info").expect("a leader");
    let dead = cluster.node_named(&leader).expect("the leader is one of ours");
    cluster.kill(dead);
    for n in PER_PHASE..2 * PER_PHASE {
        assert!(!publish(&stream, &format!("up-{n}")).await, "up-{n} is new");
    }
    cluster.restart(dead, READY).await.expect("the node comes back");

    // 3. A collector takes some and dies before acknowledging; the group gets them again.
    let consumer = UplinkConsumer::join(client(&cluster, Role::Collector).await, Duration::from_secs(2))
        .await
        .expect("join");
    let taken = consumer.fetch(20, Duration::from_secs(5)).await.expect("fetch");
    assert_eq!(taken.len(), 20);
    drop(taken);

    let mut seen: BTreeMap<String, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 * PER_PHASE {
        assert!(Instant::now() < deadline, "only {} of {} uplinks came through", seen.len(), 2 * PER_PHASE);
        for d in consumer.fetch(50, Duration::from_secs(1)).await.expect("fetch") {
            let id = String::from_utf8(d.payload.to_vec()).expect("utf-8");
            assert_eq!(d.subject, "dw.v1.up.acme.dev-1");
            d.ack().await.expect("ack");
            assert!(seen.insert(id.clone(), d.delivered).is_none(), "{id} was acknowledged twice");
        }
    }
    let redelivered = seen.values().filter(|d| **d > 1).count();
    assert_eq!(redelivered, 20, "exactly the unacknowledged ones came again");
    assert!(consumer.fetch(10, Duration::from_millis(500)).await.expect("fetch").is_empty(), "nothing left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_stream_refuses_new_uplinks_and_keeps_every_stored_one() {
    let cluster = NatsCluster::start(3, READY).await.expect("a three-node cluster");
    // The smallest stream the configuration allows.
    const MAX: u64 = 1 << 20;
    let stream =
        UplinkStream::ensure(client(&cluster, Role::Gateway).await, 3, MAX).await.expect("the stream");
    let payload = Bytes::from(vec![7u8; 16 * 1024]);
    let mut stored = 0usize;
    let refused = loop {
        match stream.publish("acme", "dev-1", None, payload.clone()).await {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 1000, "a 1 MiB stream took {stored} uplinks of 16 KiB");
    };
    assert!(stored >= 10, "only {stored} uplinks before the stream was full: {refused}");

    // Every stored uplink is still there for the collectors; once they take some, the stream
    // has room again.
    let consumer = UplinkConsumer::join(client(&cluster, Role::Collector).await, Duration::from_secs(30))
        .await
        .expect("join");
    let mut taken = 0usize;
    while taken < stored {
        let batch = consumer.fetch(50, Duration::from_secs(5)).await.expect("fetch");
        assert!(!batch.is_empty(), "only {taken} of {stored} stored uplinks came out");
        for d in batch {
            d.ack().await.expect("ack");
            taken += 1;
        }
    }
    assert_eq!(taken, stored);
    stream.publish("acme", "dev-1", None, payload).await.expect("room again once the collectors took them");
}
