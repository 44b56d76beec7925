//! Offline verification of a pack, against public keys the verifier names (never a key found
//! in the pack). In order, stopping at the first problem and naming its file:
//!
//! 1. the seal: the manifest signed by a trusted key;
//! 2. every file's SHA-256 against the manifest, and no file the manifest does not list;
//! 3. the certificate authority, its CRL (signed by it), and each device certificate: chained
//!    to the CA, naming its device, valid and not revoked when each of its uplinks arrived;
//! 4. every uplink: digest, the device's key and its validity, the Ed25519 signature over
//!    the wire's signing message, the payload decoding as the same device's;
//! 5. the case's event chain, recomputed as the database's `case_event_hash`;
//! 6. every listed reading in a verified uplink, with the values the device signed;
//! 7. every deadline recomputed from the events and the pack's law and calendar files;
//! 8. the summary re-rendered from the data files (when this build has the pack's renderer).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;

use chrono::{DateTime, Utc};
use dampwatch_proto::v1::Uplink;

use crate::archive::Pack;
use crate::certificate::{Authority, AuthorityError};
use crate::contents::Contents;
use crate::layout;
use crate::manifest::{FileEntry, Manifest, FORMAT, SUMMARY_RENDERER};
use crate::seal::Seal;

/// The first thing wrong with a pack: the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampered {
    pub file: String,
    pub reason: String,
}

impl Tampered {
    pub fn new(file: &str, reason: impl Into<String>) -> Tampered {
        Tampered { file: file.to_owned(), reason: reason.into() }
    }
}

impl fmt::Display for Tampered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.reason)
    }
}

impl std::error::Error for Tampered {}

/// What an intact pack holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub case_id: i64,
    pub landlord_id: String,
    pub key_id: String,
    pub uplinks: usize,
    pub devices: usize,
    pub certificates: usize,
    pub readings: usize,
    pub events: usize,
    pub deadlines: usize,
    /// Whether the summary was re-rendered and compared (same renderer).
    pub summary_checked: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "case {} of {}: {} uplinks from {} devices ({} certificates) verified, {} readings in signed uplinks, \
             {} events chained, {} deadlines recomputed, summary {}; sealed by {}",
            self.case_id,
            self.landlord_id,
            self.uplinks,
            self.devices,
            self.certificates,
            self.readings,
            self.events,
            self.deadlines,
            if self.summary_checked { "matches the data" } else { "not re-rendered (another renderer)" },
            self.key_id
        )
    }
}

/// Verifies the pack read from `reader` against the public keys in `trusted`.
pub fn verify(reader: impl Read, trusted: &[[u8; 32]]) -> Result<Report, Tampered> {
    verify_pack(&Pack::read(reader)?, trusted)
}

/// Verifies a pack already read.
pub fn verify_pack(pack: &Pack, trusted: &[[u8; 32]]) -> Result<Report, Tampered> {
    let manifest_bytes =
        pack.get(layout::MANIFEST).ok_or_else(|| Tampered::new(layout::MANIFEST, "missing"))?;
    let seal: Seal =
        serde_json::from_slice(pack.get(layout::SEAL).ok_or_else(|| Tampered::new(layout::SEAL, "missing"))?)
            .map_err(|e| Tampered::new(layout::SEAL, format!("unreadable: {e}")))?;
    seal.verify(manifest_bytes, trusted).map_err(|(file, reason)| Tampered::new(file, reason))?;
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| Tampered::new(layout::MANIFEST, format!("unreadable: {e}")))?;
    if manifest.format != FORMAT {
        return Err(Tampered::new(
            layout::MANIFEST,
            format!("format {:?}, this verifier reads {FORMAT:?}", manifest.format),
        ));
    }
    check_files(pack, &manifest.files)?;
    let contents = Contents::parse(pack)?;
    let (devices, certificates, uplinks) = check_uplinks(&contents)?;
    check_case(&contents, &manifest)?;
    check_readings(&contents, &uplinks)?;
    let case = crate::deadline::replay(&contents.case, &contents.events)
        .map_err(|r| Tampered::new(layout::EVENTS, r))?;
    let clock = contents.law.clock().map_err(|(file, reason)| Tampered::new(&file, reason))?;
    let deadlines = crate::deadline::check_deadlines(&case, &clock, &contents.deadlines, manifest.created_at)
        .map_err(|(row, reason)| Tampered::new(layout::DEADLINES, format!("{row}: {reason}")))?;
    let summary_checked = manifest.summary_renderer == SUMMARY_RENDERER;
    if summary_checked
        && pack.get(layout::SUMMARY) != Some(crate::summary::render(&contents, &manifest).as_bytes())
    {
        return Err(Tampered::new(layout::SUMMARY, "is not the summary of the pack's data"));
    }
    Ok(Report {
        case_id: contents.case.id,
        landlord_id: contents.case.landlord_id.clone(),
        key_id: seal.key_id,
        uplinks: uplinks.len(),
        devices,
        certificates,
        readings: contents.readings.len(),
        events: contents.events.len(),
        deadlines,
        summary_checked,
    })
}

