//! Connection slots: connections still in their TLS handshake have a budget of their own, and
//! services have slots that devices cannot take.

use crate::common::*;
use dampwatch_gateway::Refusal;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_connections_cannot_keep_a_device_out() {
    const FLOOD: usize = 64;
    let fx = Fixture::start_with(|c| {
        // Long enough that no flood connection times out during the test.
        c.tls.handshake_timeout = Duration::from_secs(120);
        c.limits.max_handshakes = 8;
    })
    .await;
    // 64 connections from 32 loopback addresses that never send a ClientHello.
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let from = Ipv4Addr::new(127, 0, 0, 10 + (i % 32) as u8);
        flood.push(connect_from(from, fx.gateway.local_addr()).await);
    }
    let metrics = fx.gateway.metrics();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics.connections_accepted.get() < FLOOD as u64 {
        assert!(Instant::now() < deadline, "the gateway accepted the whole flood");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The flood holds the whole handshake budget and no more: each newcomer displaced the oldest.
    assert_eq!(metrics.handshakes_pending.get(), 8);
    fx.expect_refusal(Refusal::HandshakeDisplaced, (FLOOD - 8) as u64).await;
    let mut good = fx.good_pair().await;
    good.round_trip().await;
    // The device displaced one more; once its handshake was over, the collector found room.
    // Every displaced connection is closed; the rest still wait.
    let displaced = FLOOD - 8 + 1;
    fx.expect_refusal(Refusal::HandshakeDisplaced, displaced as u64).await;
    assert_eq!(fx.refusals(Refusal::HandshakeDisplaced), displaced as u64);
    let mut byte = [0u8; 1];
    for tcp in &mut flood[..displaced] {
        assert_eq!(tcp.read(&mut byte).await.unwrap_or(0), 0, "a displaced connection is closed");
    }
    assert_eq!(fx.refusals(Refusal::TooManyConnections), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_connects_when_every_device_slot_is_taken() {
    let fx = Fixture::start_with(|c| c.limits.max_connections = 1).await;
    fx.issue(LANDLORD, "late-1");
    let mut device = fx.device(GOOD);
    device.connected().await;
    let mut late = fx.device("late-1");
    late.closed().await;
    fx.expect_refusal(Refusal::TooManyConnections, 1).await;
    // The collector still gets in, and the device's uplinks reach it.
    let mut good = fx.good_pair_with(device).await;
    good.round_trip().await;
}
