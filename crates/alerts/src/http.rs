//! The HTTP client webhooks are sent with: hyper 1 over rustls with the ring provider and
//! the Mozilla root certificates compiled in. Plain http is allowed (receivers on loopback or
//! a private network); redirects are not followed (a 3xx is a failed attempt).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// At most this much of a receiver's response is read (and kept in the log, shortened).
const MAX_RESPONSE_BYTES: usize = 16 * 1024;
/// Characters of a failed response kept in the delivery log.
const LOGGED_RESPONSE_CHARS: usize = 300;

/// A receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The start of the response body, for the delivery log.
    pub body: String,
}

/// Sends webhook requests.
#[derive(Clone)]
pub struct WebhookClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl WebhookClient {
    /// A client whose every request (connect, send, response) ends within `timeout`.
    pub fn new(timeout: Duration) -> Result<Self, rustls::Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(https);
        Ok(WebhookClient { client, timeout })
    }

    /// POSTs `body` as JSON with `headers`; an error is a message for the delivery log.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Answer, String> {
        let uri: Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("dampwatch-webhooks/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            let value = HeaderValue::from_str(value).map_err(|e| format!("invalid header {name}: {e}"))?;
            // from_bytes accepts any case and sends the name in lower case.
            let name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("invalid header {name}: {e}"))?;
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).map_err(|e| format!("cannot build the request: {e}"))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let text: String = String::from_utf8_lossy(&body).chars().take(LOGGED_RESPONSE_CHARS).collect();
            Ok(Answer { status, body: text })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no complete response within {:?}", self.timeout)),
        }
    }
}

/// An error with its causes, e.g. "client error (Connect): tcp connect error: Connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
