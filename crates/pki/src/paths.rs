//! The file layout of a PKI directory. Every other crate asks [`Paths`] for a file name instead
//! of spelling it, so the layout can change in one place.
//!
//! ```text
//! DIR/ca.pem, DIR/ca-key.pem          development root CA (ca-key.pem.age when sealed)
//! DIR/crl.pem                         revocation list signed by the CA
//! DIR/index.json                      serials issued and revoked (state of this tool)
//! DIR/gateway/{cert,key}.pem          gateway TLS server certificate
//! DIR/web/{cert,key}.pem              HTTPS server certificate of the landlord API listener
//! DIR/services/NAME/{cert,key}.pem    service client certificates (NAME = collector, ...)
//! DIR/devices/D/cert.pem             device TLS client certificate (its key is in the device's
//!                                     provisioning bundle, outside this directory: `Bundle`)
//! DIR/devices/D/signing-key.pub       the device's Ed25519 signing public key, hex
//! DIR/downlink/key-N.pem              collector's downlink signing key, generation N (PKCS#8)
//! DIR/downlink/key-N.pub              its public key, hex
//! DIR/audit/key-N.pem                 the platform's audit checkpoint key, generation N (PKCS#8)
//! DIR/audit/key-N.pub                 its public key, hex
//! ```

use std::path::{Path, PathBuf};

/// The service name of the collector's client certificate.
pub const COLLECTOR_SERVICE: &str = "collector";

/// Names every file of a PKI directory. Ids passed in must already be validated (the issuing
/// functions do that), since they become path components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    dir: PathBuf,
}

impl Paths {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Paths { dir: dir.into() }
    }

    /// The PKI directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("ca-key.pem")
    }

    /// The CA key sealed under a passphrase (instead of `ca-key.pem`).
    pub fn ca_key_sealed(&self) -> PathBuf {
        self.dir.join("ca-key.pem.age")
    }

    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }

    pub fn index(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    pub fn gateway_dir(&self) -> PathBuf {
        self.dir.join("gateway")
    }

    pub fn gateway_cert(&self) -> PathBuf {
        self.gateway_dir().join("cert.pem")
    }

    pub fn gateway_key(&self) -> PathBuf {
        self.gateway_dir().join("key.pem")
    }

    pub fn web_dir(&self) -> PathBuf {
        self.dir.join("web")
    }

    /// The HTTPS server certificate of the landlord API listener.
    pub fn web_cert(&self) -> PathBuf {
        self.web_dir().join("cert.pem")
    }

    pub fn web_key(&self) -> PathBuf {
        self.web_dir().join("key.pem")
    }

    pub fn services_dir(&self) -> PathBuf {
        self.dir.join("services")
    }

    pub fn service_dir(&self, name: &str) -> PathBuf {
        self.services_dir().join(name)
    }

    pub fn service_cert(&self, name: &str) -> PathBuf {
        self.service_dir(name).join("cert.pem")
    }

    pub fn service_key(&self, name: &str) -> PathBuf {
        self.service_dir(name).join("key.pem")
    }

    pub fn collector_cert(&self) -> PathBuf {
        self.service_cert(COLLECTOR_SERVICE)
    }

    pub fn collector_key(&self) -> PathBuf {
        self.service_key(COLLECTOR_SERVICE)
    }

    pub fn devices_dir(&self) -> PathBuf {
        self.dir.join("devices")
    }

    pub fn device_dir(&self, device: &str) -> PathBuf {
        self.devices_dir().join(device)
    }

    pub fn device_cert(&self, device: &str) -> PathBuf {
        self.device_dir(device).join("cert.pem")
    }

    pub fn device_signing_public_key(&self, device: &str) -> PathBuf {
        self.device_dir(device).join("signing-key.pub")
    }

    /// Where the collector's downlink keys live, one file pair per generation.
    pub fn downlink_dir(&self) -> PathBuf {
        self.dir.join("downlink")
    }

    /// The collector's downlink signing key of generation `key_id`.
    pub fn downlink_key(&self, key_id: u32) -> PathBuf {
        self.downlink_dir().join(format!("key-{key_id}.pem"))
    }

    pub fn downlink_public_key(&self, key_id: u32) -> PathBuf {
        self.downlink_dir().join(format!("key-{key_id}.pub"))
    }

    /// Where the platform's audit checkpoint keys live, one file pair per generation.
    pub fn audit_dir(&self) -> PathBuf {
        self.dir.join("audit")
    }

    /// The audit checkpoint signing key of generation `key_id`.
    pub fn audit_key(&self, key_id: u32) -> PathBuf {
        self.audit_dir().join(format!("key-{key_id}.pem"))
    }

    pub fn audit_public_key(&self, key_id: u32) -> PathBuf {
        self.audit_dir().join(format!("key-{key_id}.pub"))
    }
}
