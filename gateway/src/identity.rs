//! Who is on the other end of a TLS connection, read from its verified client certificate with
//! the PKI's own rule (`dampwatch_pki::identity_of`), plus the certificate serial number that
//! revocation is checked against.

pub use dampwatch_pki::{Identity, IdentityError};
use rustls_pki_types::CertificateDer;
use std::time::SystemTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A verified peer: its identity, its certificate's serial number (DER content octets, as
/// they appear in a CRL) and the end of the certificate's validity (notAfter), when the
/// gateway closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub identity: Identity,
    pub serial: Vec<u8>,
    pub not_after: SystemTime,
}

impl Peer {
    /// Reads a verified leaf certificate.
    pub fn from_certificate(cert: &CertificateDer<'_>) -> Result<Peer, IdentityError> {
        let identity = dampwatch_pki::identity_of(cert)?;
        let (_, parsed) = X509Certificate::from_der(cert).map_err(|_| IdentityError::Unparseable)?;
        let not_after = crate::crl::system_time(parsed.validity().not_after.timestamp());
        Ok(Peer { identity, serial: parsed.raw_serial().to_vec(), not_after })
    }

    /// Device id or service name, for logs.
    pub fn name(&self) -> &str {
        match &self.identity {
            Identity::Device { device, .. } => device,
            Identity::Service { name } => name,
        }
    }

    /// Landlord id, if a device.
    pub fn landlord(&self) -> Option<&str> {
        match &self.identity {
            Identity::Device { landlord, .. } => Some(landlord),
            Identity::Service { .. } => None,
        }
    }

    /// `landlord/device`, the key of everything kept per device (sessions, rate limits). It is
    /// exactly the middle of the device's topics, `dw/v1/{landlord}/{device}/...`.
    pub fn device_key(&self) -> Option<String> {
        match &self.identity {
            Identity::Device { landlord, device } => Some(format!("{landlord}/{device}")),
            Identity::Service { .. } => None,
        }
    }
}
