//! Reading the PKI files into the `rustls-pki-types` values a TLS server or client is built
//! from. Each loader fails on a file that holds nothing of the expected kind, because an empty
//! trust store or CRL list would silently change what a server accepts.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::error::PkiError;

/// The trust anchors in a PEM file (`ca.pem`).
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    load_all(path, "certificate")
}

/// A certificate chain, leaf first (`cert.pem`).
pub fn load_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    load_all(path, "certificate")
}

/// The first private key in a PEM file (`key.pem`), PKCS#8, SEC1 or PKCS#1.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => {
            PkiError::Empty { path: path.to_owned(), what: "private key" }
        }
        source => PkiError::Pem { path: path.to_owned(), source },
    })
}

/// The CRLs in a PEM file (`crl.pem`).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, PkiError> {
    load_all(path, "certificate revocation list")
}

fn load_all<T: PemObject>(path: &Path, what: &'static str) -> Result<Vec<T>, PkiError> {
    let pem_error = |source| PkiError::Pem { path: path.to_owned(), source };
    let items =
        T::pem_file_iter(path).map_err(pem_error)?.collect::<Result<Vec<T>, _>>().map_err(pem_error)?;
    if items.is_empty() {
        return Err(PkiError::Empty { path: path.to_owned(), what });
    }
    Ok(items)
}
