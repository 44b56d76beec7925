//! The gateway's TLS server configuration: TLS 1.3 preferred, 1.2 minimum, ring's modern AEAD
//! suites only, client certificate required and verified against the device CA and the CRL.
//!
//! The configuration is rebuilt whenever the CRL changes and swapped in atomically, so new
//! handshakes see a revocation at once; `revoked_serials` lets the gateway close live
//! connections of newly revoked certificates too. The CRL itself is read by `crate::crl`.

use crate::crl::Crl;
use dampwatch_pki::PkiError;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// The TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("CRL cannot be parsed: {0}")]
    Crl(String),
    #[error(
        "CRL file {0} does not exist; the gateway does not run without one (`dampwatch pki init` writes an empty CRL)"
    )]
    CrlMissing(PathBuf),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A loaded server configuration, the serial numbers its CRL revokes and when that CRL goes
/// stale.
pub struct TlsState {
    pub config: Arc<ServerConfig>,
    pub revoked_serials: HashSet<Vec<u8>>,
    pub crl_next_update: Option<SystemTime>,
}

/// Loads CA, server certificate and key, and the CRL, and builds the config. A CRL that is
/// missing or cannot be read is an error, so neither a fresh deployment nor a damaged file ever
/// silently un-revokes anyone.
pub fn load(ca: &Path, cert: &Path, key: &Path, crl: &Path) -> Result<TlsState, TlsError> {
    let mut roots = RootCertStore::empty();
    for c in dampwatch_pki::load_ca_certs(ca)? {
        roots.add(c).map_err(|e| TlsError::Config(e.to_string()))?;
    }
    let chain = dampwatch_pki::load_cert_chain(cert)?;
    let key = dampwatch_pki::load_private_key(key)?;
    let Crl { lists, revoked_serials, next_update } = Crl::load(crl)?;
    // A stale CRL still revokes what it lists (rustls ignores nextUpdate unless told to
    // enforce it); the gateway reports staleness and applies `tls.stale_crl` itself.
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .with_crls(lists)
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
    Ok(TlsState { config: Arc::new(config), revoked_serials, crl_next_update: next_update })
}

/// Installs ring as the process-wide rustls provider (idempotent). Binaries and tests call it
/// before building any TLS configuration.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
