//! A client's TLS connection, on rustls's unbuffered API with buffers this type owns and frees
//! whenever it waits for the client with them empty.
//!
//! Why not `tokio-rustls`: rustls's buffered `ServerConnection` keeps a 4 KiB receive buffer for
//! as long as the connection lives, whether or not anything is arriving, and an idle device
//! connection is most of what a gateway holds: that buffer was a third of an idle device's
//! memory (`dampwatch bench gateway`). Here the TLS bytes received and not yet processed, the TLS
//! bytes waiting to be sent and the decrypted bytes not yet read each live in a `Vec` that is
//! dropped whenever the stream waits for the client with it empty, so an idle connection holds
//! its socket, the connection state and its keys, and no buffer at all.
//!
//! rustls still does all of TLS (handshake, certificate checks, records, alerts, key updates,
//! close_notify); this type only moves bytes between the socket and rustls, in order.

use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use rustls::ServerConfig;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How much to ask the socket for at least, once something is arriving.
const READ_SIZE: usize = 4096;
/// The most received TLS bytes held unprocessed, as rustls's own buffer allows: a handshake
/// message of up to 64 KiB (the largest a client's certificate chain may take).
const MAX_INCOMING: usize = 0xffff;
/// Encrypted bytes queued for the socket beyond which a write waits for the socket first, and
/// the most plaintext one write takes.
const MAX_OUTGOING: usize = 64 * 1024;

/// A server-side TLS stream over TCP.
pub struct TlsStream {
    tcp: TcpStream,
    /// Boxed (1 KiB): a connection's task is a future sized for every state it passes through,
    /// and an async function keeps a value it is given, or moves out of a result, in more than
    /// one slot; inline, the connection state would take its size several times over in every
    /// connection's task.
    conn: Box<UnbufferedServerConnection>,
    /// TLS bytes received and not yet processed.
    incoming: Vec<u8>,
    /// TLS bytes to send; `outgoing[..sent]` are already sent.
    outgoing: Vec<u8>,
    sent: usize,
    /// Decrypted bytes; `plaintext[..taken]` are already read.
    plaintext: Vec<u8>,
    taken: usize,
    /// The client sent close_notify: the stream ends after `plaintext`.
    peer_closed: bool,
    /// rustls says the connection is closed both ways.
    closed: bool,
    /// `poll_shutdown` has queued close_notify (or found it could not).
    closing: bool,
    /// What rustls failed with; the stream answers it from then on.
    failed: Option<rustls::Error>,
}

/// Where the connection stands after the TLS bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Handshaking, and the next handshake message has not arrived whole.
    Blocked,
    /// Application data may flow (and any complete records received were processed).
    Traffic,
    /// Closed both ways.
    Closed,
}

/// What to encrypt once the connection is ready for application data.
enum Output<'a> {
    Nothing,
    Data(&'a [u8]),
    CloseNotify,
}

