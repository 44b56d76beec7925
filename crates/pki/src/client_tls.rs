//! The client side of mutual TLS from a PKI's files: trusting the PKI's CA and presenting one
//! holder's certificate. Devices (from their provisioning bundle, [`crate::Bundle::client_tls`]),
//! the collector and every test or benchmark client connect to the gateway with this one
//! configuration.

use std::path::Path;
use std::sync::Arc;

use crate::error::PkiError;
use crate::load::{load_ca_certs, load_cert_chain, load_private_key};
use crate::paths::Paths;

/// Whose certificate a client presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    /// A service such as the collector ([`crate::COLLECTOR_SERVICE`]).
    Service(&'a str),
    /// No client certificate (what an anonymous client or a scanner presents).
    Anonymous,
}

/// A client configuration for `holder`, from the PKI directory `pki_dir`.
pub fn client_tls(pki_dir: &Path, holder: Holder<'_>) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let paths = Paths::new(pki_dir);
    let identity = match holder {
        Holder::Service(s) => Some((paths.service_cert(s), paths.service_key(s))),
        Holder::Anonymous => None,
    };
    let identity = identity.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
    client_tls_from_files(&paths.ca_cert(), identity)
}

/// A client configuration trusting the CA certificates in `ca` and presenting `identity`
/// (certificate chain file, private key file) when given: for configured file locations.
pub fn client_tls_from_files(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_ca_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| PkiError::BadCertificate { path: ca.to_owned(), reason: e.to_string() })?;
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_cert_chain(cert)?, load_private_key(key)?)
            .map_err(|e| PkiError::BadKey { path: key.to_owned(), reason: e.to_string() })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_and_the_collector_get_their_own_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let (pki, bundles) = (dir.path().join("pki"), dir.path().join("bundles"));
        crate::init(&pki, Default::default()).unwrap();
        crate::issue_device(&pki, &bundles, "acme", "dev-1", crate::IssueOptions::default()).unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let device = crate::Bundle::of(&bundles, "dev-1").client_tls().unwrap();
        assert!(device.client_auth_cert_resolver.has_certs());
        let collector = client_tls(&pki, Holder::Service(crate::COLLECTOR_SERVICE)).unwrap();
        assert!(collector.client_auth_cert_resolver.has_certs());
        assert!(!client_tls(&pki, Holder::Anonymous).unwrap().client_auth_cert_resolver.has_certs());
        let missing = crate::Bundle::of(&bundles, "dev-2").client_tls().unwrap_err();
        assert!(missing.to_string().contains("dev-2"), "{missing}");
    }
}
