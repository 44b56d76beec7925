//! Debian's `mosquitto_pub` and `mosquitto_sub` (package `mosquitto-clients`) as devices and as
//! the collector: another MQTT and TLS stack (C, OpenSSL) against the gateway.

use crate::common::*;
use dampwatch_gateway::Refusal;
use rumqttc::QoS;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use tokio::process::Command;

/// A mosquitto client command with the fixture's CA and, if given, a client certificate.
fn mosquitto(fx: &Fixture, program: &str, identity: Option<(&Path, &Path)>) -> Command {
    let mut c = Command::new(program);
    c.args(["-h", "127.0.0.1", "-p", &fx.port().to_string(), "--cafile"]).arg(fx.paths().ca_cert());
    if let Some((cert, key)) = identity {
        c.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    c.kill_on_drop(true);
    c
}

fn device_mosquitto(fx: &Fixture, program: &str, device: &str) -> Command {
    let p = fx.paths();
    let (cert, key) = (p.device_cert(device), p.device_key(device));
    mosquitto(fx, program, Some((&cert, &key)))
}

async fn run(mut c: Command) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(20), c.output())
        .await
        .expect("mosquitto client finished")
        .expect("mosquitto clients are installed (Debian package mosquitto-clients)");
    out
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_devices_publish_and_receive_acks_in_both_protocol_versions() {
    let fx = Fixture::start().await;
    let mut collector = fx.collector();
    collector.connected().await;
    collector.client.subscribe("dw/v1/+/+/up", QoS::AtLeastOnce).await.unwrap();
    collector.subscribed().await;
    for (version, device) in [("mqttv311", "mq-4"), ("mqttv5", "mq-5")] {
        fx.issue(LANDLORD, device);
        let mut publish = device_mosquitto(&fx, "mosquitto_pub", device);
        publish.args([
            "-V",
            version,
            "-i",
            device,
            "-q",
            "1",
            "-t",
            &topic(LANDLORD, device, "up"),
            "-m",
            version,
        ]);
        let out = run(publish).await;
        assert!(out.status.success(), "mosquitto_pub {version}: {}", text(&out));
        let m = collector.message().await;
        assert_eq!(
            (m.topic.as_str(), &m.payload[..]),
            (topic(LANDLORD, device, "up").as_str(), version.as_bytes())
        );

        let ack = topic(LANDLORD, device, "ack");
        let mut subscribe = device_mosquitto(&fx, "mosquitto_sub", device);
        subscribe.args(["-V", version, "-i", device, "-q", "1", "-t", &ack, "-C", "1", "-W", "15"]);
        let sub = tokio::spawn(run(subscribe));
        // Until the subscriber has its message: it may not have subscribed yet.
        while !sub.is_finished() {
            collector
                .client
                .publish(&ack, QoS::AtLeastOnce, false, format!("ack for {version}"))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let out = sub.await.unwrap();
        assert!(out.status.success(), "mosquitto_sub {version}: {}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("ack for {version}"));
    }
    assert!(Refusal::ALL.iter().all(|r| fx.refusals(*r) == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_sub_as_the_collector_receives_uplinks() {
    let fx = Fixture::start().await;
    let p = fx.paths();
    let (cert, key) = (p.collector_cert(), p.collector_key());
    let mut subscribe = mosquitto(&fx, "mosquitto_sub", Some((&cert, &key)));
    subscribe.args(["-i", "collector", "-q", "1", "-t", "dw/v1/+/+/up", "-C", "1", "-W", "15", "-v"]);
    let sub = tokio::spawn(run(subscribe));
    let mut device = fx.device(GOOD);
    device.connected().await;
    while !sub.is_finished() {
        device.client.publish(topic(LANDLORD, GOOD, "up"), QoS::AtLeastOnce, false, "r1").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = sub.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{} r1", topic(LANDLORD, GOOD, "up")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_clients_are_refused_for_the_right_reasons() {
    let fx = Fixture::start().await;
    fx.issue(LANDLORD, "mq-bad");
    let mut good = fx.good_pair().await;

    let mut no_cert = mosquitto(&fx, "mosquitto_pub", None);
    no_cert.args(["-i", "mq-bad", "-t", &topic(LANDLORD, "mq-bad", "up"), "-m", "x"]);
    let out = run(no_cert).await;
    assert!(!out.status.success(), "{}", text(&out));
    fx.expect_refusal(Refusal::NoClientCertificate, 1).await;

    let mut wrong_id = device_mosquitto(&fx, "mosquitto_pub", "mq-bad");
    wrong_id.args(["-i", "not-me", "-t", &topic(LANDLORD, "mq-bad", "up"), "-m", "x"]);
    let out = run(wrong_id).await;
    assert!(!out.status.success(), "{}", text(&out));
    fx.expect_refusal(Refusal::ClientIdMismatch, 1).await;

    let mut forged = device_mosquitto(&fx, "mosquitto_pub", "mq-bad");
    forged.args(["-i", "mq-bad", "-q", "1", "-t", &topic(LANDLORD, GOOD, "up"), "-m", "forged"]);
    let _ = run(forged).await;
    fx.expect_refusal(Refusal::OtherDeviceTopic, 1).await;

    let mut everything = device_mosquitto(&fx, "mosquitto_sub", "mq-bad");
    everything.args(["-i", "mq-bad", "-t", "#", "-C", "1", "-W", "5"]);
    let _ = run(everything).await;
    fx.expect_refusal(Refusal::FilterNotAllowed, 1).await;

    good.round_trip().await;
}
