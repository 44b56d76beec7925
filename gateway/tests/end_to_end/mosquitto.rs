//! Debian's `mosquitto_pub` and `mosquitto_sub` (package `mosquitto-clients`) as devices and as
//! the collector: another MQTT and TLS stack (C, OpenSSL) against the gateway.

use crate::common::*;
use dampwatch_gateway::Refusal;
use rumqttc::QoS;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
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
    let (cert, key) = fx.device_identity(device);
    mosquitto(fx, program, Some((&cert, &key)))
}

/// `mosquitto_pub` as `device` in protocol `version`: one QoS 1 message on `topic`.
fn qos1_publish(fx: &Fixture, version: &str, device: &str, topic: &str, message: &str) -> Command {
    let mut publish = device_mosquitto(fx, "mosquitto_pub", device);
    publish.args(["-V", version, "-i", device, "-q", "1", "-t", topic, "-m", message]);
    publish
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
        let publish = qos1_publish(&fx, version, device, &topic(LANDLORD, device, "up"), version);
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

/// The refusal reasons the gateway has counted so far.
fn counted(fx: &Fixture) -> Vec<Refusal> {
    Refusal::ALL.iter().copied().filter(|r| fx.refusals(*r) > 0).collect()
}

/// `mosquitto_pub` with this certificate (CN `device`) is refused at the TLS handshake for
/// `reason` alone, while the good pair keeps working.
async fn mosquitto_refused_at_handshake(
    fx: &Fixture,
    cert: &Path,
    key: &Path,
    device: &str,
    reason: Refusal,
) {
    let mut good = fx.good_pair().await;
    let mut publish = mosquitto(fx, "mosquitto_pub", Some((cert, key)));
    publish.args(["-i", device, "-q", "1", "-t", &topic(LANDLORD, device, "up"), "-m", "x"]);
    let out = run(publish).await;
    assert!(!out.status.success(), "mosquitto_pub was let in: {}", text(&out));
    fx.expect_refusal(reason, 1).await;
    good.round_trip().await;
    assert_eq!(counted(fx), [reason]);
    assert_eq!(fx.gateway.devices_connected(), 1, "only the good device is connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_pub_with_a_certificate_from_another_ca_is_refused() {
    let fx = Fixture::start().await;
    let (_other, cert, key) = foreign_pki(LANDLORD, "mq-foreign");
    mosquitto_refused_at_handshake(&fx, &cert, &key, "mq-foreign", Refusal::UnknownIssuer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_pub_with_an_expired_certificate_is_refused() {
    let fx = Fixture::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let (cert, key) = expired_certificate(&fx, scratch.path());
    mosquitto_refused_at_handshake(&fx, &cert, &key, "bad-1", Refusal::CertificateExpired).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_pub_with_a_revoked_certificate_is_refused() {
    let fx = Fixture::start_with(|c| c.tls.crl_poll_interval = Duration::from_secs(3600)).await;
    fx.issue(LANDLORD, "mq-revoked");
    dampwatch_pki::revoke(&fx.pki(), "mq-revoked").unwrap();
    fx.gateway.reload_crl().unwrap();
    let (cert, key) = fx.device_identity("mq-revoked");
    mosquitto_refused_at_handshake(&fx, &cert, &key, "mq-revoked", Refusal::CertificateRevoked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mosquitto_sub_is_closed_when_its_device_is_revoked() {
    // Only the explicit reload applies the new CRL, so that it can report what it closed.
    let fx = Fixture::start_with(|c| c.tls.crl_poll_interval = Duration::from_secs(3600)).await;
    fx.issue(LANDLORD, "mq-stolen");
    let mut good = fx.good_pair().await;
    let ack = topic(LANDLORD, "mq-stolen", "ack");
    let mut subscribe = device_mosquitto(&fx, "mosquitto_sub", "mq-stolen");
    subscribe.args(["-i", "mq-stolen", "-q", "1", "-t", &ack, "-W", "30"]);
    subscribe.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut sub =
        subscribe.spawn().expect("mosquitto clients are installed (Debian package mosquitto-clients)");
    let mut lines = BufReader::new(sub.stdout.take().unwrap()).lines();
    // Connected and subscribed once it prints an ack; until then it may not have subscribed.
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            good.collector.client.publish(&ack, QoS::AtLeastOnce, false, "hello").await.unwrap();
            if let Ok(line) = tokio::time::timeout(Duration::from_millis(100), lines.next_line()).await {
                break line.unwrap();
            }
        }
    })
    .await
    .expect("mosquitto_sub received an ack within 10 s");
    assert_eq!(first.as_deref(), Some("hello"));

    dampwatch_pki::revoke(&fx.pki(), "mq-stolen").unwrap();
    assert_eq!(fx.gateway.reload_crl().unwrap(), 1, "the reload closed the live connection");
    // Well before its own 30 s timeout.
    let status = tokio::time::timeout(Duration::from_secs(10), sub.wait())
        .await
        .expect("mosquitto_sub closed within 10 s of the revocation")
        .unwrap();
    let mut stderr = String::new();
    sub.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
    assert!(!status.success(), "mosquitto_sub: {status}: {stderr}");
    fx.expect_refusal(Refusal::RevokedWhileConnected, 1).await;
    assert_eq!(fx.refusals(Refusal::RevokedWhileConnected), 1);

    // It cannot come back (mosquitto_sub itself may have tried once already).
    let before = fx.refusals(Refusal::CertificateRevoked);
    let mut publish = device_mosquitto(&fx, "mosquitto_pub", "mq-stolen");
    publish.args(["-i", "mq-stolen", "-q", "1", "-t", &topic(LANDLORD, "mq-stolen", "up"), "-m", "x"]);
    let out = run(publish).await;
    assert!(!out.status.success(), "mosquitto_pub was let in: {}", text(&out));
    fx.expect_refusal(Refusal::CertificateRevoked, before + 1).await;
    good.round_trip().await;
    assert_eq!(counted(&fx), [Refusal::CertificateRevoked, Refusal::RevokedWhileConnected]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_pub_to_another_landlords_topic_is_refused() {
    let fx = Fixture::start().await;
    let mut good = fx.good_pair().await;
    for (n, (version, device)) in
        [("mqttv311", "mq-rival-4"), ("mqttv5", "mq-rival-5")].into_iter().enumerate()
    {
        fx.issue(LANDLORD, device);
        let publish = qos1_publish(&fx, version, device, &topic("rival", device, "up"), "forged");
        let out = run(publish).await;
        assert!(!out.status.success(), "mosquitto_pub {version} was not disconnected: {}", text(&out));
        fx.expect_refusal(Refusal::OtherLandlordTopic, n as u64 + 1).await;
        good.round_trip().await;
    }
    assert_eq!(counted(&fx), [Refusal::OtherLandlordTopic]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_packet_from_mosquitto_pub_is_refused() {
    const MAX: usize = 4096;
    let fx = Fixture::start_with(|c| c.limits.max_packet_bytes = MAX).await;
    fx.issue(LANDLORD, "mq-big");
    let mut good = fx.good_pair().await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("reading");
    std::fs::write(&file, vec![b'7'; 2 * MAX]).unwrap();
    let mut publish = device_mosquitto(&fx, "mosquitto_pub", "mq-big");
    publish.args(["-i", "mq-big", "-q", "1", "-t", &topic(LANDLORD, "mq-big", "up"), "-f"]).arg(&file);
    let out = run(publish).await;
    assert!(!out.status.success(), "mosquitto_pub was not disconnected: {}", text(&out));
    fx.expect_refusal(Refusal::PacketTooLarge, 1).await;
    good.round_trip().await;
    assert_eq!(counted(&fx), [Refusal::PacketTooLarge]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_from_mosquitto_pub_is_cut_off() {
    let fx = Fixture::start_with(|c| {
        c.limits.device_messages_per_second = 2.0;
        c.limits.device_message_burst = 20.0;
    })
    .await;
    fx.issue(LANDLORD, "mq-flood");
    let mut good = fx.good_pair().await;
    // Ten times the burst, back to back. (With -l, mosquitto_pub would reconnect after the cut and
    // carry on; --repeat gives up and reports the lost connection.)
    let mut publish = device_mosquitto(&fx, "mosquitto_pub", "mq-flood");
    publish.args(["-i", "mq-flood", "-q", "1", "-t", &topic(LANDLORD, "mq-flood", "up"), "-m", "x"]);
    publish.args(["--repeat", "200"]);
    let out = run(publish).await;
    assert!(!out.status.success(), "mosquitto_pub was not cut off: {}", text(&out));
    fx.expect_refusal(Refusal::MessageRateExceeded, 1).await;
    good.round_trip().await;
    assert_eq!(counted(&fx), [Refusal::MessageRateExceeded]);
}
