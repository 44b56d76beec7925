//! Why a delivery attempt failed. The landlord's delivery log (and the API) shows a fixed
//! text from a small set and the receiver's status code: never what the receiver sent back
//! (an error page can hold the receiver's own secrets) and never the sender's low-level
//! errors (they would tell a landlord which ports of a host answer). Operators get a bounded
//! detail in the service log.

use crate::address_policy::AddressClass;
use crate::connector::ConnectFailure;
use crate::webhook_url::UrlRefusal;

/// Characters of low-level detail kept for the operator's log.
const DETAIL_CHARS: usize = 300;

/// The counted reason of a failed attempt: the `reason` label of
/// `dampwatch_webhooks_failed_total`, so a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The endpoint was disabled.
    Deactivated,
    /// The stored URL breaks the URL rules.
    RefusedUrl,
    /// The host is or resolves to an address webhooks may not reach.
    RefusedAddress,
    /// The host name did not resolve.
    Dns,
    /// No TCP connection.
    Connect,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// No complete answer within the time limit.
    Timeout,
    /// The receiver answered, but not with 2xx.
    HttpStatus,
    /// The exchange broke off or was not valid HTTP.
    Protocol,
    /// The endpoint's signing secret could not be read (no secrets key, or not the key that
    /// sealed it): nothing unsigned is ever sent.
    Secret,
}

impl FailureReason {
    pub const ALL: [FailureReason; 10] = [
        FailureReason::Deactivated,
        FailureReason::RefusedUrl,
        FailureReason::RefusedAddress,
        FailureReason::Dns,
        FailureReason::Connect,
        FailureReason::Tls,
        FailureReason::Timeout,
        FailureReason::HttpStatus,
        FailureReason::Protocol,
        FailureReason::Secret,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FailureReason::Deactivated => "deactivated",
            FailureReason::RefusedUrl => "refused_url",
            FailureReason::RefusedAddress => "refused_address",
            FailureReason::Dns => "dns",
            FailureReason::Connect => "connect",
            FailureReason::Tls => "tls",
            FailureReason::Timeout => "timeout",
            FailureReason::HttpStatus => "http_status",
            FailureReason::Protocol => "protocol",
            FailureReason::Secret => "secret",
        }
    }

    fn index(self) -> usize {
        FailureReason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Failed attempts counted by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts([usize; FailureReason::ALL.len()]);

impl FailureCounts {
    pub fn add(&mut self, reason: FailureReason) {
        self.0[reason.index()] += 1;
    }

    pub fn get(&self, reason: FailureReason) -> usize {
        self.0[reason.index()]
    }

    /// Each reason with its count, in [`FailureReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (FailureReason, usize)> + '_ {
        FailureReason::ALL.iter().map(|r| (*r, self.get(*r)))
    }
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: FailureReason,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// For the delivery log: fixed text, the status code and an address class at most.
    pub text: String,
    /// For the operator's service log only (never stored): the low-level error, shortened.
    pub detail: Option<String>,
}

impl Failure {
    fn new(reason: FailureReason, text: impl Into<String>) -> Failure {
        Failure { reason, status: None, text: text.into(), detail: None }
    }

    fn with_detail(mut self, detail: &str) -> Failure {
        self.detail = Some(detail.chars().take(DETAIL_CHARS).collect());
        self
    }

    pub fn deactivated() -> Failure {
        Failure::new(FailureReason::Deactivated, "the endpoint is deactivated")
    }

    /// The operator's log gets why (`detail`); the landlord's delivery log only that the
    /// secret could not be read.
    pub fn secret(detail: &str) -> Failure {
        Failure::new(FailureReason::Secret, "the endpoint's signing secret cannot be read by this sender")
            .with_detail(detail)
    }

    pub fn refused_url(refusal: UrlRefusal) -> Failure {
        match refusal {
            UrlRefusal::Address(class) => Failure::refused_address(class),
            other => Failure::new(FailureReason::RefusedUrl, format!("refused: {other}")),
        }
    }

    fn refused_address(class: AddressClass) -> Failure {
        Failure::new(FailureReason::RefusedAddress, format!("refused: the host is {}", class.describe()))
    }

    /// The receiver answered `status` (not 2xx). Its body is not read.
    pub fn status(status: u16) -> Failure {
        Failure {
            status: Some(status),
            ..Failure::new(FailureReason::HttpStatus, format!("HTTP {status} from the receiver"))
        }
    }

    pub fn timeout() -> Failure {
        Failure::new(FailureReason::Timeout, "no complete answer within the time limit")
    }

    pub fn request(detail: &str) -> Failure {
        Failure::new(FailureReason::Protocol, "the request could not be built").with_detail(detail)
    }

    /// A failure of the HTTP client: sorted by the connector's own error if it is in the
    /// chain; a connect-stage failure without one happened in TLS.
    pub fn client(error: &hyper_util::client::legacy::Error) -> Failure {
        let chain = error_chain(error);
        let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
        while let Some(e) = source {
            if let Some(failure) = e.downcast_ref::<ConnectFailure>() {
                return Failure::connect(failure).with_detail(&chain);
            }
            source = e.source();
        }
        let failure = if error.is_connect() {
            Failure::new(FailureReason::Tls, "the TLS handshake with the receiver failed")
        } else {
            Failure::new(FailureReason::Protocol, "the exchange with the receiver broke off")
        };
        failure.with_detail(&chain)
    }

    fn connect(failure: &ConnectFailure) -> Failure {
        match failure {
            ConnectFailure::Refused(class) => Failure::refused_address(*class),
            ConnectFailure::PlainHttpBeyondLoopback => Failure::new(
                FailureReason::RefusedAddress,
                "refused: plain http goes only to this machine's loopback address",
            ),
            ConnectFailure::NoHost => Failure::refused_url(UrlRefusal::NoHost),
            ConnectFailure::Resolve(_) | ConnectFailure::NoAddresses => {
                Failure::new(FailureReason::Dns, "the receiver's host name did not resolve")
            }
            ConnectFailure::Connect { .. } => {
                Failure::new(FailureReason::Connect, "could not connect to the receiver")
            }
            ConnectFailure::ConnectTimeout(_) => Failure::new(
                FailureReason::Timeout,
                "could not connect to the receiver within the time limit",
            ),
        }
    }
}

/// An error with its causes, e.g. "client error (Connect): could not connect to ...".
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
