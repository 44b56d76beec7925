//! The embedded broker listens on loopback only.

use crate::common::*;
use std::collections::HashSet;

/// Socket inodes of this process's open file descriptors.
fn own_socket_inodes() -> HashSet<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|t| t.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok())
        .collect()
}

/// Local addresses (hex, as in /proc/net/tcp*) of listening sockets with the given inodes.
fn listening(table: &str, inodes: &HashSet<u64>) -> Vec<String> {
    let text = std::fs::read_to_string(table).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let inode: u64 = f.get(9)?.parse().ok()?;
            (f.get(3) == Some(&"0A") && inodes.contains(&inode)).then(|| f[1].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listening_socket_of_the_gateway_is_on_loopback() {
    let fx = Fixture::start().await;
    let broker = fx.gateway.broker_addrs().expect("the embedded broker runs");
    assert!(broker.v4.ip().is_loopback() && broker.v5.ip().is_loopback(), "{broker:?}");
    let inodes = own_socket_inodes();
    let v4 = listening("/proc/self/net/tcp", &inodes);
    let ports: Vec<u16> = v4.iter().map(|a| u16::from_str_radix(&a[9..], 16).unwrap()).collect();
    for p in [broker.v4.port(), broker.v5.port(), fx.port()] {
        assert!(ports.contains(&p), "port {p} is listening in this process: {v4:?}");
    }
    // 0100007F is 127.0.0.1 in /proc's byte order; every listener of every gateway in this
    // test process must be on it.
    for addr in &v4 {
        assert!(addr.starts_with("0100007F:"), "listening on a non-loopback address: {addr}");
    }
    for addr in listening("/proc/self/net/tcp6", &inodes) {
        assert!(addr.starts_with("00000000000000000000000001000000:"), "IPv6 non-loopback listener: {addr}");
    }
}

/// What the broker answers a CONNECT on `addr`: the CONNACK's return code, or `None` when it
/// closes the connection without one.
async fn connack_code(addr: std::net::SocketAddr, connect: &[u8]) -> Option<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the broker's port is open");
    stream.write_all(connect).await.ok()?;
    let mut buf = [0u8; 4];
    // A refused login is closed by the broker; a bounded read, never a fixed wait.
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_exact(&mut buf)).await;
    match read {
        Ok(Ok(_)) if buf[0] == 0x20 => Some(buf[3]),
        _ => None,
    }
}

/// MQTT 5 CONNECT without properties or login.
fn connect_v5(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 30, 0];
    body.extend((client_id.len() as u16).to_be_bytes());
    body.extend(client_id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

/// Loopback is reachable by every local account: a process that finds the broker's ports and
/// connects as the collector without the gateway's login is refused on both listeners, while
/// the gateway's own login is accepted; relayed services still work (every other test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_process_without_the_gateways_login_cannot_use_the_broker() {
    use dampwatch_gateway::mqtt::encode;
    let fx = Fixture::start().await;
    let broker = fx.gateway.broker_addrs().expect("the embedded broker runs");
    let mut bare = bytes::BytesMut::new();
    encode::connect_v4(&mut bare, "collector", 30, false);
    assert_eq!(connack_code(broker.v4, &bare).await, None, "MQTT 3.1.1 without a login");
    assert_eq!(connack_code(broker.v5, &connect_v5("collector")).await, None, "MQTT 5 without a login");
    let mut wrong = bytes::BytesMut::new();
    encode::connect_v4_login(&mut wrong, "collector", 30, false, Some(("dampwatch-gateway", "guess")));
    assert_eq!(connack_code(broker.v4, &wrong).await, None, "a wrong password");

    let login = fx.gateway.broker_login().expect("the embedded broker runs");
    let mut right = bytes::BytesMut::new();
    encode::connect_v4_login(&mut right, "probe", 30, true, Some(login.pair()));
    assert_eq!(connack_code(broker.v4, &right).await, Some(0), "the gateway's login is accepted");
    assert!(!format!("{login:?}").contains(&login.password), "the password never prints");
}
