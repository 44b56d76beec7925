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
    let broker = fx.gateway.broker_addrs();
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
