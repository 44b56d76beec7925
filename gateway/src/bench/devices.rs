//! The bench's credentials: a temporary PKI made by `dampwatch-pki` (CA, gateway and collector
//! certificates, CRL) and many device certificates signed by its CA in memory. Writing ten
//! thousand device directories through the PKI tool would take longer than the measurements;
//! the certificates are the same kind (P-256, CN = device, O = landlord, clientAuth).

use anyhow::Context;
use dampwatch_pki::Paths;
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::client::Resumption;
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

pub const LANDLORD: &str = "bench";

/// One simulated device.
pub struct Device {
    pub id: String,
    pub tls: Arc<ClientConfig>,
}

impl Device {
    pub fn topic(&self, kind: &str) -> String {
        format!("dw/v1/{LANDLORD}/{}/{kind}", self.id)
    }
}

/// The temporary PKI and everything issued from it.
pub struct Credentials {
    pub dir: tempfile::TempDir,
    pub devices: Vec<Device>,
    pub collector: Arc<ClientConfig>,
}

impl Credentials {
    pub fn paths(&self) -> Paths {
        Paths::new(self.dir.path())
    }
}

fn roots(paths: &Paths) -> anyhow::Result<Arc<rustls::RootCertStore>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in dampwatch_pki::load_ca_certs(&paths.ca_cert())? {
        roots.add(c)?;
    }
    Ok(Arc::new(roots))
}

/// A PKI with `devices` device certificates.
pub fn create(devices: usize) -> anyhow::Result<Credentials> {
    let dir = tempfile::tempdir()?;
    dampwatch_pki::init(dir.path(), Default::default())?;
    let paths = Paths::new(dir.path());
    let roots = roots(&paths)?;
    let collector =
        Arc::new(ClientConfig::builder().with_root_certificates(roots.clone()).with_client_auth_cert(
            dampwatch_pki::load_cert_chain(&paths.collector_cert())?,
            dampwatch_pki::load_private_key(&paths.collector_key())?,
        )?);
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(paths.ca_key())?).context("CA key")?;
    let ca = Issuer::from_ca_cert_pem(&std::fs::read_to_string(paths.ca_cert())?, ca_key).context("CA")?;
    let devices = (0..devices)
        .map(|n| {
            let id = format!("dev-{n:06}");
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name.push(DnType::CommonName, id.as_str());
            params.distinguished_name.push(DnType::OrganizationName, LANDLORD);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            // Far above the serials the PKI tool hands out, so they never collide.
            params.serial_number = Some(SerialNumber::from(1_000_000_000u64 + n as u64));
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca)?;
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
            let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
            let mut tls = ClientConfig::builder()
                .with_root_certificates(roots.clone())
                .with_client_auth_cert(chain, key)?;
            // The gateway refuses resumption (each connection is checked against the current
            // CRL); Mosquitto would resume a session the device held before. Offering none,
            // the clients make both brokers do the full handshake, so their rates compare.
            tls.resumption = Resumption::disabled();
            Ok(Device { id, tls: Arc::new(tls) })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Credentials { dir, devices, collector })
}
