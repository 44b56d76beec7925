//! What an admitted client may do: its own client id and topics only.

use crate::common::*;
use crate::raw::Raw;
use dampwatch_gateway::mqtt::PacketType;
use dampwatch_gateway::Refusal;
use dampwatch_pki::IssueOptions;
use rumqttc::{Packet, QoS};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_other_than_the_certificate_cn_is_refused() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "cid-1");
    let mut good = fx.good_pair().await;
    let mut bad = fx.client(fx.device_tls("cid-1"), "somebody-else");
    let err = bad.closed().await;
    assert!(err.contains("refused") || err.contains("NotAuthorized"), "{err}");
    fx.expect_refusal(Refusal::ClientIdMismatch, 1).await;
    good.round_trip().await;
}

/// A device that publishes or subscribes where it must not is disconnected.
async fn misbehaving_device(act: impl AsyncFnOnce(&rumqttc::AsyncClient), reason: Refusal, device: &str) {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, device);
    let mut good = fx.good_pair().await;
    let mut bad = fx.device(device);
    bad.connected().await;
    act(&bad.client).await;
    bad.closed().await;
    fx.expect_refusal(reason, 1).await;
    good.round_trip().await;
    assert_eq!(fx.refusals(reason), 1, "only the misbehaving connection was closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_another_devices_topic_is_refused() {
    let act = async |c: &rumqttc::AsyncClient| {
        c.publish(topic(LANDLORD, GOOD, "up"), QoS::AtLeastOnce, false, "forged").await.unwrap();
    };
    misbehaving_device(act, Refusal::OtherDeviceTopic, "topic-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_another_landlords_topic_is_refused() {
    let act = async |c: &rumqttc::AsyncClient| {
        c.publish(topic("rival", "topic-2", "up"), QoS::AtLeastOnce, false, "forged").await.unwrap();
    };
    misbehaving_device(act, Refusal::OtherLandlordTopic, "topic-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_to_everything_is_refused() {
    let act = async |c: &rumqttc::AsyncClient| c.subscribe("#", QoS::AtLeastOnce).await.unwrap();
    misbehaving_device(act, Refusal::FilterNotAllowed, "wild-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_to_another_devices_acks_is_refused() {
    let act = async |c: &rumqttc::AsyncClient| {
        c.subscribe(topic(LANDLORD, GOOD, "ack"), QoS::AtLeastOnce).await.unwrap()
    };
    misbehaving_device(act, Refusal::OtherDeviceTopic, "spy-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos2_is_refused() {
    let act = async |c: &rumqttc::AsyncClient| {
        c.publish(topic(LANDLORD, "q2-1", "up"), QoS::ExactlyOnce, false, "x").await.unwrap();
    };
    misbehaving_device(act, Refusal::Qos2, "q2-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_publish_acks_but_the_collector_can() {
    let act = async |c: &rumqttc::AsyncClient| {
        c.publish(topic(LANDLORD, "ack-1", "ack"), QoS::AtLeastOnce, false, "x").await.unwrap();
    };
    misbehaving_device(act, Refusal::TopicNotAllowed, "ack-1").await;
}

/// A service certificate the CA issued for another purpose is not a collector: it is refused
/// right after its handshake, so it can neither publish a device's acknowledgements nor hold
/// the one connection kept for services while the collector needs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_certificate_without_a_role_is_refused_and_leaves_the_service_slot_free() {
    let fx = Fixture::start_with(|c| c.limits.service_connections = 1).await;
    dampwatch_pki::issue_service(&fx.pki(), "reporter", IssueOptions::default()).unwrap();
    let p = fx.paths();
    let mut reporter =
        fx.client(fx.tls_for(&p.service_cert("reporter"), &p.service_key("reporter")), "reporter");
    let err = reporter.closed().await;
    assert!(!err.is_empty());
    fx.expect_refusal(Refusal::ServiceWithoutRole, 1).await;
    // The collector still gets the only service connection and its traffic flows.
    let mut good = fx.good_pair().await;
    good.round_trip().await;
    assert_eq!(fx.refusals(Refusal::TooManyServiceConnections), 0);
    // Named as a collector, the same certificate is admitted.
    drop(good);
    let fx = Fixture::start_with(|c| c.services.collectors.push("reporter".into())).await;
    dampwatch_pki::issue_service(&fx.pki(), "reporter", IssueOptions::default()).unwrap();
    let p = fx.paths();
    let mut reporter =
        fx.client(fx.tls_for(&p.service_cert("reporter"), &p.service_key("reporter")), "reporter");
    reporter.connected().await;
    assert_eq!(fx.refusals(Refusal::ServiceWithoutRole), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_gets_its_latest_configuration_when_it_subscribes() {
    let fx = Fixture::start().await;
    let mut collector = fx.collector();
    collector.connected().await;
    let config = topic(LANDLORD, GOOD, "config");
    collector.client.publish(&config, QoS::AtLeastOnce, true, "interval=300").await.unwrap();
    collector.client.publish(&config, QoS::AtLeastOnce, true, "interval=600").await.unwrap();
    // Both acknowledged: the broker holds the second as the retained message.
    for _ in 0..2 {
        collector.wait_for("PUBACK", |p| matches!(p, Packet::PubAck(_)).then_some(())).await;
    }
    let mut device = fx.device(GOOD);
    device.connected().await;
    device.client.subscribe(&config, QoS::AtLeastOnce).await.unwrap();
    device.subscribed().await;
    let m = device.message().await;
    assert_eq!((&m.payload[..], m.retain), (&b"interval=600"[..], true));
    // Live configuration arrives as it is published.
    collector.client.publish(&config, QoS::AtLeastOnce, true, "interval=900").await.unwrap();
    assert_eq!(&device.message().await.payload[..], b"interval=900");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collectors_share_uplinks_with_mqtt5_shared_subscriptions() {
    use rumqttc::v5::{mqttbytes::QoS as QoS5, AsyncClient, Event, MqttOptions};
    let fx = Fixture::start().await;
    let mut collectors = Vec::new();
    for n in 0..2 {
        let mut opts = MqttOptions::new(format!("collector-{n}"), "127.0.0.1", fx.port());
        opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(
            fx.collector_tls(),
        )));
        let (client, mut eventloop) = AsyncClient::new(opts, 100);
        client.subscribe("$share/collectors/dw/v1/+/+/up", QoS5::AtLeastOnce).await.unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(e) = eventloop.poll().await {
                if let Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::Publish(p)) = e {
                    let _ = tx.send(p.payload);
                } else if let Event::Incoming(rumqttc::v5::mqttbytes::v5::Packet::SubAck(_)) = e {
                    let _ = tx.send(bytes::Bytes::from_static(b"SUBACK"));
                }
            }
        });
        collectors.push((client, rx));
    }
    for (_, rx) in &mut collectors {
        let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert_eq!(&first[..], b"SUBACK");
    }
    let mut device = fx.device(GOOD);
    device.connected().await;
    for n in 0..10 {
        device
            .client
            .publish(topic(LANDLORD, GOOD, "up"), QoS::AtLeastOnce, false, format!("r{n}"))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < 10 && tokio::time::Instant::now() < deadline {
        for (_, rx) in &mut collectors {
            while let Ok(p) = rx.try_recv() {
                got.push(p);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got.len(), 10, "each uplink reached exactly one collector");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_session_speaks_mqtt_on_its_own() {
    // PINGREQ, UNSUBSCRIBE and a QoS 0 uplink, byte for byte.
    let fx = Fixture::start().await;
    let mut good = fx.good_pair().await;
    fx.issue(LANDLORD, "plain-1");
    let mut raw = Raw::connect(fx.port(), fx.device_tls("plain-1")).await.unwrap();
    assert_eq!(raw.mqtt_connect("plain-1").await, 0);
    raw.send(&[0xC0, 0x00]).await;
    assert_eq!(raw.read().await.unwrap().kind, PacketType::Pingresp);
    let mut sub = bytes::BytesMut::new();
    dampwatch_gateway::mqtt::encode::subscribe_v4(&mut sub, 3, &[(&topic(LANDLORD, "plain-1", "ack"), 1)]);
    raw.send(&sub).await;
    let suback = raw.read().await.unwrap();
    assert_eq!((suback.kind, suback.body.as_slice()), (PacketType::Suback, &[0, 3, 1][..]));
    let unsub =
        [&[0xA2u8, 2 + 2 + 22, 0, 4, 0, 22][..], topic(LANDLORD, "plain-1", "ack").as_bytes()].concat();
    raw.send(&unsub).await;
    let unsuback = raw.read().await.unwrap();
    assert_eq!((unsuback.kind, unsuback.body.as_slice()), (PacketType::Unsuback, &[0, 4][..]));
    raw.send(&crate::raw::publish(&topic(LANDLORD, "plain-1", "up"), 0, 0, b"qos0")).await;
    let up = good.collector.message().await;
    assert_eq!(&up.payload[..], b"qos0");
    good.round_trip().await;
}

/// A shared subscription on a persistent session would panic rumqttd 0.20's router and take
/// every connection down: the gateway refuses it, and the broker (and everyone else) stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_subscription_on_a_persistent_session_is_refused_and_the_broker_stays_up() {
    use rumqttc::v5::{mqttbytes::QoS as QoS5, AsyncClient, MqttOptions};
    let fx = Fixture::start().await;
    let mut good = fx.good_pair().await;
    let mut opts = MqttOptions::new("collector-persistent", "127.0.0.1", fx.port());
    opts.set_clean_start(false);
    opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(
        fx.collector_tls(),
    )));
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    client.subscribe("$share/collectors/dw/v1/+/+/up", QoS5::AtLeastOnce).await.unwrap();
    let closed = async {
        loop {
            if eventloop.poll().await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed).await.expect("the gateway closes the connection");
    fx.expect_refusal(Refusal::PersistentSharedSubscription, 1).await;
    good.round_trip().await;
}
