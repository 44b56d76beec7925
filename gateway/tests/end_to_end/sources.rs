//! Where a connection comes from: the per-source limit, and load balancers that report the
//! client's address in a PROXY protocol v2 header.

use crate::common::*;
use crate::raw::Raw;
use dampwatch_gateway::proxy_protocol;
use dampwatch_gateway::{Config, Refusal};
use std::net::{Ipv4Addr, SocketAddr};
use tokio::io::AsyncWriteExt;

const BALANCER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Two new connections per source, then (practically) none.
fn two_per_source(c: &mut Config) {
    c.limits.connections_per_second_per_source = 0.001;
    c.limits.connection_burst_per_source = 2.0;
}

/// A device connecting from `from` (TLS and MQTT CONNECT); true if it was admitted.
async fn device_from(fx: &Fixture, from: Ipv4Addr, device: &str) -> bool {
    let tcp = connect_from(from, fx.gateway.local_addr()).await;
    device_over(fx, tcp, device).await
}

async fn device_over(fx: &Fixture, tcp: tokio::net::TcpStream, device: &str) -> bool {
    match Raw::over(tcp, fx.device_tls(device)).await {
        Ok(mut raw) => {
            raw.send(&crate::raw::connect_v4(device)).await;
            raw.read().await.is_some_and(|p| p.body.get(1) == Some(&0))
        }
        Err(_) => false,
    }
}

/// A device reaching the gateway through the balancer on behalf of a client at `client`.
async fn device_via_balancer(fx: &Fixture, client: &str, device: &str) -> bool {
    let mut tcp = connect_from(BALANCER, fx.gateway.local_addr()).await;
    let header = proxy_protocol::encode(client.parse().unwrap(), fx.gateway.local_addr());
    tcp.write_all(&header).await.unwrap();
    device_over(fx, tcp, device).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_source_address_has_its_own_limit() {
    let fx = Fixture::start_with(two_per_source).await;
    let (first, second) = (Ipv4Addr::new(127, 0, 0, 3), Ipv4Addr::new(127, 0, 0, 4));
    assert!(device_from(&fx, first, GOOD).await);
    assert!(device_from(&fx, first, GOOD).await);
    assert!(!device_from(&fx, first, GOOD).await, "the third from one address");
    fx.expect_refusal(Refusal::SourceRateLimited, 1).await;
    assert!(device_from(&fx, second, GOOD).await, "another address is another source");
    assert_eq!(fx.refusals(Refusal::SourceRateLimited), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_load_balancer_each_client_is_limited_by_its_own_address() {
    let fx = Fixture::start_with(|c| {
        two_per_source(c);
        c.listen.load_balancers = vec!["127.0.0.2/32".parse().unwrap()];
    })
    .await;
    fx.issue(LANDLORD, "other-1");
    // Every connection comes from the balancer's one address; the limit follows the clients.
    assert!(device_via_balancer(&fx, "203.0.113.7:40001", GOOD).await);
    assert!(device_via_balancer(&fx, "203.0.113.7:40002", GOOD).await);
    assert!(!device_via_balancer(&fx, "203.0.113.7:40003", GOOD).await, "that client's third");
    fx.expect_refusal(Refusal::SourceRateLimited, 1).await;
    assert!(device_via_balancer(&fx, "203.0.113.8:40004", "other-1").await, "another client");
    assert!(device_via_balancer(&fx, "[2001:db8::8]:40005", "other-1").await, "an IPv6 client");
    assert_eq!(fx.refusals(Refusal::SourceRateLimited), 1);
    // The log names the client, and the balancer it came through.
    let lines = log_lines_with("source=203.0.113.7:40003");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("reason=source_rate_limited"), "{}", lines[0]);
    assert!(lines[0].contains("via=127.0.0.2:"), "{}", lines[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_header_is_believed_only_from_a_load_balancer_and_required_from_one() {
    let fx = Fixture::start_with(|c| c.listen.load_balancers = vec!["127.0.0.2/32".parse().unwrap()]).await;
    let mut good = fx.good_pair().await;
    // Not a configured balancer: a header claiming another address is refused.
    let mut tcp = tokio::net::TcpStream::connect(fx.gateway.local_addr()).await.unwrap();
    let claim: SocketAddr = "198.51.100.1:4000".parse().unwrap();
    tcp.write_all(&proxy_protocol::encode(claim, fx.gateway.local_addr())).await.unwrap();
    assert!(!device_over(&fx, tcp, GOOD).await);
    fx.expect_refusal(Refusal::ProxyHeaderNotAllowed, 1).await;
    // The balancer without a header: refused, not taken as the balancer's own address.
    assert!(!device_from(&fx, BALANCER, GOOD).await);
    fx.expect_refusal(Refusal::ProxyHeaderMissing, 1).await;
    good.round_trip().await;
}
