//! Why the gateway refused or closed a connection. One bounded set of reasons: each is a
//! metrics label and a log field, so an operator can see exactly why someone was turned away.

/// A reason for refusing a connection or closing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    // TLS
    HandshakeTimeout,
    NoClientCertificate,
    UnknownIssuer,
    CertificateExpired,
    CertificateRevoked,
    BadCertificate,
    TlsProtocol,
    BadIdentity,
    /// A service certificate whose name has no role here (`[services]`).
    ServiceWithoutRole,
    CrlStale,
    // admission limits
    TooManyConnections,
    TooManyServiceConnections,
    HandshakeDisplaced,
    SourceRateLimited,
    DeviceConnectChurn,
    // PROXY protocol
    ProxyHeaderNotAllowed,
    ProxyHeaderMissing,
    ProxyHeaderMalformed,
    // MQTT
    ConnectTimeout,
    NotConnectFirst,
    MalformedPacket,
    PacketTooLarge,
    ClientIdMismatch,
    WillNotAllowed,
    Qos2,
    TopicNotAllowed,
    OtherDeviceTopic,
    OtherLandlordTopic,
    FilterNotAllowed,
    /// A shared subscription on a persistent session (rumqttd 0.20 panics on one).
    PersistentSharedSubscription,
    PacketTypeNotAllowed,
    MessageRateExceeded,
    KeepAliveTimeout,
    ClientTooSlow,
    // lifecycle
    RevokedWhileConnected,
    CertificateExpiredWhileConnected,
    UpstreamUnavailable,
}

impl Refusal {
    /// Every reason, for metrics that show zero counts too.
    pub const ALL: [Refusal; 37] = [
        Refusal::HandshakeTimeout,
        Refusal::NoClientCertificate,
        Refusal::UnknownIssuer,
        Refusal::CertificateExpired,
        Refusal::CertificateRevoked,
        Refusal::BadCertificate,
        Refusal::TlsProtocol,
        Refusal::BadIdentity,
        Refusal::ServiceWithoutRole,
        Refusal::CrlStale,
        Refusal::TooManyConnections,
        Refusal::TooManyServiceConnections,
        Refusal::HandshakeDisplaced,
        Refusal::SourceRateLimited,
        Refusal::DeviceConnectChurn,
        Refusal::ProxyHeaderNotAllowed,
        Refusal::ProxyHeaderMissing,
        Refusal::ProxyHeaderMalformed,
        Refusal::ConnectTimeout,
        Refusal::NotConnectFirst,
        Refusal::MalformedPacket,
        Refusal::PacketTooLarge,
        Refusal::ClientIdMismatch,
        Refusal::WillNotAllowed,
        Refusal::Qos2,
        Refusal::TopicNotAllowed,
        Refusal::OtherDeviceTopic,
        Refusal::OtherLandlordTopic,
        Refusal::FilterNotAllowed,
        Refusal::PersistentSharedSubscription,
        Refusal::PacketTypeNotAllowed,
        Refusal::MessageRateExceeded,
        Refusal::KeepAliveTimeout,
        Refusal::ClientTooSlow,
        Refusal::RevokedWhileConnected,
        Refusal::CertificateExpiredWhileConnected,
        Refusal::UpstreamUnavailable,
    ];

    /// Stable snake_case label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::HandshakeTimeout => "handshake_timeout",
            Refusal::NoClientCertificate => "no_client_certificate",
            Refusal::UnknownIssuer => "unknown_issuer",
            Refusal::CertificateExpired => "certificate_expired",
            Refusal::CertificateRevoked => "certificate_revoked",
            Refusal::BadCertificate => "bad_certificate",
            Refusal::TlsProtocol => "tls_protocol",
            Refusal::BadIdentity => "bad_identity",
            Refusal::ServiceWithoutRole => "service_without_role",
            Refusal::CrlStale => "crl_stale",
            Refusal::TooManyConnections => "too_many_connections",
            Refusal::TooManyServiceConnections => "too_many_service_connections",
            Refusal::HandshakeDisplaced => "handshake_displaced",
            Refusal::SourceRateLimited => "source_rate_limited",
            Refusal::DeviceConnectChurn => "device_connect_churn",
            Refusal::ProxyHeaderNotAllowed => "proxy_header_not_allowed",
            Refusal::ProxyHeaderMissing => "proxy_header_missing",
            Refusal::ProxyHeaderMalformed => "proxy_header_malformed",
            Refusal::ConnectTimeout => "connect_timeout",
            Refusal::NotConnectFirst => "not_connect_first",
            Refusal::MalformedPacket => "malformed_packet",
            Refusal::PacketTooLarge => "packet_too_large",
            Refusal::ClientIdMismatch => "client_id_mismatch",
            Refusal::WillNotAllowed => "will_not_allowed",
            Refusal::Qos2 => "qos2",
            Refusal::TopicNotAllowed => "topic_not_allowed",
            Refusal::OtherDeviceTopic => "other_device_topic",
            Refusal::OtherLandlordTopic => "other_landlord_topic",
            Refusal::FilterNotAllowed => "filter_not_allowed",
            Refusal::PersistentSharedSubscription => "persistent_shared_subscription",
            Refusal::PacketTypeNotAllowed => "packet_type_not_allowed",
            Refusal::MessageRateExceeded => "message_rate_exceeded",
            Refusal::KeepAliveTimeout => "keep_alive_timeout",
            Refusal::ClientTooSlow => "client_too_slow",
            Refusal::RevokedWhileConnected => "revoked_while_connected",
            Refusal::CertificateExpiredWhileConnected => "certificate_expired_while_connected",
            Refusal::UpstreamUnavailable => "upstream_unavailable",
        }
    }

    /// Classifies a failed TLS handshake.
    pub fn from_tls_error(e: &std::io::Error) -> Refusal {
        use rustls::{CertificateError, Error};
        let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
            return Refusal::TlsProtocol;
        };
        match tls {
            Error::NoCertificatesPresented => Refusal::NoClientCertificate,
            Error::InvalidCertificate(c) => match c {
                // A foreign CA that copies our CA's name gets as far as the signature check:
                // either way the certificate was not issued by the device CA.
                CertificateError::UnknownIssuer | CertificateError::BadSignature => Refusal::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Refusal::CertificateExpired
                }
                CertificateError::Revoked => Refusal::CertificateRevoked,
                _ => Refusal::BadCertificate,
            },
            _ => Refusal::TlsProtocol,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_once_at_its_own_index() {
        for (i, r) in Refusal::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r}");
        }
        let labels: std::collections::HashSet<_> = Refusal::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), Refusal::ALL.len());
    }
}
