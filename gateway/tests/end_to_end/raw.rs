//! A byte-level TLS client, for what well-behaved MQTT clients never send.

use bytes::BytesMut;
use dampwatch_gateway::mqtt::{self, encode, PacketType};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub struct Raw {
    pub tls: TlsStream<TcpStream>,
    buf: BytesMut,
}

/// A packet as read back: its type and body.
#[derive(Debug)]
pub struct Received {
    pub kind: PacketType,
    pub body: Vec<u8>,
}

impl Raw {
    /// TCP connect and TLS handshake (a refused client certificate shows up on the first read).
    pub async fn connect(port: u16, tls: Arc<rustls::ClientConfig>) -> std::io::Result<Raw> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        Raw::over(tcp, tls).await
    }

    /// TLS handshake over a TCP connection already open (and perhaps already written to).
    pub async fn over(tcp: TcpStream, tls: Arc<rustls::ClientConfig>) -> std::io::Result<Raw> {
        let name = ServerName::try_from("127.0.0.1").expect("IP name");
        let tls = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await?;
        Ok(Raw { tls, buf: BytesMut::new() })
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).await.unwrap();
        self.tls.flush().await.unwrap();
    }

    /// Sends an MQTT 3.1.1 CONNECT and returns the CONNACK return code.
    pub async fn mqtt_connect(&mut self, client_id: &str) -> u8 {
        self.send(&connect_v4(client_id)).await;
        let p = self.read().await.expect("CONNACK");
        assert_eq!(p.kind, PacketType::Connack);
        p.body[1]
    }

    /// The next packet, or None when the connection ends (or nothing arrives within 10 s).
    pub async fn read(&mut self) -> Option<Received> {
        loop {
            if let Ok(Some(h)) = mqtt::fixed_header(&self.buf) {
                if self.buf.len() >= h.packet_len() {
                    let p = self.buf.split_to(h.packet_len());
                    return Some(Received { kind: h.kind, body: p[h.header_len..].to_vec() });
                }
            }
            match tokio::time::timeout(Duration::from_secs(10), self.tls.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    /// True if the gateway closes the connection within 10 s (whatever it sends first).
    pub async fn closed(&mut self) -> bool {
        let mut sink = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.tls.read(&mut sink)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

/// An MQTT 3.1.1 CONNECT with a clean session and a 30 s keep-alive.
pub fn connect_v4(client_id: &str) -> BytesMut {
    let mut out = BytesMut::new();
    encode::connect_v4(&mut out, client_id, 30, true);
    out
}

/// An MQTT 3.1.1 PUBLISH.
pub fn publish(topic: &str, qos: u8, packet_id: u16, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    encode::publish(&mut out, mqtt::LEVEL_V4, topic.as_bytes(), qos, false, packet_id, payload);
    out
}
