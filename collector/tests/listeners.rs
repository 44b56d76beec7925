//! The collector's two listeners, over real sockets on loopback: the landlord API speaks HTTPS
//! only (TLS 1.3 and 1.2, a certificate that chains to the PKI's CA, HSTS on every answer),
//! drops clients that do not finish their handshake in time and counts what it refused; the
//! metrics and health endpoints answer on their own plain-HTTP listener and nowhere else.
//!
//! The collector runs on a private PostgreSQL and a broker address where nothing listens: its
//! intake keeps retrying in the background, which the listeners do not depend on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dampwatch_collector::{Collector, Config};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(500);
/// Long enough for anything the server does here; the waits below end as soon as it did it.
const PATIENCE: Duration = Duration::from_secs(30);

struct Running {
    collector: Collector,
    pki: PathBuf,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    dampwatch_pki::init(&pki, Default::default()).expect("pki init");
    let mut cfg = Config::default().with_pki_dir(&pki);
    cfg.database.data_dir = dir.path().join("data");
    // A port nobody listens on: the intake retries, the listeners do not care.
    cfg.mqtt.port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cfg.http.address = "127.0.0.1:0".into();
    cfg.http.handshake_timeout = HANDSHAKE_TIMEOUT;
    cfg.metrics.address = "127.0.0.1:0".into();
    let collector = Collector::start(cfg).await.expect("the collector starts");
    Running { collector, pki, _dir: dir }
}

/// `openssl s_client` against `addr` with `version` (`-tls1_2`, ...), verifying the chain to
/// `ca` and the address in the certificate. True when the handshake and the verification
/// succeeded.
fn s_client(addr: SocketAddr, ca: &Path, version: &str) -> (bool, String) {
    let mut args = vec![
        "s_client".to_owned(),
        "-connect".to_owned(),
        addr.to_string(),
        version.to_owned(),
        "-CAfile".to_owned(),
        ca.display().to_string(),
        "-verify_return_error".to_owned(),
        "-verify_ip".to_owned(),
        addr.ip().to_string(),
    ];
    if matches!(version, "-tls1" | "-tls1_1") {
        // OpenSSL's own default security level refuses these versions before sending
        // anything; level 0 makes it really offer them, so the refusal is the server's.
        args.extend(["-cipher".to_owned(), "DEFAULT@SECLEVEL=0".to_owned()]);
    }
    let out = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed by scripts/setup.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("Verify return code: 0 (ok)"), text)
}

/// One plain-HTTP GET on its own connection; the whole answer.
async fn plain_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, s.read_to_end(&mut answer))
        .await
        .expect("the server answers or closes");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The value of the metric line `name` (labels included).
