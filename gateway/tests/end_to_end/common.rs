//! A gateway with its own temporary PKI on 127.0.0.1 port 0, and real clients for it.

use dampwatch_gateway::{Config, Gateway, Refusal};
use dampwatch_pki::{Bundle, IssueOptions, Paths};
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const LANDLORD: &str = "acme";
pub const GOOD: &str = "good-1";

/// Everything the gateway logs, for tests that check what an operator sees.
static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logging() {
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("dampwatch_gateway=info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    });
}

/// Log lines that mention `needle`.
pub fn log_lines_with(needle: &str) -> Vec<String> {
    let buf = LOG.get().expect("logging initialised").lock().unwrap();
    String::from_utf8_lossy(&buf).lines().filter(|l| l.contains(needle)).map(str::to_owned).collect()
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub gateway: Gateway,
}

impl Fixture {
    pub async fn start() -> Fixture {
        Self::start_with(|_| {}).await
    }

    /// Starts a gateway on a fresh PKI; `adjust` changes the configuration first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Fixture {
        init_logging();
        dampwatch_gateway::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        dampwatch_pki::init(&pki, Default::default()).unwrap();
        let mut cfg = Config::default().with_pki_dir(&pki);
        cfg.listen.address = "127.0.0.1:0".parse().unwrap();
        cfg.listen.metrics_address = None;
        cfg.tls.crl_poll_interval = Duration::from_millis(100);
        cfg.limits.drain_timeout = Duration::from_secs(2);
        adjust(&mut cfg);
        let gateway = Gateway::start(cfg).await.unwrap();
        let fx = Fixture { dir, gateway };
        fx.issue(LANDLORD, GOOD);
        fx
    }

    /// The fixture's PKI directory.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// Where its devices' provisioning bundles are: outside the PKI directory.
    pub fn bundles(&self) -> PathBuf {
        self.dir.path().join("device-bundles")
    }

    pub fn paths(&self) -> Paths {
        Paths::new(self.pki())
    }

    pub fn port(&self) -> u16 {
        self.gateway.local_addr().port()
    }

    /// Issues a device certificate in this fixture's PKI.
    pub fn issue(&self, landlord: &str, device: &str) {
        dampwatch_pki::issue_device(&self.pki(), &self.bundles(), landlord, device, IssueOptions::default())
            .unwrap();
    }

    /// The fixture's CA, to sign what the PKI crate would not issue.
    pub fn ca_issuer(&self) -> Issuer<'static, KeyPair> {
        let p = self.paths();
        let ca_key = KeyPair::from_pem(&std::fs::read_to_string(p.ca_key()).unwrap()).unwrap();
        Issuer::from_ca_cert_pem(&std::fs::read_to_string(p.ca_cert()).unwrap(), ca_key).unwrap()
    }

    pub fn refusals(&self, r: Refusal) -> u64 {
        self.gateway.metrics().refusals(r)
    }

    /// Waits until the refusal counter for `r` reaches `n`.
    pub async fn expect_refusal(&self, r: Refusal, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.refusals(r) < n {
            if Instant::now() > deadline {
                let seen: Vec<String> = Refusal::ALL
                    .iter()
                    .filter(|x| self.refusals(**x) > 0)
                    .map(|x| format!("{x}={}", self.refusals(*x)))
                    .collect();
                panic!("refusal {r} stayed at {} (wanted {n}); counted: {seen:?}", self.refusals(r));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// TLS client configuration trusting this fixture's CA, with a client certificate.
    pub fn tls_for(&self, cert: &Path, key: &Path) -> Arc<rustls::ClientConfig> {
        client_tls(&self.paths().ca_cert(), Some((cert, key)))
    }

    /// The device's certificate and private key, from its provisioning bundle.
    pub fn device_identity(&self, device: &str) -> (PathBuf, PathBuf) {
        let bundle = Bundle::of(&self.bundles(), device);
        (bundle.cert(), bundle.key())
    }

    pub fn device_tls(&self, device: &str) -> Arc<rustls::ClientConfig> {
        let (cert, key) = self.device_identity(device);
        self.tls_for(&cert, &key)
    }

    pub fn collector_tls(&self) -> Arc<rustls::ClientConfig> {
        let p = self.paths();
        self.tls_for(&p.collector_cert(), &p.collector_key())
    }

    /// A rumqttc client for `device` with client id `client_id`, its event loop driven in the
    /// background.
    pub fn client(&self, tls: Arc<rustls::ClientConfig>, client_id: &str) -> Client {
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", self.port());
        opts.set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(64 * 1024, 64 * 1024)
            .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
        Client::spawn(opts)
    }

    pub fn device(&self, device: &str) -> Client {
        self.client(self.device_tls(device), device)
    }

    pub fn collector(&self) -> Client {
        self.client(self.collector_tls(), "collector")
    }

    /// A good device and the collector, connected and subscribed.
    pub async fn good_pair(&self) -> GoodPair {
        let mut device = self.device(GOOD);
        device.connected().await;
        self.good_pair_with(device).await
    }

    /// The collector, connected and subscribed, beside the good device (connected already).
    pub async fn good_pair_with(&self, mut device: Client) -> GoodPair {
        let mut collector = self.collector();
        collector.connected().await;
        collector.client.subscribe("dw/v1/+/+/up", QoS::AtLeastOnce).await.unwrap();
        collector.subscribed().await;
        device.client.subscribe(topic(LANDLORD, GOOD, "ack"), QoS::AtLeastOnce).await.unwrap();
        device.subscribed().await;
        GoodPair { device, collector, round: 0 }
    }
}

pub use dampwatch_testkit::eventually_true;

pub fn topic(landlord: &str, device: &str, kind: &str) -> String {
    format!("dw/v1/{landlord}/{device}/{kind}")
}

/// A client TLS configuration trusting `ca`, optionally with a client certificate.
pub fn client_tls(ca: &Path, identity: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    dampwatch_pki::client_tls_from_files(ca, identity).expect("the test PKI's files")
}

/// A rumqttc client whose events arrive on a channel.
pub struct Client {
    pub client: AsyncClient,
    pub events: mpsc::UnboundedReceiver<Result<Event, String>>,
}

impl Client {
    pub fn spawn(opts: MqttOptions) -> Client {
        let (client, eventloop) = AsyncClient::new(opts, 100);
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(drive(eventloop, tx));
        Client { client, events }
    }

    /// The next event within 10 s.
    pub async fn next(&mut self) -> Result<Event, String> {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("an event within 10 s")
            .expect("event loop running")
    }

    /// Waits for an incoming packet matching `want`; panics on a connection error.
    pub async fn wait_for<T>(&mut self, what: &str, mut want: impl FnMut(&Packet) -> Option<T>) -> T {
        loop {
            match self.next().await {
                Ok(Event::Incoming(p)) => {
                    if let Some(t) = want(&p) {
                        return t;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("connection failed while waiting for {what}: {e}"),
            }
        }
    }

    pub async fn connected(&mut self) {
        self.wait_for("CONNACK", |p| matches!(p, Packet::ConnAck(_)).then_some(())).await
    }

    pub async fn subscribed(&mut self) {
        self.wait_for("SUBACK", |p| match p {
            Packet::SubAck(s) => {
                assert!(
                    s.return_codes.iter().all(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure)),
                    "subscription refused"
                );
                Some(())
            }
            _ => None,
        })
        .await
    }

    /// The next message received.
    pub async fn message(&mut self) -> rumqttc::Publish {
        self.wait_for("PUBLISH", |p| match p {
            Packet::Publish(m) => Some(m.clone()),
            _ => None,
        })
        .await
    }

    /// Waits until the connection fails (the gateway closed it); returns the error.
    pub async fn closed(&mut self) -> String {
        loop {
            if let Err(e) = self.next().await {
                return e;
            }
        }
    }
}

/// Drives an event loop, stopping at the first error (no reconnecting: a test wants to see
/// exactly one connection).
async fn drive(mut eventloop: EventLoop, tx: mpsc::UnboundedSender<Result<Event, String>>) {
    loop {
        let e = eventloop.poll().await;
        let failed = e.is_err();
        if tx.send(e.map_err(|e| e.to_string())).is_err() || failed {
            return;
        }
    }
}

/// A good device and the collector: proves the gateway still serves the innocent.
pub struct GoodPair {
    pub device: Client,
    pub collector: Client,
    round: u32,
}

impl GoodPair {
    /// The device publishes an uplink, the collector receives it and answers on the device's
    /// ack topic, and the device receives that.
    pub async fn round_trip(&mut self) {
        self.round += 1;
        let (up, ack) = (topic(LANDLORD, GOOD, "up"), topic(LANDLORD, GOOD, "ack"));
        let body = format!("reading {}", self.round);
        self.device.client.publish(&up, QoS::AtLeastOnce, false, body.clone()).await.unwrap();
        // The collector sees every device's uplinks; skip those of the others.
        let got = loop {
            let m = self.collector.message().await;
            if m.topic == up {
                break m;
            }
        };
        assert_eq!(&got.payload[..], body.as_bytes());
        let answer = format!("committed {}", self.round);
        self.collector.client.publish(&ack, QoS::AtLeastOnce, false, answer.clone()).await.unwrap();
        let down = self.device.message().await;
        assert_eq!((down.topic.as_str(), &down.payload[..]), (ack.as_str(), answer.as_bytes()));
    }
}

/// A second, unrelated PKI (another CA) with one device in it.
pub fn foreign_pki(landlord: &str, device: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (pki, bundles) = (dir.path().join("pki"), dir.path().join("device-bundles"));
    dampwatch_pki::init(&pki, Default::default()).unwrap();
    let bundle = dampwatch_pki::issue_device(&pki, &bundles, landlord, device, IssueOptions::default())
        .unwrap()
        .bundle;
    (dir, bundle.cert(), bundle.key())
}

/// A device certificate signed by the fixture's CA that expired yesterday (the PKI crate only
/// issues certificates valid from now).
pub fn expired_certificate(fx: &Fixture, dir: &Path) -> (PathBuf, PathBuf) {
    let now = time::OffsetDateTime::now_utc();
    let validity = (now - time::Duration::days(30), now - time::Duration::days(1));
    certificate_valid(fx, dir, "bad-1", 900_000, validity)
}

/// A device certificate signed by the fixture's CA that expires `life` from now (the PKI crate
/// issues whole days; a test cannot wait for one to run out).
pub fn short_lived_certificate(fx: &Fixture, dir: &Path, device: &str, life: Duration) -> (PathBuf, PathBuf) {
    let now = time::OffsetDateTime::now_utc();
    let life = time::Duration::try_from(life).unwrap();
    certificate_valid(fx, dir, device, 900_001, (now - time::Duration::minutes(5), now + life))
}

/// A device certificate for `device` of landlord [`LANDLORD`] with this serial and validity,
/// signed by the fixture's CA.
fn certificate_valid(
    fx: &Fixture,
    dir: &Path,
    device: &str,
    serial: u64,
    (not_before, not_after): (time::OffsetDateTime, time::OffsetDateTime),
) -> (PathBuf, PathBuf) {
    let ca = fx.ca_issuer();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, device);
    params.distinguished_name.push(DnType::OrganizationName, LANDLORD);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{device}.pem")), dir.join(format!("{device}-key.pem")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// A TCP connection to `to` from the loopback address `from` (all of 127.0.0.0/8 is loopback
/// on Linux, so a test can be many sources).
pub async fn connect_from(from: std::net::Ipv4Addr, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Writes a `crl.pem` signed by the fixture's CA that revokes `devices` and whose nextUpdate
/// passed an hour ago (the PKI crate always promises the next update a week ahead).
pub fn write_stale_crl(fx: &Fixture, devices: &[&str]) {
    use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams};
    use x509_parser::prelude::FromDer;
    let now = time::OffsetDateTime::now_utc();
    let revoked_certs = devices
        .iter()
        .map(|d| {
            let chain = dampwatch_pki::load_cert_chain(&fx.paths().device_cert(d)).unwrap();
            let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&chain[0]).unwrap();
            RevokedCertParams {
                serial_number: SerialNumber::from_slice(cert.raw_serial()),
                revocation_time: now - time::Duration::days(2),
                reason_code: None,
                invalidity_date: None,
            }
        })
        .collect();
    let params = CertificateRevocationListParams {
        this_update: now - time::Duration::days(8),
        next_update: now - time::Duration::hours(1),
        crl_number: SerialNumber::from(1_000_000u64),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let crl = params.signed_by(&fx.ca_issuer()).unwrap();
    std::fs::write(fx.paths().crl(), crl.pem().unwrap()).unwrap();
}
