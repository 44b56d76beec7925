//! The HTTP client webhooks are sent with: hyper 1 over rustls with the ring provider and
//! the Mozilla root certificates compiled in, on the [`GuardedConnector`] (which resolves the
//! name itself, checks every address and connects only to checked ones). Redirects are not
//! followed (a 3xx is a failed attempt: following one would go to an unchecked URL), and a
//! receiver's response body is never read.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use url::Url;

use crate::address_policy::AddressPolicy;
use crate::connector::GuardedConnector;
use crate::failure::Failure;
use crate::resolve::Resolve;

/// Sends webhook requests.
#[derive(Clone)]
pub struct WebhookClient {
    client: Client<HttpsConnector<GuardedConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl WebhookClient {
    /// A client whose every request (resolve, connect, send, response) ends within `timeout`
    /// and that connects only to addresses `policy` allows, as `resolver` resolves them.
    pub fn new(
        timeout: Duration,
        policy: AddressPolicy,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, rustls::Error> {
        let tcp = GuardedConnector::new(resolver, policy, timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // No idle connections are kept: every delivery resolves the name and checks its
        // addresses afresh. A webhook is one request per event, so a kept connection would
        // save little.
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(https);
        Ok(WebhookClient { client, timeout })
    }

    /// POSTs `body` as JSON with `headers` to a URL already checked by `check_url`; returns
    /// the receiver's status.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<u16, Failure> {
        let uri: Uri = url
            .as_str()
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| Failure::request(&e.to_string()))?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("dampwatch-webhooks/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            let value =
                HeaderValue::from_str(value).map_err(|e| Failure::request(&format!("header {name}: {e}")))?;
            // from_bytes accepts any case and sends the name in lower case.
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| Failure::request(&format!("header {name}: {e}")))?;
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).map_err(|e| Failure::request(&e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            // The response (and its body, unread) is dropped here: only the status counts.
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(error)) => Err(Failure::client(&error)),
            Err(_) => Err(Failure::timeout()),
        }
    }
}
