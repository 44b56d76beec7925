//! A signed-in person's browser, as far as the benchmark needs one: HTTPS to the collector's
//! API listener, trusting only the PKI's CA, the dashboard's sign-in form posted once, then
//! pages fetched with the session's cookies.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header;
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// One page fetched.
pub struct Fetched {
    pub status: StatusCode,
    pub body: String,
    /// From sending the request to holding the whole body, over loopback.
    pub request_time: Duration,
    /// The server's own measure (`Server-Timing: page;dur=…`), if it sent one.
    pub server_time: Option<Duration>,
    /// The parts of it the page's handler measured (`read;dur=…, html;dur=…`), in order.
    pub server_parts: Vec<(String, Duration)>,
}

/// The metrics of a `Server-Timing` value that carry a duration: `page;dur=12.5, read;dur=3`.
fn server_timing(value: &str) -> Vec<(String, Duration)> {
    value
        .split(',')
        .filter_map(|metric| {
            let mut fields = metric.split(';').map(str::trim);
            let name = fields.next()?.to_owned();
            let ms: f64 = fields.find_map(|f| f.strip_prefix("dur="))?.parse().ok()?;
            Some((name, Duration::from_secs_f64(ms.max(0.0) / 1000.0)))
        })
        .collect()
}

pub struct Browser {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    cookies: String,
}

impl Browser {
    /// Signs `email` in with `password` through `POST /sign-in` (the dashboard's form).
    pub async fn sign_in(
        pki: &Path,
        api: SocketAddr,
        email: &str,
        password: &str,
    ) -> anyhow::Result<Browser> {
        let tls = dampwatch_pki::client_tls(pki, dampwatch_pki::Holder::Anonymous)?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_only()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        let base = format!("https://{api}");
        let form = url_encoded(&[("email", email), ("password", password), ("code", "")]);
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{base}/sign-in"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))?;
        let response = client.request(request).await?;
        anyhow::ensure!(
            response.status() == StatusCode::SEE_OTHER,
            "sign-in answered {} instead of sending the person on",
            response.status()
        );
        let cookies: Vec<String> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        anyhow::ensure!(!cookies.is_empty(), "sign-in set no cookie");
        Ok(Browser { client, base, cookies: cookies.join("; ") })
    }

    /// `GET url` (an absolute address, such as a link from an e-mail) with the session; only
    /// on the listener the browser signed in to.
    pub async fn get_url(&self, url: &str) -> anyhow::Result<Fetched> {
        let path = url
            .strip_prefix(&self.base)
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| anyhow::anyhow!("{url} is not on {}", self.base))?;
        self.get(path).await
    }

    /// `GET path` with the session.
    pub async fn get(&self, path: &str) -> anyhow::Result<Fetched> {
        let request = Request::builder()
            .uri(format!("{}{path}", self.base))
            .header(header::COOKIE, &self.cookies)
            .body(Full::new(Bytes::new()))?;
        let start = Instant::now();
        let response = self.client.request(request).await?;
        let status = response.status();
        let mut metrics = response
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .map(server_timing)
            .unwrap_or_default();
        let server_time = metrics.iter().position(|(name, _)| name == "page").map(|i| metrics.remove(i).1);
        let bytes = response.into_body().collect().await?.to_bytes();
        let request_time = start.elapsed();
        Ok(Fetched {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            request_time,
            server_time,
            server_parts: metrics,
        })
    }
}

fn url_encoded(fields: &[(&str, &str)]) -> String {
    let byte = |b: u8| match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => (b as char).to_string(),
        b' ' => "+".to_owned(),
        _ => format!("%{b:02X}"),
    };
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.bytes().map(byte).collect::<String>()))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_metrics_are_read_by_name_with_their_durations() {
        let metrics = server_timing("page;dur=812.5, read;dur=700.25, html;desc=\"HTML\";dur=100, cache");
        let names: Vec<&str> = metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["page", "read", "html"]);
        assert_eq!(metrics[1].1, Duration::from_secs_f64(0.70025));
        assert_eq!(metrics[2].1, Duration::from_millis(100));
    }
}
