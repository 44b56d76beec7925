//! A minimal MQTT 3.1.1 client over TLS, the same for both brokers: connect (from one of many
//! loopback source addresses, so ten thousand connections never run short of ports), subscribe,
//! ping, publish with a window of QoS 1 messages in flight, and a subscriber that acknowledges
//! in order.

use crate::mqtt::{self, encode, PacketType, LEVEL_V4};
use anyhow::{bail, Context};
use bytes::BytesMut;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::client::TlsStream;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Long enough that neither broker expects a ping while connections sit idle.
const KEEP_ALIVE_S: u16 = 900;
const MAX_PACKET: usize = 1 << 20;

/// One of 200 loopback source addresses.
pub fn source_address(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, 1 + (n % 200) as u8)
}

/// A connected MQTT client.
pub struct Conn {
    pub tls: TlsStream<TcpStream>,
    buf: BytesMut,
}

async fn read_one<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
) -> anyhow::Result<(PacketType, Vec<u8>)> {
    loop {
        if let Ok(Some(h)) = mqtt::fixed_header(buf) {
            if h.packet_len() > MAX_PACKET {
                bail!("packet of {} bytes", h.packet_len());
            }
            if buf.len() >= h.packet_len() {
                let p = buf.split_to(h.packet_len());
                return Ok((h.kind, p[h.header_len..].to_vec()));
            }
        }
        if r.read_buf(buf).await? == 0 {
            bail!("connection closed");
        }
    }
}

impl Conn {
    /// TCP + TLS + CONNECT/CONNACK, then SUBSCRIBE/SUBACK if `subscribe` is not empty. The
    /// socket is reset rather than closed when dropped, so no port lingers in TIME_WAIT.
    pub async fn open(
        broker: SocketAddr,
        source: Ipv4Addr,
        tls: Arc<ClientConfig>,
        client_id: &str,
        subscribe: &[(&str, u8)],
    ) -> anyhow::Result<Conn> {
        let go = async {
            let socket = TcpSocket::new_v4()?;
            socket.set_zero_linger()?;
            socket.bind(SocketAddr::from((source, 0)))?;
            let tcp = socket.connect(broker).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from("127.0.0.1")?;
            let tls = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await?;
            let mut conn = Conn { tls, buf: BytesMut::new() };
            let mut out = BytesMut::new();
            encode::connect_v4(&mut out, client_id, KEEP_ALIVE_S, true);
            if !subscribe.is_empty() {
                encode::subscribe_v4(&mut out, 1, subscribe);
            }
            conn.send(&out).await?;
            let (kind, body) = conn.read().await?;
            if kind != PacketType::Connack || body.get(1) != Some(&0) {
                bail!("connection refused: {kind:?} {body:?}");
            }
            if !subscribe.is_empty() {
                let (kind, body) = conn.read().await?;
                if kind != PacketType::Suback || body[2..].contains(&0x80) {
                    bail!("subscription refused: {kind:?} {body:?}");
                }
            }
            anyhow::Ok(conn)
        };
        tokio::time::timeout(TIMEOUT, go).await.context("connecting timed out")?
    }

    pub async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.tls.write_all(bytes).await?;
        self.tls.flush().await?;
        Ok(())
    }

    pub async fn read(&mut self) -> anyhow::Result<(PacketType, Vec<u8>)> {
        read_one(&mut self.tls, &mut self.buf).await
    }

    /// PINGREQ and its PINGRESP: the connection is alive end to end.
    pub async fn ping(&mut self) -> anyhow::Result<()> {
        let mut out = BytesMut::new();
        encode::pingreq(&mut out);
        self.send(&out).await?;
        let go = async {
            loop {
                if self.read().await?.0 == PacketType::Pingresp {
                    return anyhow::Ok(());
                }
            }
        };
        tokio::time::timeout(TIMEOUT, go).await.context("no PINGRESP")?
    }

    /// Publishes `count` QoS 1 messages on `topic`, at most `window` unacknowledged, and
    /// returns when every one is acknowledged.
    pub async fn publish_all(
        self,
        topic: &str,
        count: usize,
        window: usize,
        payload: &[u8],
    ) -> anyhow::Result<()> {
        let (mut r, mut w) = tokio::io::split(self.tls);
        let mut buf = self.buf;
        let slots = Arc::new(Semaphore::new(window));
        let acks = {
            let slots = slots.clone();
            async move {
                let mut acked = 0;
                while acked < count {
                    let (kind, _) = read_one(&mut r, &mut buf).await?;
                    if kind == PacketType::Puback {
                        acked += 1;
                        slots.add_permits(1);
                    }
                }
                anyhow::Ok(())
            }
        };
        let sends = async {
            let mut out = BytesMut::new();
            for n in 0..count {
                slots.acquire().await?.forget();
                let id = (n % usize::from(u16::MAX)) as u16 + 1;
                encode::publish(&mut out, LEVEL_V4, topic.as_bytes(), 1, false, id, payload);
                // Send what is queued whenever the window is full or nothing more is allowed.
                if slots.available_permits() == 0 || n + 1 == count {
                    w.write_all(&out).await?;
                    w.flush().await?;
                    out.clear();
                }
            }
            anyhow::Ok(())
        };
        let (a, s) = tokio::join!(acks, sends);
        a.and(s)
    }

    /// Receives QoS 1 messages, acknowledging each in order, until `received` reaches `total`.
    pub async fn receive(mut self, total: u64, received: Arc<AtomicU64>) -> anyhow::Result<()> {
        let mut acks = BytesMut::new();
        loop {
            while let Ok(Some(h)) = mqtt::fixed_header(&self.buf) {
                if self.buf.len() < h.packet_len() {
                    break;
                }
                let p = self.buf.split_to(h.packet_len());
                if h.kind == PacketType::Publish {
                    let publish = mqtt::publish(h.flags, &p[h.header_len..], LEVEL_V4)?;
                    if let Some((id, _)) = publish.packet_id {
                        encode::puback(&mut acks, id);
                    }
                    received.fetch_add(1, Relaxed);
                }
            }
            if !acks.is_empty() {
                self.send(&acks).await?;
                acks.clear();
            }
            if received.load(Relaxed) >= total {
                return Ok(());
            }
            if self.tls.read_buf(&mut self.buf).await? == 0 {
                bail!("subscriber connection closed");
            }
        }
    }
}
