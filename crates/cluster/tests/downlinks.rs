//! Downlinks on a real three-node cluster: an acknowledgement published through one node
//! reaches the gateway (on another node) that holds the device, and no other gateway; the last
//! configuration is there for a device that connects through a different gateway.

use std::time::{Duration, Instant};

use bytes::Bytes;
use dampwatch_cluster::{DownlinkKind, DownlinkPublisher, DownlinkRoutes, NatsCluster, Role};
use futures_util::StreamExt;

const READY: Duration = Duration::from_secs(30);

/// A client of `role` connected to node `node` only.
async fn client(cluster: &NatsCluster, role: Role, node: usize) -> async_nats::Client {
    let upstream =
        dampwatch_cluster::UpstreamConfig { servers: vec![cluster.url(node)], ..cluster.upstream(role) };
    upstream.connect("test").await.expect("connect")
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
        // A configuration may come on the same subscription (they are routed alike): only
        // acknowledgements are checked here.
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), subscriber.next()).await {
            if DownlinkKind::of_subject(&m.subject) == Some(DownlinkKind::Ack) {
                assert_eq!(String::from_utf8_lossy(&m.payload), payload, "on {}", m.subject);
                return;
            }
        }
        assert!(Instant::now() < deadline, "{payload} never reached the gateway holding {device}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_reaches_only_the_gateway_holding_the_device_and_configurations_follow_it() {
    let cluster = NatsCluster::start(3, READY).await.expect("a three-node cluster");
    let collector =
        DownlinkPublisher::ensure(client(&cluster, Role::Collector, 2).await, 3).await.expect("collector");
    let gateway_a =
        DownlinkRoutes::open(client(&cluster, Role::Gateway, 0).await, 3).await.expect("gateway a");
    let gateway_b =
        DownlinkRoutes::open(client(&cluster, Role::Gateway, 1).await, 3).await.expect("gateway b");

    let revision =
        collector.config("acme", "dev-x", Bytes::from_static(b"config-x-1")).await.expect("config");
    assert!(revision > 0);
    let mut x_on_a = gateway_a.attach("acme", "dev-x").await.expect("attach x");
    assert_eq!(x_on_a.config.as_deref(), Some(&b"config-x-1"[..]), "the last configuration on connect");
    let mut y_on_b = gateway_b.attach("acme", "dev-y").await.expect("attach y");
    assert_eq!(y_on_b.config, None);

    send_until_received(&collector, "dev-x", "ack-x", &mut x_on_a.downlinks).await;
    send_until_received(&collector, "dev-y", "ack-y", &mut y_on_b.downlinks).await;
    // Gateway B never had interest in dev-x: everything it got is dev-y's.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), y_on_b.downlinks.next()).await {
        assert_eq!(&m.payload[..], b"ack-y", "gateway b got another device's acknowledgement");
    }

    // dev-x reconnects through gateway B: its last configuration is there too.
    collector.config("acme", "dev-x", Bytes::from_static(b"config-x-2")).await.expect("config");
    drop(x_on_a);
    let mut x_on_b = gateway_b.attach("acme", "dev-x").await.expect("attach x on b");
    assert_eq!(x_on_b.config.as_deref(), Some(&b"config-x-2"[..]));
    // A configuration sent while the device is connected reaches it live as well. The one it
    // was given on attaching may also arrive live, once, if its publication was still on its
    // way when the gateway subscribed: the same configuration again, which a device applies
    // as a no-op. Nothing else may arrive.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut repeated = 0;
    loop {
        collector.config("acme", "dev-x", Bytes::from_static(b"config-x-3")).await.expect("config");
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), x_on_b.downlinks.next()).await {
            if &m.payload[..] == b"config-x-2" && repeated == 0 {
                repeated += 1;
                continue;
            }
            assert_eq!(&m.payload[..], b"config-x-3");
            assert_eq!(DownlinkKind::of_subject(&m.subject), Some(DownlinkKind::Config));
            break;
        }
        assert!(Instant::now() < deadline, "the live configuration never reached gateway b");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_use_only_its_own_subjects_and_strangers_are_refused() {
    let cluster = NatsCluster::start(3, READY).await.expect("a three-node cluster");
    // No credentials: refused, loopback or not.
    let stranger = dampwatch_cluster::UpstreamConfig {
        user: String::new(),
        password_file: Default::default(),
        ..cluster.upstream(Role::Gateway)
    };
    assert!(matches!(
        stranger.connect("stranger").await,
        Err(dampwatch_cluster::ClusterError::Unreachable(_))
    ));
    // A gateway may not send downlinks: the server refuses the publish and says so.
    let (gateway, mut errors) = client_with_errors(&cluster, Role::Gateway).await;
    gateway.publish("dw.v1.down.acme.dev-x.ack", "forged".into()).await.expect("queued");
    gateway.flush().await.expect("flushed");
    let said = tokio::time::timeout(Duration::from_secs(10), errors.recv()).await.expect("an error in time");
    assert!(said.is_some_and(|e| e.contains("Permissions Violation")), "the server refused it");
    // A collector may not publish uplinks, nor delete the stream that holds them.
    dampwatch_cluster::UplinkStream::ensure(gateway.clone(), 3, 1 << 30).await.expect("the uplink stream");
    let collector = client(&cluster, Role::Collector, 0).await;
    let js = async_nats::jetstream::new(collector);
    let refused = js.publish("dw.v1.up.acme.dev-x", "forged".into()).await;
    assert!(refused.is_err() || refused.unwrap().await.is_err(), "a collector published an uplink");
    assert!(
        js.delete_stream(dampwatch_cluster::UPLINK_STREAM).await.is_err(),
        "a collector deleted the stream"
    );
    assert!(js.get_stream(dampwatch_cluster::UPLINK_STREAM).await.is_ok(), "the stream is still there");
}

/// A client of `role` and the errors the server sends it.
async fn client_with_errors(
    cluster: &NatsCluster,
    role: Role,
) -> (async_nats::Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let upstream = cluster.upstream(role);
    let password = std::fs::read_to_string(&upstream.password_file).expect("the password file");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .user_and_password(upstream.user.clone(), password)
        .custom_inbox_prefix(format!("_INBOX_{}", upstream.user))
        .add_root_certificates(upstream.ca_file.clone())
        .require_tls(true)
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(e) = event {
                    let _ = tx.send(e.to_string());
                }
            }
        })
        .connect(cluster.url(0))
        .await
        .expect("connect");
    (client, rx)
}
