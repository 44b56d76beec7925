//! Graceful shutdown: publishes the gateway has received are acknowledged before it closes.

use crate::common::*;
use crate::raw::Raw;
use dampwatch_gateway::mqtt::PacketType;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_publishes_are_acknowledged_on_shutdown() {
    let fx = Fixture::start_with(|c| c.limits.device_message_burst = 1000.0).await;
    let mut collector = fx.collector();
    collector.connected().await;
    let mut raw = Raw::connect(fx.port(), fx.device_tls(GOOD)).await.unwrap();
    assert_eq!(raw.mqtt_connect(GOOD).await, 0);
    // A burst of QoS 1 publishes in one write; shut down while they are being handled.
    let up = topic(LANDLORD, GOOD, "up");
    let burst: Vec<u8> =
        (1..=300u16).flat_map(|id| crate::raw::publish(&up, 1, id, &[0u8; 200]).to_vec()).collect();
    raw.send(&burst).await;
    let metrics = fx.gateway.metrics();
    while metrics.messages_in.get() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let Fixture { gateway, dir: _dir } = fx;
    let shutdown = tokio::spawn(gateway.shutdown());
    let mut acked = Vec::new();
    while let Some(p) = raw.read().await {
        assert_eq!(p.kind, PacketType::Puback);
        acked.push(u16::from_be_bytes([p.body[0], p.body[1]]));
    }
    shutdown.await.unwrap();
    let received = metrics.messages_in.get() as usize;
    assert!(received >= 1);
    assert_eq!(acked.len(), received, "every publish the gateway took was acknowledged");
    assert_eq!(acked, (1..=received as u16).collect::<Vec<_>>(), "in order");
}
