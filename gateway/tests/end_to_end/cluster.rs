//! The gateway on the cluster upstream: a device's publish is acknowledged once the cluster's
//! uplink stream holds it, where the collectors' group finds its exact bytes; no embedded broker
//! runs, and a service certificate has no role at the gateway (collectors reach the cluster
//! directly), so even the collector's is refused.

use crate::common::*;
use dampwatch_cluster::{NatsCluster, Role, UplinkConsumer};
use dampwatch_gateway::Refusal;
use rumqttc::{Packet, QoS};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_cluster_a_publish_is_acknowledged_once_stored_and_no_broker_or_service_is_there() {
    let cluster = NatsCluster::start(3, Duration::from_secs(60)).await.expect("a three-node cluster");
    let upstream = cluster.upstream(Role::Gateway);
    let fx = Fixture::start_with(move |c| c.upstream = upstream).await;
    assert!(fx.gateway.broker_addrs().is_none(), "no embedded broker with the cluster upstream");

    let mut device = fx.device(GOOD);
    device.connected().await;
    let up = topic(LANDLORD, GOOD, "up");
    device.client.publish(up, QoS::AtLeastOnce, false, &b"signed uplink bytes"[..]).await.expect("queued");
    device.wait_for("the PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(())).await;
    let collectors = UplinkConsumer::join(
        cluster.client(Role::Collector).await.expect("collector"),
        Duration::from_secs(30),
    )
    .await
    .expect("the collectors' group");
    let stored = collectors.fetch(10, Duration::from_secs(10)).await.expect("fetch");
    assert_eq!(stored.len(), 1, "the acknowledged uplink is in the stream, once");
    assert_eq!(stored[0].subject, format!("dw.v1.up.{LANDLORD}.{GOOD}"));
    assert_eq!(&stored[0].payload[..], b"signed uplink bytes");

    let mut collector = fx.collector();
    collector.closed().await;
    fx.expect_refusal(Refusal::ServiceWithoutRole, 1).await;
}
