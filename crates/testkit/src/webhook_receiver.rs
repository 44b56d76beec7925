//! A landlord's webhook receiver on 127.0.0.1: records every request, answers 500 to the
//! first `fail_first` requests and 200 after that. A failure's body can be set, to show it
//! never reaches the landlord's delivery log. It checks nothing itself: the tests verify the
//! recorded signatures with the alerts crate's own verifier, as a landlord's code would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// One received request.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    /// Unix seconds at arrival, for the signature's replay window.
    pub unix_s: i64,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

#[derive(Clone)]
struct Shared {
    fail_first: usize,
    failure_body: &'static str,
    seen: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Received>>>,
}

/// A running receiver.
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        Receiver::start_with(fail_first, "").await
    }

    /// A receiver that answers every request with 500 and `body`.
    pub async fn failing_with_body(body: &'static str) -> Receiver {
        Receiver::start_with(usize::MAX, body).await
    }

    async fn start_with(fail_first: usize, failure_body: &'static str) -> Receiver {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared =
            Shared { fail_first, failure_body, seen: Arc::new(AtomicUsize::new(0)), log: log.clone() };
        let app = Router::new().route("/hook", post(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, log }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().expect("lock").clone()
    }
}

async fn handle(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let n = s.seen.fetch_add(1, Ordering::SeqCst);
    let (status, answer) = if n < s.fail_first {
        (StatusCode::INTERNAL_SERVER_ERROR, s.failure_body)
    } else {
        (StatusCode::OK, "")
    };
    let unix_s = chrono::Utc::now().timestamp();
    s.log.lock().expect("lock").push(Received {
        at: Instant::now(),
        unix_s,
        headers,
        body,
        status: status.as_u16(),
    });
    (status, answer)
}
