//! The gateway's TLS server configuration: TLS 1.3 preferred, 1.2 minimum, ring's modern AEAD
//! suites only, client certificate required and verified against the device CA and the CRL.
//!
//! The configuration is rebuilt whenever the CRL changes and swapped in atomically, so new
//! handshakes see a revocation at once; `revoked_serials` lets the gateway close live
//! connections of newly revoked certificates too.

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// The TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("{path} holds no {what}")]
    Empty { path: String, what: &'static str },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.display().to_string(), message: e.to_string() }
}

/// A loaded server configuration and the serial numbers its CRL revokes.
pub struct TlsState {
    pub config: Arc<ServerConfig>,
    pub revoked_serials: HashSet<Vec<u8>>,
}

/// Loads CA, server certificate and key, and (optionally) the CRL, and builds the config.
pub fn load(ca: &Path, cert: &Path, key: &Path, crl: Option<&Path>) -> Result<TlsState, TlsError> {
    let mut roots = RootCertStore::empty();
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
        .map_err(|e| file_err(ca, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(ca, e))?;
    if cas.is_empty() {
        return Err(TlsError::Empty { path: ca.display().to_string(), what: "certificate" });
    }
    for c in cas {
        roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::Empty { path: cert.display().to_string(), what: "certificate" });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e))?;
    let crls: Vec<CertificateRevocationListDer<'static>> = match crl {
        Some(p) if p.exists() => CertificateRevocationListDer::pem_file_iter(p)
            .map_err(|e| file_err(p, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| file_err(p, e))?,
        _ => Vec::new(),
    };
    let mut revoked_serials = HashSet::new();
    for der in &crls {
        let (_, list) = CertificateRevocationList::from_der(der.as_ref())
            .map_err(|e| TlsError::Config(format!("CRL cannot be parsed: {e}")))?;
        revoked_serials.extend(list.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()));
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .with_crls(crls)
        // The device CA issues leaf certificates directly; a CRL we hold covers them all.
        .only_check_end_entity_revocation()
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let config =
        ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(TlsState { config: Arc::new(config), revoked_serials })
}

/// Installs ring as the process-wide rustls provider (idempotent). Binaries and tests call it
/// before building any TLS configuration.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
