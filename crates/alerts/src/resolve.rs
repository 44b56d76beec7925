//! Name resolution for webhook delivery. The sender resolves a receiver's name itself, checks
//! every address it gets, and connects only to those (see `connector`): the HTTP client never
//! resolves a name on its own, so a name cannot answer one address to the check and another
//! to the connection (DNS rebinding).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// Addresses of a host name, as a future.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves host names to addresses. Implemented by the system resolver, and by tests that
/// make a name resolve to an address of their choosing.
pub trait Resolve: Send + Sync + 'static {
    /// Every address `host` has now.
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a>;
}

/// The operating system's resolver (`getaddrinfo`, on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move {
            // The port is not used: the connector takes it from the URL.
            Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect())
        })
    }
}
