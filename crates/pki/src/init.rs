//! `init`: a new development CA with the gateway's server certificate, the API listener's
//! HTTPS certificate (loopback names), the collector's client certificate and downlink signing
//! key, the platform's audit checkpoint key, and an empty CRL, all in one directory.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::PkiError;
use crate::files::{self, Secrecy};
use crate::index::{subject_key, Index};
use crate::leaf::{self, Profile};
use crate::paths::{Paths, COLLECTOR_SERVICE};
use crate::validity::{check_days, validity, CA_VALIDITY_DAYS, DEFAULT_VALIDITY_DAYS};
use crate::{ca, crl};

/// How to run [`init`].
#[derive(Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// Replace an existing CA. Every certificate the old CA signed stops being trusted.
    pub force: bool,
    /// Lifetime of the gateway and service certificates, in days (the CA lives ten years).
    pub validity_days: u32,
    /// Seal the CA key under this passphrase (`ca-key.pem.age`); later issuing and revoking
    /// need it in `DAMPWATCH_CA_PASSPHRASE`.
    pub ca_passphrase: Option<String>,
}

impl std::fmt::Debug for InitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitOptions")
            .field("force", &self.force)
            .field("validity_days", &self.validity_days)
            .field("ca_passphrase", &self.ca_passphrase.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions { force: false, validity_days: DEFAULT_VALIDITY_DAYS, ca_passphrase: None }
    }
}

/// What [`init`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    pub ca_cert: PathBuf,
    pub gateway_cert: PathBuf,
    /// The API listener's HTTPS certificate (`localhost`, `127.0.0.1`, `::1`).
    pub web_cert: PathBuf,
    pub collector_cert: PathBuf,
    pub crl: PathBuf,
    /// The collector's downlink signing key (made unless the directory had one).
    pub downlink_key: crate::DownlinkKey,
    /// The platform's audit checkpoint key (made unless the directory had one).
    pub audit_key: crate::AuditKey,
    /// True when an existing CA was replaced (`force`).
    pub replaced: bool,
}

/// True when `dir` already holds a CA (what `init` would refuse to overwrite).
pub fn is_initialized(dir: &Path) -> bool {
    Paths::new(dir).ca_cert().exists()
}

/// Creates the development PKI in `dir`: `ca.pem` + `ca-key.pem`, `gateway/{cert,key}.pem`,
/// `web/{cert,key}.pem`, `services/collector/{cert,key}.pem`, `crl.pem` and, unless there is one, the
/// collector's first downlink key `downlink/key-1.{pem,pub}` and the first audit checkpoint key
/// `audit/key-1.{pem,pub}`. Refuses to replace an existing CA unless
/// `options.force`. Serial numbers continue from an existing `index.json`, so even after a
/// forced re-initialisation no serial is used twice.
pub fn init(dir: &Path, options: InitOptions) -> Result<InitReport, PkiError> {
    init_at(dir, options, Utc::now())
}

pub(crate) fn init_at(dir: &Path, options: InitOptions, now: DateTime<Utc>) -> Result<InitReport, PkiError> {
    check_days(options.validity_days)?;
    let _lock = crate::dir_lock::lock(dir, true)?;
    let paths = Paths::new(dir);
    let replaced = paths.ca_cert().exists();
    if replaced && !options.force {
        return Err(PkiError::CaExists { path: paths.ca_cert() });
    }
    let index_path = paths.index();
    let mut index = Index::load_or_default(&index_path)?;
    let ca_serial = index.issue(&subject_key("ca", None), now, &index_path)?;
    let gateway_serial = index.issue(&subject_key("gateway", None), now, &index_path)?;
    // Serials are reserved in the saved index before any certificate exists: a crash can waste
    // a serial but never hand the same one out twice.
    index.save(&index_path)?;

    let ca = ca::create(ca_serial, validity(now, CA_VALIDITY_DAYS)?)?;
    crate::ca_key::write(&paths, &ca.key().serialize_pem(), options.ca_passphrase.as_deref())?;
    files::write_atomic(&paths.ca_cert(), ca.pem().as_bytes(), Secrecy::Public)?;

    let leaf_validity = validity(now, options.validity_days)?;
    leaf::issue(
        Profile::Gateway,
        gateway_serial,
        leaf_validity,
        &ca,
        &paths.gateway_cert(),
        &paths.gateway_key(),
    )?;
    crate::service::issue_with(&paths, &mut index, &ca, COLLECTOR_SERVICE, options.validity_days, now)?;
    let web_names = crate::web::WebNames::loopback();
    crate::web::issue_with(&paths, &mut index, &ca, &web_names, options.validity_days, now)?;

    crl::write(&paths, &mut index, &ca, now)?;
    index.save(&index_path)?;
    // A re-initialised directory keeps its downlink keys: the devices already trust them.
    let downlink_key = match crate::downlink_key::downlink_keys(dir)?.pop() {
        Some(existing) => existing,
        None => crate::downlink_key::rotate_with(&paths, &mut index, now)?.created,
    };
    // Likewise the audit key: verifiers already trust it for the checkpoints it signed.
    let audit_key = match crate::audit_key::audit_keys(dir)?.pop() {
        Some(existing) => existing,
        None => crate::audit_key::rotate_with(&paths, &mut index, now)?,
    };
    Ok(InitReport {
        ca_cert: paths.ca_cert(),
        gateway_cert: paths.gateway_cert(),
        web_cert: paths.web_cert(),
        collector_cert: paths.collector_cert(),
        crl: paths.crl(),
        downlink_key,
        audit_key,
        replaced,
    })
}