/// Every listed file present with its hash, every present file listed.
fn check_files(pack: &Pack, listed: &[FileEntry]) -> Result<(), Tampered> {
    let mut names = BTreeSet::new();
    for entry in listed {
        if !names.insert(entry.path.as_str()) {
            return Err(Tampered::new(&entry.path, "listed twice in the manifest"));
        }
        let content = pack.get(&entry.path).ok_or_else(|| Tampered::new(&entry.path, "missing"))?;
        if FileEntry::of(&entry.path, content) != *entry {
            return Err(Tampered::new(&entry.path, "SHA-256 does not match the manifest"));
        }
    }
    for (path, _) in &pack.files {
        if path != layout::MANIFEST && path != layout::SEAL && !names.contains(path.as_str()) {
            return Err(Tampered::new(path, "not listed in the manifest"));
        }
    }
    Ok(())
}

/// The certificates and every uplink; returns (devices, certificates, verified uplinks by
/// digest with their arrival).
#[allow(clippy::type_complexity)]
fn check_uplinks(
    contents: &Contents,
) -> Result<(usize, usize, BTreeMap<[u8; 32], (Uplink, DateTime<Utc>)>), Tampered> {
    let authority = Authority::new(&contents.ca_pem, &contents.crl_pem).map_err(|e| match e {
        AuthorityError::Ca(reason) => Tampered::new(layout::CA, reason),
        AuthorityError::Crl(reason) => Tampered::new(layout::CRL, reason),
    })?;
    let mut devices = BTreeMap::new();
    for d in &contents.devices {
        if d.landlord_id != contents.case.landlord_id {
            return Err(Tampered::new(layout::DEVICES, format!("device {} is another landlord's", d.id)));
        }
        if devices.insert(d.id.as_str(), d).is_some() {
            return Err(Tampered::new(layout::DEVICES, format!("device {} listed twice", d.id)));
        }
    }
    let mut verified = BTreeMap::new();
    for (line, u) in contents.uplinks.iter().enumerate() {
        let at = |reason: String| {
            Tampered::new(layout::UPLINKS, format!("line {} ({}): {reason}", line + 1, u.label()))
        };
        let device = devices
            .get(u.device_id.as_str())
            .ok_or_else(|| at("its device is not in devices.json".into()))?;
        let uplink = u.check(device).map_err(at)?;
        if verified.insert(u.digest, (uplink, u.received_at)).is_some() {
            return Err(at("listed twice".into()));
        }
    }
    let mut certificates = 0;
    for d in &contents.devices {
        let Some(path) = &d.certificate else { continue };
        let pem = contents.certificates.get(path).ok_or_else(|| Tampered::new(path, "missing"))?;
        let arrivals: Vec<DateTime<Utc>> =
            contents.uplinks.iter().filter(|u| u.device_id == d.id).map(|u| u.received_at).collect();
        let serial = authority
            .check_device(pem, &d.id, &d.landlord_id, &arrivals)
            .map_err(|r| Tampered::new(path, r))?;
        if d.cert_serial.as_ref().is_some_and(|registered| *registered != serial) {
            return Err(Tampered::new(path, format!("serial {serial} is not the registered certificate's")));
        }
        certificates += 1;
    }
    Ok((devices.len(), certificates, verified))
}

/// The case record and its event chain.
fn check_case(contents: &Contents, manifest: &Manifest) -> Result<(), Tampered> {
    let case = &contents.case;
    if case.id != manifest.case_id || case.landlord_id != manifest.landlord_id {
        return Err(Tampered::new(layout::CASE, "is not the case the manifest names"));
    }
    if let Some(e) = contents.events.iter().find(|e| e.case_id != case.id) {
        return Err(Tampered::new(layout::EVENTS, format!("seq {}: belongs to case {}", e.seq, e.case_id)));
    }
    crate::event::check_chain(&contents.events)
        .map_err(|(seq, reason)| Tampered::new(layout::EVENTS, format!("seq {seq}: {reason}")))?;
    crate::event::check_texts(&contents.events)
        .map_err(|(seq, reason)| Tampered::new(layout::EVENTS, format!("seq {seq}: {reason}")))?;
    if contents.events.len() != usize::try_from(case.event_count).unwrap_or(usize::MAX) {
        return Err(Tampered::new(
            layout::EVENTS,
            format!("{} events, the case records {}", contents.events.len(), case.event_count),
        ));
    }
    if let Some(first) = contents.events.first().filter(|e| e.occurred_at != case.opened_at) {
        return Err(Tampered::new(
            layout::CASE,
            format!("opened_at is not the time of event seq {}", first.seq),
        ));
    }
    Ok(())
}

fn check_readings(
    contents: &Contents,
    uplinks: &BTreeMap<[u8; 32], (Uplink, DateTime<Utc>)>,
) -> Result<(), Tampered> {
    for r in &contents.readings {
        let at = |reason: String| Tampered::new(layout::READINGS, format!("{}: {reason}", r.label()));
        let (uplink, received_at) = uplinks.get(&r.uplink_digest).ok_or_else(|| {
            at(format!("its uplink {} is not in the pack", &hex::encode(r.uplink_digest)[..12]))
        })?;
        r.check_against(uplink, *received_at).map_err(at)?;
    }
    Ok(())
}
