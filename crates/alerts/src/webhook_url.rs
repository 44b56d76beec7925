//! Which webhook URLs are accepted, checked when an operator registers an endpoint and again
//! before every delivery (a row may predate a rule, or be written by hand). The URL is parsed
//! as a browser would (the WHATWG rules of the `url` crate), never matched by prefix: a prefix
//! check lets `http://localhost@evil.example/` (a user name) and
//! `http://127.0.0.1.evil.example/` (a domain) through.
//!
//! Rules: `https://` only; no user name or password; a literal IP address must pass the
//! [`AddressPolicy`]. Plain `http://` only with the development flag, and only to this
//! machine's loopback address (`127.0.0.0/8`, `[::1]`, `localhost`). A host *name* is checked
//! at delivery, after it is resolved (see `connector`).

use std::net::IpAddr;

use url::{Host, Url};

use crate::address_policy::{AddressClass, AddressPolicy};

/// Why a webhook URL is refused. Every message is fixed text (it never repeats the URL), so
/// it can go into the landlord's delivery log as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not a valid URL ({0})")]
    Unparsable(url::ParseError),
    #[error("the scheme must be https")]
    Scheme,
    #[error("a user name or password in the URL is not allowed")]
    Userinfo,
    #[error("the URL has no host")]
    NoHost,
    #[error("plain http is not allowed: use https (plain http goes only to this machine's loopback address, in development)")]
    PlainHttp,
    #[error("plain http goes only to this machine's loopback address (127.0.0.1, [::1] or localhost)")]
    PlainHttpBeyondLoopback,
    #[error("the host is {}, which webhooks may not reach", .0.describe())]
    Address(AddressClass),
}

/// Checks `raw` against the rules above and returns it parsed and normalised (the form to
/// store and to send to), without a fragment.
pub fn check_url(raw: &str, policy: &AddressPolicy) -> Result<Url, UrlRefusal> {
    let mut url = Url::parse(raw).map_err(UrlRefusal::Unparsable)?;
    let plain_http = match url.scheme() {
        "https" => false,
        "http" => true,
        _ => return Err(UrlRefusal::Scheme),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Userinfo);
    }
    let ip = match url.host().ok_or(UrlRefusal::NoHost)? {
        Host::Domain(name) => {
            if plain_http && name != "localhost" {
                return Err(plain_http_refusal(policy));
            }
            None
        }
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
    };
    if plain_http {
        if !policy.allow_loopback {
            return Err(UrlRefusal::PlainHttp);
        }
        if ip.is_some_and(|ip| AddressClass::of(ip) != Some(AddressClass::Loopback)) {
            return Err(UrlRefusal::PlainHttpBeyondLoopback);
        }
    }
    if let Some(ip) = ip {
        policy.check(ip).map_err(UrlRefusal::Address)?;
    }
    url.set_fragment(None);
    Ok(url)
}

fn plain_http_refusal(policy: &AddressPolicy) -> UrlRefusal {
    if policy.allow_loopback {
        UrlRefusal::PlainHttpBeyondLoopback
    } else {
        UrlRefusal::PlainHttp
    }
}
