//! The TCP connector under the webhook client's TLS: resolve the receiver's name, check every
//! address against the [`AddressPolicy`], then connect to exactly the checked addresses. One
//! refused address refuses the whole delivery: a name that answers a public and a private
//! address is not one to trust with either.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::address_policy::{AddressClass, AddressPolicy};
use crate::resolve::Resolve;

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    #[error("the URL has no host")]
    NoHost,
    #[error("the host resolves to {}", .0.describe())]
    Refused(AddressClass),
    #[error("plain http goes only to this machine's loopback address")]
    PlainHttpBeyondLoopback,
    #[error("the host name did not resolve: {0}")]
    Resolve(io::Error),
    #[error("the host name has no addresses")]
    NoAddresses,
    #[error("could not connect to {address}: {source}")]
    Connect { address: SocketAddr, source: io::Error },
    #[error("could not connect to {0} within the time limit")]
    ConnectTimeout(SocketAddr),
}

/// Connects webhook requests to checked addresses only.
#[derive(Clone)]
pub struct GuardedConnector {
    resolver: Arc<dyn Resolve>,
    policy: Arc<AddressPolicy>,
    connect_timeout: Duration,
}

impl GuardedConnector {
    pub fn new(resolver: Arc<dyn Resolve>, policy: AddressPolicy, connect_timeout: Duration) -> Self {
        GuardedConnector { resolver, policy: Arc::new(policy), connect_timeout }
    }

    /// The addresses to connect to for `uri`, every one checked.
    async fn checked_addresses(&self, uri: &Uri) -> Result<Vec<SocketAddr>, ConnectFailure> {
        let host = uri.host().ok_or(ConnectFailure::NoHost)?;
        // An IPv6 literal keeps its brackets in a URI's host.
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let plain_http = uri.scheme() != Some(&hyper::http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if plain_http { 80 } else { 443 });
        let mut addresses = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.resolver.resolve(host).await.map_err(ConnectFailure::Resolve)?,
        };
        let mut seen = Vec::with_capacity(addresses.len());
        addresses.retain(|ip| {
            let first = !seen.contains(ip);
            seen.push(*ip);
            first
        });
        if addresses.is_empty() {
            return Err(ConnectFailure::NoAddresses);
        }
        for &ip in &addresses {
            self.policy.check(ip).map_err(ConnectFailure::Refused)?;
            let loopback = AddressClass::of(ip) == Some(AddressClass::Loopback);
            if plain_http && !(self.policy.allow_loopback && loopback) {
                return Err(ConnectFailure::PlainHttpBeyondLoopback);
            }
        }
        Ok(addresses.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
    }

    async fn connect(self, uri: Uri) -> Result<TokioIo<TcpStream>, ConnectFailure> {
        let addresses = self.checked_addresses(&uri).await?;
        let mut failure = ConnectFailure::NoAddresses;
        for address in addresses {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    // Small requests: send each at once rather than wait to fill a segment.
                    let _ = stream.set_nodelay(true);
                    return Ok(TokioIo::new(stream));
                }
                Ok(Err(source)) => failure = ConnectFailure::Connect { address, source },
                Err(_) => failure = ConnectFailure::ConnectTimeout(address),
            }
        }
        Err(failure)
    }
}

impl tower::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectFailure;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}
