//! The fleet of a run: device ids from the prefix, and each device's credentials read from its
//! provisioning bundle (TLS certificate and key, the CA, Ed25519 signing seed), as a real device
//! holds them; the PKI directory has none of them.

use std::path::Path;
use std::sync::Arc;

use dampwatch_pki::{identity_of, load_ca_certs, load_cert_chain, load_private_key, Bundle, Identity};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};

use crate::error::SimError;
use crate::link::tls_config;

/// Digits of the device number: `sim-00001`. Fixed, so that a run with more devices reuses the
/// ids of a smaller one.
const NUMBER_DIGITS: usize = 5;

/// The ids of `count` devices: `{prefix}00001`, `{prefix}00002`, ...
pub fn device_ids(prefix: &str, count: u32) -> Result<Vec<String>, SimError> {
    (1..=count)
        .map(|n| {
            let id = format!("{prefix}{n:0NUMBER_DIGITS$}");
            dampwatch_wire::validate_device_id(&id)
                .map_err(|reason| SimError::BadDeviceId { id: id.clone(), reason })?;
            Ok(id)
        })
        .collect()
}

/// What a device needs to connect and sign.
pub struct Credentials {
    pub id: String,
    pub tls: Arc<ClientConfig>,
    pub signing_seed: [u8; 32],
}

/// Reads every device's credentials from its bundle in `bundles` (blocking: call from a
/// blocking task). Each certificate must name `landlord`, or the gateway would refuse the
/// device's topics.
pub fn load(bundles: &Path, landlord: &str, ids: &[String]) -> Result<Vec<Credentials>, SimError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ids.iter().map(|id| load_one(&Bundle::of(bundles, id), &provider, bundles, landlord, id)).collect()
}

fn load_one(
    bundle: &Bundle,
    provider: &Arc<CryptoProvider>,
    bundles: &Path,
    landlord: &str,
    id: &str,
) -> Result<Credentials, SimError> {
    if !bundle.is_complete() {
        return Err(SimError::NotProvisioned { device: id.to_owned(), dir: bundles.to_owned() });
    }
    let chain = load_cert_chain(&bundle.cert())?;
    check_landlord(&chain[0], id, landlord)?;
    let mut roots = RootCertStore::empty();
    for ca in load_ca_certs(&bundle.ca_cert())? {
        roots.add(ca).map_err(|source| SimError::Tls { device: id.to_owned(), source })?;
    }
    let key = load_private_key(&bundle.key())?;
    let signing_seed = bundle.signing_seed()?;
    let tls = tls_config(provider, &Arc::new(roots), chain, key)
        .map_err(|source| SimError::Tls { device: id.to_owned(), source })?;
    Ok(Credentials { id: id.to_owned(), tls, signing_seed })
}

/// Fails unless the certificate is a device certificate for `device` of `landlord`.
pub fn check_landlord(
    cert: &rustls::pki_types::CertificateDer<'_>,
    device: &str,
    landlord: &str,
) -> Result<(), SimError> {
    match identity_of(cert).map_err(|source| SimError::Certificate { device: device.to_owned(), source })? {
        Identity::Device { landlord: found, .. } if found != landlord => {
            Err(SimError::WrongLandlord { device: device.to_owned(), found, wanted: landlord.to_owned() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbered_from_one_and_validated() {
        assert_eq!(device_ids("sim-", 3).unwrap(), ["sim-00001", "sim-00002", "sim-00003"]);
        assert_eq!(device_ids("x", 100_000).unwrap().last().unwrap(), "x100000");
        assert!(device_ids("Sim_", 1).unwrap_err().to_string().contains("Sim_00001"));
    }
}