impl TlsStream {
    /// Runs the handshake on `tcp` as a TLS server under `config`. An error from rustls comes
    /// back as `InvalidData` carrying the `rustls::Error` (as `tokio-rustls` reports it), after
    /// the alert that tells the client why has been sent, where the socket takes it.
    pub async fn accept(tcp: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsStream> {
        let conn = Box::new(UnbufferedServerConnection::new(config).map_err(invalid_data)?);
        let mut s = TlsStream {
            tcp,
            conn,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            sent: 0,
            plaintext: Vec::new(),
            taken: 0,
            peer_closed: false,
            closed: false,
            closing: false,
            failed: None,
        };
        loop {
            let step = match s.process(Output::Nothing) {
                Ok(step) => step,
                Err(e) => {
                    let _ = poll_fn(|cx| s.poll_send(cx)).await;
                    return Err(invalid_data(e));
                }
            };
            poll_fn(|cx| s.poll_send(cx)).await?;
            if !s.conn.is_handshaking() {
                return Ok(s);
            }
            if step == Step::Closed || s.peer_closed {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if poll_fn(|cx| s.poll_fill(cx)).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// The client's certificate chain, leaf first (the handshake required one).
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Processes the received TLS bytes until rustls needs more or is ready for application
    /// data, and then encrypts `send`. Decrypted data goes to `plaintext` and handshake or alert
    /// records to `outgoing`.
    fn process(&mut self, send: Output<'_>) -> Result<Step, rustls::Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.process_records(send);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Every error, whichever record or state it came from, takes the same way out: the bytes
    /// rustls is done with are dropped and what it queued for the client (its alert last)
    /// goes to `outgoing`.
    fn process_records(&mut self, send: Output<'_>) -> Result<Step, rustls::Error> {
        let mut done = 0;
        let result = self.process_from(&mut done, send);
        // Dropped once per call, not once per record: each drop moves what follows, and a
        // read from the socket may hold hundreds of small records.
        consume(&mut self.incoming, done);
        if result.is_err() {
            self.queue_alert();
        }
        result
    }

    /// [`Self::process_records`]'s loop over `incoming[*done..]`; `done` counts the bytes rustls
    /// has finished with, which stay in place until the loop returns.
    fn process_from(&mut self, done: &mut usize, mut send: Output<'_>) -> Result<Step, rustls::Error> {
        loop {
            let status = self.conn.process_tls_records(&mut self.incoming[*done..]);
            *done += status.discard;
            let step = match status.state? {
                ConnectionState::ReadTraffic(mut records) => {
                    while let Some(record) = records.next_record() {
                        let record = record?;
                        *done += record.discard;
                        self.plaintext.extend_from_slice(record.payload);
                    }
                    None
                }
                ConnectionState::EncodeTlsData(mut data) => {
                    append(&mut self.outgoing, |out| data.encode(out), encode_needs).map_err(general)?;
                    None
                }
                // The bytes are in `outgoing`, ahead of anything queued after them, and go out
                // before this stream reads or finishes a write or a flush again.
                ConnectionState::TransmitTlsData(transmit) => {
                    transmit.done();
                    None
                }
                ConnectionState::PeerClosed => {
                    self.peer_closed = true;
                    None
                }
                ConnectionState::Closed => Some(Step::Closed),
                ConnectionState::BlockedHandshake => Some(Step::Blocked),
                ConnectionState::WriteTraffic(mut traffic) => {
                    match std::mem::replace(&mut send, Output::Nothing) {
                        Output::Nothing => {}
                        Output::Data(data) => {
                            append(&mut self.outgoing, |out| traffic.encrypt(data, out), encrypt_needs)
                                .map_err(general)?
                        }
                        Output::CloseNotify => {
                            append(&mut self.outgoing, |out| traffic.queue_close_notify(out), encrypt_needs)
                                .map_err(general)?
                        }
                    }
                    Some(Step::Traffic)
                }
                // Early data is never enabled in the gateway's configuration.
                _ => return Err(rustls::Error::General("unexpected early data".into())),
            };
            if let Some(step) = step {
                self.closed |= step == Step::Closed;
                return Ok(step);
            }
        }
    }

    /// After an error: the records rustls queued for the client, its alert last (a key update
    /// it held back goes first), into `outgoing`. rustls hands queued records out one per call
    /// before it would look at `incoming` again, and is not called once they are out: it would
    /// process the rest of the input and fail a second time.
    fn queue_alert(&mut self) {
        // A held key update and the alert; the bound only guards against a loop.
        for _ in 0..4 {
            if !self.conn.wants_write() {
                return;
            }
            let status = self.conn.process_tls_records(&mut self.incoming);
            let Ok(ConnectionState::EncodeTlsData(mut data)) = status.state else {
                return;
            };
            if append(&mut self.outgoing, |out| data.encode(out), encode_needs).is_err() {
                return;
            }
        }
    }

    /// Reads from the socket into `incoming`; `Ok(0)` at the end of the TCP stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            self.release_empty_buffers();
            ready!(self.tcp.poll_read_ready(cx))?;
            // The buffer grows by what arrives, never by what a record's header announces.
            if self.incoming.len() >= MAX_INCOMING {
                // A peer's violation like those rustls finds: the stream fails from here on,
                // and its end is no orderly close_notify.
                let e = rustls::Error::General("received TLS message too large".into());
                self.failed = Some(e.clone());
                return Poll::Ready(Err(invalid_data(e)));
            }
            self.incoming.reserve_exact(READ_SIZE);
            match self.tcp.try_read_buf(&mut self.incoming) {
                Ok(n) => return Poll::Ready(Ok(n)),
                // Nothing after all: the loop releases the buffer again before it waits.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Sends everything in `outgoing`.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.outgoing.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Sends what of `outgoing` the socket takes without waiting.
    fn try_send(&mut self) -> io::Result<()> {
        while self.sent < self.outgoing.len() {
            match self.tcp.try_write(&self.outgoing[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Frees every buffer with nothing in it. Called whenever the stream is about to wait for
    /// the client, which is where an idle connection waits: a busy one reuses its buffers from
    /// one record to the next and allocates at most once per read from the socket.
    fn release_empty_buffers(&mut self) {
        if self.incoming.is_empty() {
            self.incoming = Vec::new();
        }
        if self.taken == self.plaintext.len() {
            self.plaintext = Vec::new();
            self.taken = 0;
        }
        if self.sent == self.outgoing.len() {
            self.outgoing = Vec::new();
            self.sent = 0;
        }
    }

    /// Copies decrypted bytes to `buf`; true when there were any.
    fn take_plaintext(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        let available = &self.plaintext[self.taken..];
        if available.is_empty() {
            return false;
        }
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.taken += n;
        if self.taken == self.plaintext.len() {
            self.plaintext.clear();
            self.taken = 0;
        }
        true
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let s = self.get_mut();
        loop {
            if s.take_plaintext(buf) || s.peer_closed || s.closed {
                return Poll::Ready(Ok(()));
            }
            let processed = s.process(Output::Nothing);
            // Records authenticated before a bad one are read first; the failure is kept and
            // answers the next read.
            if !s.plaintext.is_empty() {
                continue;
            }
            processed.map_err(invalid_data)?;
            if s.peer_closed || s.closed {
                continue;
            }
            // What processing queued (the answer to a key update, an alert) goes out first, as
            // far as the socket takes it now: a read does not wait for the socket to take more,
            // nor take the place of a writer waiting for it (a socket wakes one task per
            // direction). The rest goes with the next write, flush or shutdown.
            s.try_send()?;
            if ready!(s.poll_fill(cx))? == 0 {
                // The TCP stream ended without close_notify: the data may be truncated.
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let s = self.get_mut();
        if s.outgoing.len() - s.sent >= MAX_OUTGOING {
            ready!(s.poll_send(cx))?;
        }
        if s.sent > 0 {
            s.outgoing.drain(..s.sent);
            s.sent = 0;
        }
        // At most MAX_OUTGOING at a time: what waits for the socket stays bounded.
        let data = &data[..data.len().min(MAX_OUTGOING)];
        match s.process(Output::Data(data)).map_err(invalid_data)? {
            Step::Traffic => Poll::Ready(Ok(data.len())),
            Step::Blocked => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            Step::Closed => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = self.get_mut();
        ready!(s.poll_send(cx))?;
        Pin::new(&mut s.tcp).poll_flush(cx)
    }

    /// close_notify, then the end of the TCP stream.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = self.get_mut();
        if !s.closing {
            s.closing = true;
            // After a failure the alert queued then is what goes out.
            if !s.closed && s.failed.is_none() && !s.conn.is_handshaking() {
                let _ = s.process(Output::CloseNotify);
            }
        }
        ready!(s.poll_send(cx))?;
        Pin::new(&mut s.tcp).poll_shutdown(cx)
    }
}

/// Drops the first `n` bytes of `buf`.
fn consume(buf: &mut Vec<u8>, n: usize) {
    if n >= buf.len() {
        buf.clear();
    } else if n > 0 {
        buf.drain(..n);
    }
}

/// Appends what `write` puts in a buffer it is given, growing it to the size `needs` reads from
/// an error saying the buffer was too small.
fn append<E>(
    out: &mut Vec<u8>,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
    needs: fn(&E) -> Option<usize>,
) -> Result<(), E> {
    let start = out.len();
    let mut room = 256;
    loop {
        out.resize(start + room, 0);
        match write(&mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                return Ok(());
            }
            Err(e) => match needs(&e) {
                Some(required) if required > room => room = required,
                _ => {
                    out.truncate(start);
                    return Err(e);
                }
            },
        }
    }
}

fn encode_needs(e: &EncodeError) -> Option<usize> {
    match e {
        EncodeError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    }
}

fn encrypt_needs(e: &EncryptError) -> Option<usize> {
    match e {
        EncryptError::InsufficientSize(s) => Some(s.required_size),
        _ => None,
    }
}

fn general(e: impl std::fmt::Display) -> rustls::Error {
    rustls::Error::General(e.to_string())
}

fn invalid_data<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dampwatch_pki::{client_tls, Holder, Paths};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::client::TlsStream as ClientStream;

    /// A PKI like the gateway's, the gateway's own server configuration from it, and a
    /// listener on an ephemeral loopback port.
    struct Fixture {
        pki: tempfile::TempDir,
        config: Arc<ServerConfig>,
        listener: TcpListener,
    }

    async fn fixture() -> Fixture {
        crate::tls::install_crypto_provider();
        let pki = tempfile::tempdir().expect("temporary directory");
        dampwatch_pki::init(pki.path(), Default::default()).expect("PKI");
        let p = Paths::new(pki.path());
        let config = crate::tls::load(&p.ca_cert(), &p.gateway_cert(), &p.gateway_key(), &p.crl())
            .expect("the gateway's TLS configuration")
            .config;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback listener");
        Fixture { pki, config, listener }
    }

    impl Fixture {
        /// A client presenting `holder`'s certificate connected to a server-side stream; the
        /// server's result is returned as it came, the client's handshake once it finished.
        async fn connect(
            &self,
            holder: Holder<'_>,
        ) -> (io::Result<TlsStream>, io::Result<ClientStream<TcpStream>>) {
            let client_config = client_tls(self.pki.path(), holder).expect("client configuration");
            let addr = self.listener.local_addr().expect("address");
            let client = async move {
                let tcp = TcpStream::connect(addr).await?;
                let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("IP name");
                tokio_rustls::TlsConnector::from(client_config).connect(name, tcp).await
            };
            let server = async {
                let (tcp, _) = self.listener.accept().await?;
                TlsStream::accept(tcp, self.config.clone()).await
            };
            tokio::join!(server, client)
        }
    }

    /// Polls a read once, as a session does while its device is quiet: it must wait.
    fn wait_for_the_client(s: &mut TlsStream) {
        let mut byte = [0u8; 1];
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let read = Pin::new(&mut *s).poll_read(&mut cx, &mut ReadBuf::new(&mut byte));
        assert!(read.is_pending(), "nothing was sent, yet the read did not wait");
    }

    fn holds_no_buffer(s: &TlsStream) -> bool {
        s.incoming.capacity() == 0 && s.outgoing.capacity() == 0 && s.plaintext.capacity() == 0
    }

    #[tokio::test]
    async fn data_flows_both_ways_and_an_idle_connection_holds_no_buffer() {
        let f = fixture().await;
        let (server, client) = f.connect(Holder::Service("collector")).await;
        let (mut server, mut client) = (server.expect("server handshake"), client.expect("client handshake"));
        let chain = server.peer_certificates().expect("the client's certificate");
        assert!(!chain.is_empty());

        // Larger than a TLS record both ways, so records are split and joined.
        let upstream: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let downstream: Vec<u8> = upstream.iter().rev().copied().collect();
        let writing = async {
            client.write_all(&upstream).await.expect("client write");
            client.flush().await.expect("client flush");
            let mut got = vec![0; downstream.len()];
            client.read_exact(&mut got).await.expect("client read");
            got
        };
        let serving = async {
            let mut got = vec![0; upstream.len()];
            server.read_exact(&mut got).await.expect("server read");
            server.write_all(&downstream).await.expect("server write");
            server.flush().await.expect("server flush");
            got
        };
        let (client_got, server_got) = tokio::join!(writing, serving);
        assert_eq!(server_got, upstream);
        assert_eq!(client_got, downstream);
        wait_for_the_client(&mut server);
        assert!(holds_no_buffer(&server), "everything read and sent, yet a buffer is kept");

        // A key update from the client (TLS 1.3) is processed and the stream carries on.
        client.get_mut().1.refresh_traffic_keys().expect("key update");
        client.write_all(b"after the update").await.expect("client write");
        client.flush().await.expect("client flush");
        let mut got = [0; 16];
        server.read_exact(&mut got).await.expect("server read");
        assert_eq!(&got, b"after the update");
        server.write_all(b"answer").await.expect("server write");
        server.flush().await.expect("server flush");
        let mut got = [0; 6];
        client.read_exact(&mut got).await.expect("client read");
        assert_eq!(&got, b"answer");
        wait_for_the_client(&mut server);
        assert!(holds_no_buffer(&server));

        // close_notify from the server: the client sees an orderly end, not a truncation.
        server.shutdown().await.expect("server shutdown");
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.expect("an orderly end"), 0);
    }

    #[tokio::test]
    async fn the_client_closing_ends_the_stream_and_a_vanished_client_is_an_error() {
        let f = fixture().await;
        let (server, client) = f.connect(Holder::Service("collector")).await;
        let (mut server, mut client) = (server.expect("server handshake"), client.expect("client handshake"));
        client.write_all(b"last words").await.expect("client write");
        client.shutdown().await.expect("client close_notify");
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.expect("an orderly end");
        assert_eq!(got, b"last words");

        let (server, client) = f.connect(Holder::Service("collector")).await;
        let mut server = server.expect("server handshake");
        drop(client.expect("client handshake"));
        let mut got = Vec::new();
        let e = server.read_to_end(&mut got).await.expect_err("TCP closed without close_notify");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn records_before_a_tampered_one_are_read_before_the_failure() {
        use std::io::Write as _;
        let f = fixture().await;
        let (server, client) = f.connect(Holder::Service("collector")).await;
        let (mut server, mut client) = (server.expect("server handshake"), client.expect("client handshake"));
        // Two records, the second's authentication tag flipped, arriving in one piece: one
        // read from the socket holds both.
        let (tcp, conn) = client.get_mut();
        let mut records = Vec::new();
        for data in [&b"genuine"[..], &b"tampered"[..]] {
            conn.writer().write_all(data).expect("client record");
            while conn.wants_write() {
                conn.write_tls(&mut records).expect("client TLS bytes");
            }
        }
        *records.last_mut().expect("TLS bytes") ^= 1;
        tcp.write_all(&records).await.expect("client write");

        let mut got = [0; 7];
        server.read_exact(&mut got).await.expect("the record before the tampered one");
        assert_eq!(&got, b"genuine");
        let e = server.read(&mut [0; 16]).await.expect_err("the tampered record");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let cause = e.get_ref().and_then(|c| c.downcast_ref::<rustls::Error>());
        assert_eq!(cause, Some(&rustls::Error::DecryptError), "{e}");
        // The client is told why, in place of an orderly close.
        server.shutdown().await.expect("the alert, then the end of the stream");
        let e = client.read(&mut [0; 1]).await.expect_err("the server's alert");
        assert!(e.to_string().contains("BadRecordMac"), "{e}");
    }

    #[tokio::test]
    async fn a_client_without_a_certificate_is_refused_and_told_why() {
        let f = fixture().await;
        let (server, client) = f.connect(Holder::Anonymous).await;
        let e = server.err().expect("the handshake must fail");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let cause = e.get_ref().and_then(|c| c.downcast_ref::<rustls::Error>());
        assert_eq!(cause, Some(&rustls::Error::NoCertificatesPresented), "{e}");
        // TLS 1.3: the client's side finished first; the alert arrives on its first read.
        let mut client = client.expect("the client's side of the handshake");
        let mut buf = [0; 1];
        let e = client.read(&mut buf).await.expect_err("the server's alert");
        assert!(e.to_string().contains("CertificateRequired"), "{e}");
    }
}
