//! Downlinks on a real three-node cluster: an acknowledgement published through one node
//! reaches the gateway (on another node) that holds the device, and no other gateway; the last
//! configuration is there for a device that connects through a different gateway.

use std::time::{Duration, Instant};

use bytes::Bytes;
use dampwatch_cluster::{DownlinkPublisher, DownlinkRoutes, NatsCluster};
use futures_util::StreamExt;

const READY: Duration = Duration::from_secs(30);

async fn client(url: String) -> async_nats::Client {
    async_nats::connect(url).await.expect("connect")
}

/// Publishes `payload` for `device` until `subscriber` receives it (interest reaches the
/// other nodes of the cluster a moment after the subscription: a device acknowledged in that
/// moment is acknowledged again on its resend). Bounded.
async fn send_until_received(
    collector: &DownlinkPublisher,
    device: &str,
    payload: &'static str,
    subscriber: &mut async_nats::Subscriber,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        collector.ack("acme", device, Bytes::from_static(payload.as_bytes())).await.expect("publish");
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await {
            assert_eq!(&m.payload[..], payload.as_bytes());
            return;
        }
        assert!(Instant::now() < deadline, "{payload} never reached the gateway holding {device}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_reaches_only_the_gateway_holding_the_device_and_configurations_follow_it() {
    let cluster = NatsCluster::start(3, READY).await.expect("a three-node cluster");
    let collector = DownlinkPublisher::ensure(client(cluster.url(2)).await, 3).await.expect("collector");
    let gateway_a = DownlinkRoutes::open(client(cluster.url(0)).await, 3).await.expect("gateway a");
    let gateway_b = DownlinkRoutes::open(client(cluster.url(1)).await, 3).await.expect("gateway b");

    let revision =
        collector.config("acme", "dev-x", Bytes::from_static(b"config-x-1")).await.expect("config");
    assert!(revision > 0);
    let mut x_on_a = gateway_a.attach("acme", "dev-x").await.expect("attach x");
    assert_eq!(x_on_a.config.as_deref(), Some(&b"config-x-1"[..]), "the last configuration on connect");
    let mut y_on_b = gateway_b.attach("acme", "dev-y").await.expect("attach y");
    assert_eq!(y_on_b.config, None);

    send_until_received(&collector, "dev-x", "ack-x", &mut x_on_a.acks).await;
    send_until_received(&collector, "dev-y", "ack-y", &mut y_on_b.acks).await;
    // Gateway B never had interest in dev-x: everything it got is dev-y's.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), y_on_b.acks.next()).await {
        assert_eq!(&m.payload[..], b"ack-y", "gateway b got another device's acknowledgement");
    }

    // dev-x reconnects through gateway B: its last configuration is there too.
    collector.config("acme", "dev-x", Bytes::from_static(b"config-x-2")).await.expect("config");
    drop(x_on_a);
    let x_on_b = gateway_b.attach("acme", "dev-x").await.expect("attach x on b");
    assert_eq!(x_on_b.config.as_deref(), Some(&b"config-x-2"[..]));
}
