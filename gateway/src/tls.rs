//! The gateway's TLS server configuration: TLS 1.3 preferred, 1.2 minimum, ring's modern AEAD
//! suites only, client certificate required and verified against the device CA and the CRL.
//!
//! The configuration is rebuilt whenever the CRL changes and swapped in atomically, so new
//! handshakes see a revocation at once; `revoked_serials` lets the gateway close live
//! connections of newly revoked certificates too.

use dampwatch_pki::PkiError;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// The TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("CRL cannot be parsed: {0}")]
    Crl(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A loaded server configuration and the serial numbers its CRL revokes.
pub struct TlsState {
    pub config: Arc<ServerConfig>,
    pub revoked_serials: HashSet<Vec<u8>>,
}

/// Loads CA, server certificate and key, and (optionally) the CRL, and builds the config. A
/// configured CRL file that does not exist is treated as "nothing revoked" (a fresh deployment
/// may not have one yet); one that exists but cannot be read is an error, so a damaged CRL never
/// silently un-revokes anyone.
pub fn load(ca: &Path, cert: &Path, key: &Path, crl: Option<&Path>) -> Result<TlsState, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in dampwatch_pki::load_ca_certs(ca)? {
        roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
    }
    let chain = dampwatch_pki::load_cert_chain(cert)?;
    let key = dampwatch_pki::load_private_key(key)?;
    let crls = match crl {
        Some(p) if p.exists() => dampwatch_pki::load_crls(p)?,
        _ => Vec::new(),
    };
    let mut revoked_serials = HashSet::new();
    for der in &crls {
        let (_, list) =
            CertificateRevocationList::from_der(der.as_ref()).map_err(|e| TlsError::Crl(e.to_string()))?;
        revoked_serials.extend(list.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()));
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .with_crls(crls)
        // The device CA issues leaf certificates directly; a CRL we hold covers them all.
        .only_check_end_entity_revocation()
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let mut config =
        ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
    // Devices reconnect rarely and resumption would skip the client certificate check against
    // a CRL that may have changed since: every connection does a full handshake.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(TlsState { config: Arc::new(config), revoked_serials })
}

/// Installs ring as the process-wide rustls provider (idempotent). Binaries and tests call it
/// before building any TLS configuration.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
