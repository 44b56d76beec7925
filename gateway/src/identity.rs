//! Who is on the other end of a TLS connection, read from its verified client certificate.

use dampwatch_wire::{validate_device_id, validate_landlord_id};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Organisational unit that marks a service certificate (the collector). The CA issues every
/// certificate, so only the operator can mint one.
pub const SERVICE_OU: &str = "service";

/// A verified peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A sensor: CN is the device id, O the landlord id.
    Device { landlord: String, device: String },
    /// A back-end service such as the collector: CN is the service name.
    Service { name: String },
}

impl Identity {
    /// Device id or service name, for logs and metrics.
    pub fn name(&self) -> &str {
        match self {
            Identity::Device { device, .. } => device,
            Identity::Service { name } => name,
        }
    }

    /// Landlord id, if a device.
    pub fn landlord(&self) -> Option<&str> {
        match self {
            Identity::Device { landlord, .. } => Some(landlord),
            Identity::Service { .. } => None,
        }
    }
}

/// A peer certificate that verified but does not name a usable identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("certificate cannot be parsed")]
    Unparsable,
    #[error("certificate has no common name")]
    NoCommonName,
    #[error("device certificate has no organisation (landlord)")]
    NoLandlord,
    #[error("certificate common name is not a valid id: {0}")]
    BadDeviceId(String),
    #[error("certificate organisation is not a valid landlord id: {0}")]
    BadLandlordId(String),
}

/// Identity and serial number of a verified leaf certificate (DER).
pub fn from_certificate(der: &[u8]) -> Result<(Identity, Vec<u8>), IdentityError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| IdentityError::Unparsable)?;
    let subject = cert.subject();
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_owned)
    };
    let cn = first(&mut subject.iter_common_name()).ok_or(IdentityError::NoCommonName)?;
    let ou = first(&mut subject.iter_organizational_unit());
    let serial = cert.raw_serial().to_vec();
    if ou.as_deref() == Some(SERVICE_OU) {
        validate_device_id(&cn).map_err(|e| IdentityError::BadDeviceId(e.to_string()))?;
        return Ok((Identity::Service { name: cn }, serial));
    }
    let o = first(&mut subject.iter_organization()).ok_or(IdentityError::NoLandlord)?;
    validate_device_id(&cn).map_err(|e| IdentityError::BadDeviceId(e.to_string()))?;
    validate_landlord_id(&o).map_err(|e| IdentityError::BadLandlordId(e.to_string()))?;
    Ok((Identity::Device { landlord: o, device: cn }, serial))
}
