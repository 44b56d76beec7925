//! Reading whole MQTT packets from a stream and writing with a deadline; shared by device
//! sessions, service relays and the broker links.

use crate::mqtt::{self, FixedHeader};
use crate::refusal::Refusal;
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Buffers above this size are dropped once empty, so idle connections hold no large buffers.
pub const KEEP_BUFFER_BYTES: usize = 1024;

/// The header of the whole packet at the start of `buf`, if it is all there.
pub fn complete_packet(buf: &[u8], max: usize) -> Result<Option<FixedHeader>, Refusal> {
    match mqtt::fixed_header(buf) {
        Err(_) => Err(Refusal::MalformedPacket),
        Ok(Some(h)) if h.packet_len() > max => Err(Refusal::PacketTooLarge),
        Ok(Some(h)) if buf.len() >= h.packet_len() => Ok(Some(h)),
        Ok(_) => Ok(None),
    }
}

/// Reads until `buf` holds one whole packet; returns its header. `Ok(None)` when the peer
/// closed the stream between packets (or reset it); a packet the end of the stream cuts short
/// is malformed. A packet larger than `max` is refused as soon as its length is known, before
/// it is buffered, so `buf` never grows beyond `max`.
///
/// Cancel-safe: bytes read before a cancellation stay in `buf`.
pub async fn read_packet<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<FixedHeader>, Refusal> {
    loop {
        if let Some(h) = complete_packet(buf, max)? {
            return Ok(Some(h));
        }
        match mqtt::fixed_header(buf) {
            Ok(Some(h)) => buf.reserve(h.packet_len() - buf.len()),
            _ => buf.reserve(64),
        }
        match r.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => return Err(Refusal::MalformedPacket),
            Ok(_) => {}
            // rustls reports records it cannot decrypt or parse as InvalidData.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Err(Refusal::TlsProtocol),
            // The TCP stream ended without TLS's close_notify: inside a packet, the packet was
            // cut short by its sender, as when a plain stream ends there.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {
                return Err(Refusal::MalformedPacket)
            }
            // A reset, or the end between packets: the client went away.
            Err(_) => return Ok(None),
        }
    }
}

/// Drops a large buffer once it is empty.
pub fn release_if_idle(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > KEEP_BUFFER_BYTES {
        *buf = BytesMut::new();
    }
}

/// How a write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// The peer did not take the bytes in time: it stopped reading.
    TooSlow,
    /// The connection is gone.
    Closed,
}

/// Writes and flushes all of `buf` (then empties it), within `limit`.
pub async fn write_within<W: AsyncWrite + Unpin>(
    w: &mut W,
    buf: &mut BytesMut,
    limit: Duration,
) -> Result<(), WriteError> {
    if buf.is_empty() {
        return Ok(());
    }
    let write = async {
        w.write_all(buf).await?;
        w.flush().await
    };
    match tokio::time::timeout(limit, write).await {
        Err(_) => Err(WriteError::TooSlow),
        Ok(Err(_)) => Err(WriteError::Closed),
        Ok(Ok(())) => {
            buf.clear();
            release_if_idle(buf);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_packets_split_across_reads_and_refuses_oversize_early() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let mut buf = BytesMut::new();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            a.write_all(&[0xC0]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            a.write_all(&[0x00, 0x30, 0xFF, 0x7F]).await.unwrap();
        });
        let h = read_packet(&mut b, &mut buf, 100).await.unwrap().unwrap();
        assert_eq!(h.packet_len(), 2);
        let _ = buf.split_to(2);
        assert_eq!(read_packet(&mut b, &mut buf, 100).await, Err(Refusal::PacketTooLarge));
        assert!(buf.capacity() < 1024, "the oversize packet was not buffered");
    }

    /// Gives `bytes`, then fails with `error` (how a TLS stream reports a TCP end without
    /// close_notify).
    struct EndsWith {
        bytes: &'static [u8],
        error: std::io::ErrorKind,
    }

    impl AsyncRead for EndsWith {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            out: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.bytes.is_empty() {
                return std::task::Poll::Ready(Err(self.error.into()));
            }
            out.put_slice(self.bytes);
            self.bytes = &[];
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_packet_cut_short_by_the_end_of_the_stream_is_malformed_and_a_reset_is_a_close() {
        use std::io::ErrorKind::{ConnectionReset, UnexpectedEof};
        // A PUBLISH announcing 48 bytes, of which 3 arrive.
        let mut cut = EndsWith { bytes: &[0x30, 0x30, 0x00, 0x05, b'd'], error: UnexpectedEof };
        assert_eq!(read_packet(&mut cut, &mut BytesMut::new(), 100).await, Err(Refusal::MalformedPacket));
        let mut between = EndsWith { bytes: &[], error: UnexpectedEof };
        assert_eq!(read_packet(&mut between, &mut BytesMut::new(), 100).await, Ok(None));
        let mut reset = EndsWith { bytes: &[0x30, 0x30, 0x00], error: ConnectionReset };
        assert_eq!(read_packet(&mut reset, &mut BytesMut::new(), 100).await, Ok(None));
    }

    #[tokio::test]
    async fn end_of_stream_between_packets_is_a_clean_close() {
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        assert_eq!(read_packet(&mut b, &mut BytesMut::new(), 100).await, Ok(None));
    }
}