async fn metric(metrics: SocketAddr, name: &str) -> f64 {
    let text = plain_get(metrics, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

const FAILED_ERROR: &str = "dampwatch_api_tls_handshakes_failed_total{reason=\"error\"}";
const FAILED_TIMEOUT: &str = "dampwatch_api_tls_handshakes_failed_total{reason=\"timeout\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_speaks_https_only_and_metrics_have_their_own_listener() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let running = start().await;
    let api = running.collector.api_addr().expect("the API listens");
    let metrics = running.collector.metrics_addr().expect("metrics listen");
    assert_ne!(api, metrics);
    assert_eq!(running.collector.api_url(), Some(format!("https://{api}")));
    let ca = dampwatch_pki::Paths::new(&running.pki).ca_cert();

    // TLS 1.0 and 1.1 are refused by the server; 1.2 and 1.3 complete, with a certificate that
    // chains to the PKI's CA and names the address.
    for (version, accepted) in [("-tls1", false), ("-tls1_1", false), ("-tls1_2", true), ("-tls1_3", true)] {
        let refused_before = metric(metrics, FAILED_ERROR).await;
        let ca = ca.clone();
        let (ok, text) = tokio::task::spawn_blocking(move || s_client(api, &ca, version)).await.unwrap();
        assert_eq!(ok, accepted, "openssl s_client {version}:\n{text}");
        if accepted {
            assert!(
                text.contains(&format!("New, TLSv1.{}, Cipher is ", &version[6..])),
                "{version}:\n{text}"
            );
        } else {
            assert!(!text.contains("no protocols available"), "openssl must offer {version}:\n{text}");
            let refused = metric(metrics, FAILED_ERROR).await;
            assert_eq!(refused, refused_before + 1.0, "the refusal of {version} is counted");
        }
    }

    // A real HTTPS client trusting only the PKI's CA gets the API's answers, with HSTS.
    let tls = dampwatch_pki::client_tls(&running.pki, dampwatch_pki::Holder::Anonymous).expect("client tls");
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    for host in [format!("localhost:{}", api.port()), api.to_string()] {
        let answer =
            client.get(format!("https://{host}/openapi.json").parse().unwrap()).await.expect("https");
        assert_eq!(answer.status(), 200, "{host}");
        let hsts = answer.headers().get("strict-transport-security").expect("HSTS on HTTPS");
        assert!(hsts.to_str().unwrap().starts_with("max-age=31536000"), "{hsts:?}");
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(b"{") && body.windows(7).any(|w| w == b"openapi"), "{host}");
    }
    let denied = client.get(format!("https://{api}/v1/alerts").parse().unwrap()).await.expect("https");
    assert_eq!(denied.status(), 401);
    assert!(denied.headers().contains_key("strict-transport-security"));

    // Metrics and health are answered on their listener and not on the API's.
    for path in ["/metrics", "/health"] {
        let answer = client.get(format!("https://{api}{path}").parse().unwrap()).await.expect("https");
        assert_eq!(answer.status(), 404, "{path} on the API listener");
    }
    let answer = plain_get(metrics, "/metrics").await;
    assert!(answer.starts_with("HTTP/1.0 200"), "/metrics on the metrics listener: {answer}");
    // Nobody listens where this collector's gateway should be: it runs, but takes no uplinks,
    // and its health says so.
    let answer = plain_get(metrics, "/health").await;
    assert!(answer.starts_with("HTTP/1.0 503"), "/health on the metrics listener: {answer}");
    assert!(answer.contains("message layer unreachable"), "{answer}");
    assert!(plain_get(metrics, "/metrics").await.contains("dampwatch_collector_"));

    // Plain HTTP to the HTTPS port gets no answer from the API: the connection is closed.
    let refused_before = metric(metrics, FAILED_ERROR).await;
    let answer = plain_get(api, "/openapi.json").await;
    assert!(!answer.contains("HTTP/1.") && !answer.contains("openapi"), "{answer:?}");
    assert_eq!(metric(metrics, FAILED_ERROR).await, refused_before + 1.0);

    // A client that connects and sends nothing is disconnected after the handshake timeout.
    let timeouts_before = metric(metrics, FAILED_TIMEOUT).await;
    let mut silent = TcpStream::connect(api).await.expect("connect");
    let opened = Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, silent.read(&mut byte)).await.expect("the server closes it");
    assert!(matches!(read, Ok(0)) || read.is_err(), "closed without a byte: {read:?}");
    assert!(opened.elapsed() >= HANDSHAKE_TIMEOUT - Duration::from_millis(50), "{:?}", opened.elapsed());
    assert_eq!(metric(metrics, FAILED_TIMEOUT).await, timeouts_before + 1.0);

    // The server survived all of it.
    let answer = client.get(format!("https://{api}/openapi.json").parse().unwrap()).await.expect("https");
    assert_eq!(answer.status(), 200);
    running.collector.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_certificate_the_api_does_not_start_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    dampwatch_pki::init(&pki, Default::default()).expect("pki init");
    let mut cfg = Config::default().with_pki_dir(&pki);
    cfg.database.data_dir = dir.path().join("data");
    cfg.http.address = "127.0.0.1:0".into();
    cfg.metrics.address = String::new();
    cfg.http.tls_cert = dir.path().join("missing.pem");
    let err = match Collector::start(cfg).await {
        Ok(_) => panic!("started without a certificate"),
        Err(e) => format!("{:#}", anyhow::Error::from(e)),
    };
    assert!(err.contains("dampwatch pki issue-web") && err.contains("missing.pem"), "{err}");
}
