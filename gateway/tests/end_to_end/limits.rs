//! Size, rate and churn limits: a violation closes that connection only.

use crate::common::*;
use crate::raw::Raw;
use dampwatch_gateway::Refusal;
use rumqttc::QoS;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_packet_is_refused() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "big-1");
    let mut good = fx.good_pair().await;
    let mut bad = fx.device("big-1");
    bad.connected().await;
    let huge = vec![7u8; 8 * 1024];
    bad.client.publish(topic(LANDLORD, "big-1", "up"), QoS::AtLeastOnce, false, huge).await.unwrap();
    bad.closed().await;
    fx.expect_refusal(Refusal::PacketTooLarge, 1).await;
    good.round_trip().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_is_cut_off() {
    let fx = Fixture::start_with(|c| {
        c.limits.device_messages_per_second = 2.0;
        c.limits.device_message_burst = 20.0;
    })
    .await;
    fx.issue(LANDLORD, "flood-1");
    let mut good = fx.good_pair().await;
    let mut bad = fx.device("flood-1");
    bad.connected().await;
    for n in 0..200 {
        if bad
            .client
            .try_publish(topic(LANDLORD, "flood-1", "up"), QoS::AtMostOnce, false, format!("{n}"))
            .is_err()
        {
            break;
        }
    }
    bad.closed().await;
    fx.expect_refusal(Refusal::MessageRateExceeded, 1).await;
    good.round_trip().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_rate_is_per_device_across_its_connections() {
    let fx = Fixture::start_with(|c| {
        c.limits.device_messages_per_second = 0.01;
        c.limits.device_message_burst = 3.0;
    })
    .await;
    fx.issue(LANDLORD, "twice-1");
    let up = topic(LANDLORD, "twice-1", "up");
    let mut first = Raw::connect(fx.port(), fx.device_tls("twice-1")).await.unwrap();
    assert_eq!(first.mqtt_connect("twice-1").await, 0);
    for id in 1..=2 {
        first.send(&crate::raw::publish(&up, 1, id, b"x")).await;
        assert!(first.read().await.is_some(), "PUBACK {id}");
    }
    // A reconnect does not refill the bucket; the newer connection replaces the older.
    let mut second = Raw::connect(fx.port(), fx.device_tls("twice-1")).await.unwrap();
    assert_eq!(second.mqtt_connect("twice-1").await, 0);
    assert!(first.closed().await, "the older connection was taken over");
    second.send(&crate::raw::publish(&up, 1, 3, b"x")).await;
    assert!(second.read().await.is_some());
    second.send(&crate::raw::publish(&up, 1, 4, b"x")).await;
    assert!(second.closed().await);
    fx.expect_refusal(Refusal::MessageRateExceeded, 1).await;
    assert_eq!(fx.gateway.metrics().sessions_taken_over.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_churn_is_refused() {
    let fx = Fixture::start_with(|c| c.limits.device_connects_per_minute = 3).await;
    fx.issue(LANDLORD, "churn-1");
    let mut good = fx.good_pair().await;
    for _ in 0..3 {
        let mut raw = Raw::connect(fx.port(), fx.device_tls("churn-1")).await.unwrap();
        assert_eq!(raw.mqtt_connect("churn-1").await, 0);
    }
    let mut raw = Raw::connect(fx.port(), fx.device_tls("churn-1")).await.unwrap();
    assert!(raw.closed().await);
    fx.expect_refusal(Refusal::DeviceConnectChurn, 1).await;
    good.round_trip().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_is_dropped_after_its_keep_alive() {
    let fx = Fixture::start_with(|c| c.limits.max_keep_alive = Duration::from_secs(1)).await;
    fx.issue(LANDLORD, "quiet-1");
    let mut raw = Raw::connect(fx.port(), fx.device_tls("quiet-1")).await.unwrap();
    assert_eq!(raw.mqtt_connect("quiet-1").await, 0); // asks for 30 s, held to 1 s
    assert!(raw.closed().await);
    fx.expect_refusal(Refusal::KeepAliveTimeout, 1).await;
}
