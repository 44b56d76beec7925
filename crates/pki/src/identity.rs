//! Who a client certificate speaks for. A device certificate has CN = device id, O = landlord id
//! and no OU; a service certificate has CN = service name, O = `dampwatch`, OU = `service`. The
//! OU is what tells the two apart, so a landlord that happens to be called `dampwatch` still
//! cannot pass its devices off as services.

use rustls_pki_types::CertificateDer;
use x509_parser::x509::AttributeTypeAndValue;

use crate::error::{check_id, IdKind};

/// The organisation of every certificate this PKI issues to itself (CA, gateway, services).
pub const DAMPWATCH_ORGANIZATION: &str = "dampwatch";
/// The organisational unit that marks a service identity. Devices never have an OU.
pub const SERVICE_UNIT: &str = "service";

/// The identity a client certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Device { landlord: String, device: String },
    Service { name: String },
}

/// Why a certificate does not carry a usable identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the certificate cannot be parsed")]
    Unparseable,
    #[error("the certificate subject must have exactly one {0}")]
    Attribute(&'static str),
    #[error("the certificate subject has organisational unit {0:?}, which is not a known kind")]
    UnknownUnit(String),
    #[error("the certificate subject has more than one organisational unit")]
    MultipleUnits,
    #[error("a service certificate must have organisation {DAMPWATCH_ORGANIZATION:?}")]
    ServiceOrganization,
    #[error("{0}")]
    InvalidId(String),
}

/// Reads the identity from a (verified) client certificate. Checks the subject, not the
/// signature: call it only on a certificate the TLS layer has already verified.
pub fn identity_of(cert: &CertificateDer<'_>) -> Result<Identity, IdentityError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|_| IdentityError::Unparseable)?;
    let subject = parsed.subject();
    let cn = single("CN", subject.iter_common_name())?;
    let org = single("O", subject.iter_organization())?;
    let units = values(subject.iter_organizational_unit())?;
    match units.as_slice() {
        [] => {
            check_id(IdKind::Landlord, &org).map_err(|e| IdentityError::InvalidId(e.to_string()))?;
            check_id(IdKind::Device, &cn).map_err(|e| IdentityError::InvalidId(e.to_string()))?;
            Ok(Identity::Device { landlord: org, device: cn })
        }
        [unit] if unit == SERVICE_UNIT => {
            if org != DAMPWATCH_ORGANIZATION {
                return Err(IdentityError::ServiceOrganization);
            }
            check_id(IdKind::Service, &cn).map_err(|e| IdentityError::InvalidId(e.to_string()))?;
            Ok(Identity::Service { name: cn })
        }
        [unit] => Err(IdentityError::UnknownUnit(unit.clone())),
        _ => Err(IdentityError::MultipleUnits),
    }
}

/// The string values of one subject attribute.
fn values<'n, 'a: 'n>(
    attrs: impl Iterator<Item = &'n AttributeTypeAndValue<'a>>,
) -> Result<Vec<String>, IdentityError> {
    attrs.map(|attr| attr.as_str().map(str::to_owned).map_err(|_| IdentityError::Unparseable)).collect()
}

/// The value of an attribute that must appear exactly once.
fn single<'n, 'a: 'n>(
    label: &'static str,
    attrs: impl Iterator<Item = &'n AttributeTypeAndValue<'a>>,
) -> Result<String, IdentityError> {
    let mut found = values(attrs)?;
    match found.len() {
        1 => Ok(found.remove(0)),
        _ => Err(IdentityError::Attribute(label)),
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;

    fn cert_with(subject: &[(DnType, &str)]) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        for (ty, value) in subject {
            params.distinguished_name.push(ty.clone(), *value);
        }
        let key = KeyPair::generate().expect("key");
        params.self_signed(&key).expect("cert").der().clone()
    }

    #[test]
    fn only_the_service_unit_under_dampwatch_makes_a_service() {
        let cert = cert_with(&[
            (DnType::CommonName, "collector"),
            (DnType::OrganizationName, "acme"),
            (DnType::OrganizationalUnitName, SERVICE_UNIT),
        ]);
        assert_eq!(identity_of(&cert), Err(IdentityError::ServiceOrganization));

        let cert = cert_with(&[
            (DnType::CommonName, "dev-1"),
            (DnType::OrganizationName, "acme"),
            (DnType::OrganizationalUnitName, "admins"),
        ]);
        assert_eq!(identity_of(&cert), Err(IdentityError::UnknownUnit("admins".into())));
    }

    #[test]
    fn a_device_subject_must_hold_valid_ids() {
        let cert = cert_with(&[(DnType::CommonName, "dev/1"), (DnType::OrganizationName, "acme")]);
        assert!(matches!(identity_of(&cert), Err(IdentityError::InvalidId(m)) if m.starts_with("device id")));
        let cert = cert_with(&[(DnType::CommonName, "dev-1")]);
        assert_eq!(identity_of(&cert), Err(IdentityError::Attribute("O")));
        assert_eq!(identity_of(&CertificateDer::from(vec![1, 2, 3])), Err(IdentityError::Unparseable));
    }
}
