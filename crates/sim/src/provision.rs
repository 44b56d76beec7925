//! `--provision`: the devices a run needs, in one step. Each gets a certificate and signing key
//! (unless it has them: its provisioning bundle holds the private keys, the PKI the certificate
//! and public key; keys an earlier release left in the PKI are moved into the bundle) and an
//! entry in the collector's device registry (unless it has one). Idempotent: a second run reuses everything, so a newcomer can repeat the command.
//! Every device is also given the collector's downlink public keys ([`collector_keys`]), as a
//! real sensor is at provisioning, so it trusts the collector's acknowledgements and
//! configurations and nobody else's.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use dampwatch_firmware::{CollectorKey, CollectorKeys};
use dampwatch_pki::{
    issue_device, load_cert_chain, load_signing_public_key, move_device_key, trusted_downlink_keys, Bundle,
    IssueOptions, Paths, PkiError,
};
use dampwatch_store::registry::{self, NewDevice};

use crate::error::SimError;
use crate::fleet::check_landlord;

/// Key id every simulated device signs with (the registry's first key).
pub const KEY_ID: u32 = 1;
/// Registry lookups and inserts per statement batch.
const CHUNK: usize = 500;

/// What provisioning did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioned {
    pub certificates_issued: usize,
    pub certificates_reused: usize,
    pub registered: usize,
    pub already_registered: usize,
    /// Devices registered earlier with a provisioning time after `provisioned_at`: the
    /// collector will correct the times of their readings dated before it.
    pub registered_late: usize,
}

/// The collector's downlink public keys a device is provisioned with: the newest two in the
/// PKI, so a device keeps accepting the collector's signatures while a key rotation overlaps.
pub fn collector_keys(pki: &Path) -> Result<CollectorKeys, SimError> {
    let keys: Vec<CollectorKey> = trusted_downlink_keys(pki)?
        .into_iter()
        .map(|k| CollectorKey { key_id: k.key_id, public_key: k.public_key })
        .collect();
    CollectorKeys::new(&keys).map_err(SimError::CollectorKeys)
}

/// One device's signing public key and certificate serial, from the PKI.
struct Issued {
    public_key: [u8; 32],
    serial: Option<u64>,
    fresh: bool,
}

/// Issues what is missing (blocking: call from a blocking task).
fn issue_missing(
    pki: &Path,
    bundles: &Path,
    landlord: &str,
    ids: &[String],
) -> Result<Vec<Issued>, SimError> {
    let paths = Paths::new(pki);
    ids.iter()
        .map(|id| {
            let cert = paths.device_cert(id);
            if cert.exists() {
                let chain = load_cert_chain(&cert)?;
                check_landlord(&chain[0], id, landlord)?;
                let bundle = Bundle::of(bundles, id);
                if !bundle.is_complete() && !move_device_key(pki, bundles, id)? {
                    let bundle = bundle.dir().to_owned();
                    return Err(PkiError::NoBundle { device: id.clone(), pki: pki.to_owned(), bundle }.into());
                }
                let public_key = load_signing_public_key(&paths.device_signing_public_key(id))?;
                Ok(Issued { public_key, serial: None, fresh: false })
            } else {
                let d = issue_device(pki, bundles, landlord, id, IssueOptions::default())?;
                Ok(Issued { public_key: d.signing_public_key, serial: Some(d.serial), fresh: true })
            }
        })
        .collect()
}

/// Provisions `ids` for `landlord`: PKI under `pki`, the devices' bundles under `bundles`,
/// registry in the database at `db_url` (its schema is created if the collector has not run
/// yet). New registry entries get `provisioned_at`, which must lie before the simulated span.
pub async fn provision(
    pki: &Path,
    bundles: &Path,
    db_url: &str,
    landlord: &str,
    ids: &[String],
    provisioned_at: DateTime<Utc>,
) -> Result<Provisioned, SimError> {
    let issued = {
        let (pki, bundles, landlord, ids) =
            (pki.to_owned(), bundles.to_owned(), landlord.to_owned(), ids.to_vec());
        tokio::task::spawn_blocking(move || issue_missing(&pki, &bundles, &landlord, &ids)).await??
    };
    let mut report = Provisioned {
        certificates_issued: issued.iter().filter(|i| i.fresh).count(),
        certificates_reused: issued.iter().filter(|i| !i.fresh).count(),
        ..Provisioned::default()
    };

    dampwatch_store::prepare_database(db_url).await?;
    let db = dampwatch_store::connect(db_url).await?;
    let paths = Paths::new(pki);
    for (ids, issued) in ids.chunks(CHUNK).zip(issued.chunks(CHUNK)) {
        let names: Vec<&str> = ids.iter().map(String::as_str).collect();
        let existing: HashMap<String, _> = registry::lookup(&db, &names).await?;
        for (id, i) in ids.iter().zip(issued) {
            match existing.get(id) {
                Some(entry) => {
                    if !entry.active
                        || entry.public_key != i.public_key
                        || entry.landlord != landlord
                        || entry.key_id != KEY_ID
                    {
                        return Err(SimError::RegistryMismatch {
                            device: id.clone(),
                            path: paths.device_signing_public_key(id),
                        });
                    }
                    report.already_registered += 1;
                    if entry.provisioned_at > provisioned_at {
                        report.registered_late += 1;
                    }
                }
                None => {
                    let device = NewDevice {
                        id,
                        landlord,
                        public_key: &i.public_key,
                        key_id: KEY_ID,
                        cert_serial: i.serial.map(|s| s.to_string()),
                        provisioned_at: Some(provisioned_at),
                    };
                    registry::add_device(&db, &device).await?;
                    report.registered += 1;
                }
            }
        }
    }
    Ok(report)
}
