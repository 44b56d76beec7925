//! Dampwatch's evidence pack: everything that shows what a landlord knew about a hazard and
//! when, and whether it acted in time, in one archive that anyone can check offline without
//! trusting Dampwatch.
//!
//! [`export_case`] writes a case's pack: the signed uplinks of its room's devices over the
//! window (bytes as stored), the device certificates, the CA and its CRL, the devices' signing
//! keys with their validity, the case's events with their hash chain, every deadline with the
//! law and calendar data files it was computed from, the readings, and a summary for people
//! (HTML with an SVG chart). A manifest lists every file with its SHA-256 and is signed with
//! the platform's audit key ([`PackSigner`]), the key that signs the audit log's checkpoints.
//!
//! [`verify`] checks a pack against public keys the verifier names: the seal, every file's
//! hash, every certificate and uplink signature, the event chain (recomputed as the
//! database's `case_event_hash` does, [`case_event_hash`]), every listed reading against its
//! signed uplink, every deadline recomputed with `dampwatch-clock`, and the summary. It
//! names the first file that is not what it claims ([`Tampered`]). The format is in the
//! crate's README, precisely enough for a verifier that shares none of this code
//! (`docs/verify_evidence_pack.py` is one).
//!
//! What it must never do:
//! - trust a public key found in a pack (the seal is checked against the verifier's keys;
//!   device keys in the pack are trusted only because the sealed manifest covers them);
//! - re-encode what was signed or hashed: uplink payloads and the events' JSON text are kept
//!   byte for byte as stored;
//! - seal a deadline it cannot show the law data of (an export under another clock
//!   configuration is refused, naming the versions).
//!
//! What it cannot show: the binding between a device's signing key and its certificate is the
//! registry's (the certificate carries the TLS key, not the signing key); the platform vouches
//! for it with the seal.

mod archive;
mod case_record;
mod certificate;
mod chart;
mod contents;
mod deadline;
mod device;
mod error;
mod event;
mod export;
mod hexbytes;
mod law;
pub mod layout;
mod manifest;
mod reading;
mod seal;
mod summary;
mod timestamp;
mod uplink;
mod verify;

pub use archive::{Pack, MAX_ENTRIES, MAX_ENTRY_BYTES};
pub use case_record::CaseRecord;
pub use contents::Contents;
pub use deadline::DeadlineRecord;
pub use device::DeviceRecord;
pub use error::EvidenceError;
pub use event::{case_event_hash, check_chain, hashed_text, EventRecord, FIELD_SEPARATOR};
pub use export::{build, export_case, export_case_with, ExportOptions, ExportSummary, DEFAULT_LOOKBACK};
pub use law::LawFiles;
pub use manifest::{FileEntry, Manifest, Window, FORMAT, SUMMARY_RENDERER};
pub use reading::ReadingRecord;
pub use seal::{seal_message, PackSigner, Seal, SEAL_DOMAIN};
pub use uplink::UplinkRecord;
pub use verify::{verify, verify_pack, Report, Tampered};
