//! Export: one case's evidence read from the database and the PKI directory, sealed with the
//! platform's audit key and written as one archive.
//!
//! Which uplinks: every uplink of the case's devices that carries a reading sampled in the
//! window, from `lookback` before the condition began (the alert's `since`, or the case's
//! opening) to the moment of export. The devices are those of the case's room (or the device
//! that is its own room). Every deadline must have been computed under the law and calendar
//! versions of the clock given here, whose data files go into the pack: a deadline computed
//! under another configuration refuses the export (with the versions), since the pack could
//! not show how it was counted.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_clock::{ClockConfig, ClockSources};
use tokio_postgres::GenericClient;

use crate::archive::Pack;
use crate::case_record::CaseRecord;
use crate::contents::Contents;
use crate::deadline::DeadlineRecord;
use crate::device::DeviceRecord;
use dampwatch_privacy::case_texts::OpenedText;
use std::collections::BTreeMap;

use crate::error::EvidenceError;
use crate::event::EventRecord;
use crate::law::LawFiles;
use crate::layout;
use crate::manifest::{Manifest, Window, FORMAT, SUMMARY_RENDERER};
use crate::reading::ReadingRecord;
use crate::seal::PackSigner;
use crate::uplink::UplinkRecord;

/// Readings from this long before the condition began are included by default: enough for
/// the indicators' longest rolling windows to be seen from their start.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(30 * 86_400);

/// How to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// The clock configuration the deadlines were computed under (the service's
    /// `[alerts.clock]`).
    pub clock: ClockConfig,
    /// How far before the condition began the readings go.
    pub lookback: Duration,
    /// The moment of export (the end of the window); `None` is now.
    pub now: Option<DateTime<Utc>>,
    /// The case's sealed texts, opened by the exporter (`dampwatch_privacy::case_texts`), by
    /// id: each goes into the pack beside the event that refers to it. Empty: the pack holds
    /// the events' digests of their texts only.
    pub texts: BTreeMap<i64, OpenedText>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            clock: ClockConfig::default(),
            lookback: DEFAULT_LOOKBACK,
            now: None,
            texts: BTreeMap::new(),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub case_id: i64,
    pub uplinks: usize,
    pub readings: usize,
    pub events: usize,
    /// Events whose officers' text the pack carries opened.
    pub texts: usize,
    /// Events that refer to a sealed text the pack carries as a digest only.
    pub texts_as_digests: usize,
    pub deadlines: usize,
    pub devices: usize,
    pub key_id: String,
}

/// Writes the evidence pack of `case_id` to `writer`, with the default options, sealed with
/// the audit key of `pki_dir` (which also holds the CA, the CRL and the device certificates).
/// `client` must read the registry, the uplinks and readings, and the case tables (a service
/// connection, not a landlord's row-level-secured one).
pub async fn export_case(
    client: &impl GenericClient,
    pki_dir: &Path,
    case_id: i64,
    writer: impl Write,
) -> Result<ExportSummary, EvidenceError> {
    export_case_with(client, pki_dir, case_id, &ExportOptions::default(), writer).await
}

/// [`export_case`] with options.
pub async fn export_case_with(
    client: &impl GenericClient,
    pki_dir: &Path,
    case_id: i64,
    options: &ExportOptions,
    writer: impl Write,
) -> Result<ExportSummary, EvidenceError> {
    let signer = PackSigner::load(pki_dir)?;
    let (pack, summary) = build(client, pki_dir, case_id, options, &signer).await?;
    let mtime = options.now.unwrap_or_else(Utc::now).timestamp().max(0) as u64;
    pack.write(writer, mtime)?;
    Ok(summary)
}

/// The sealed pack of a case, in memory (see [`export_case_with`]).
pub async fn build(
    client: &impl GenericClient,
    pki_dir: &Path,
    case_id: i64,
    options: &ExportOptions,
    signer: &PackSigner,
) -> Result<(Pack, ExportSummary), EvidenceError> {
    // The database keeps microseconds: the manifest's time is one it can hold.
    let now = options.now.unwrap_or_else(Utc::now);
    let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let case = case_record(client, case_id).await?;
    let mut events = events(client, case_id).await?;
    for e in &mut events {
        e.attach_text(&options.texts);
    }
    let deadlines = deadlines(client, case_id).await?;
    let law = LawFiles::new(&options.clock, &ClockSources::embedded()).map_err(EvidenceError::Law)?;
    let clock = law.clock().map_err(|(_, reason)| EvidenceError::Law(reason))?;
    check_versions(&clock, &deadlines)?;
    let devices = devices(client, &case, pki_dir).await?;
    let device_ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    let began = case.alert_since.map_or(case.opened_at, |since| since.min(case.opened_at));
    let lookback = chrono::Duration::from_std(options.lookback).map_err(|_| EvidenceError::Window)?;
    let window = Window { from: began.checked_sub_signed(lookback).ok_or(EvidenceError::Window)?, to: now };
    let readings = readings(client, &device_ids, window).await?;
    let uplinks = uplinks(client, &device_ids, window).await?;
    let paths = dampwatch_pki::Paths::new(pki_dir);
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| EvidenceError::Read { path: path.to_owned(), source })
    };
    let mut certificates = std::collections::BTreeMap::new();
    for d in &devices {
        if let Some(in_pack) = &d.certificate {
            certificates.insert(in_pack.clone(), read(&paths.device_cert(&d.id))?);
        }
    }
    let contents = Contents {
        ca_pem: read(&paths.ca_cert())?,
        crl_pem: read(&paths.crl())?,
        certificates,
        case,
        events,
        deadlines,
        devices,
        uplinks,
        readings,
        law,
    };
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        case_id,
        landlord_id: contents.case.landlord_id.clone(),
        created_at: now,
        window,
        summary_renderer: SUMMARY_RENDERER.to_owned(),
        files: Vec::new(),
    };
    let summary = ExportSummary {
        case_id,
        uplinks: contents.uplinks.len(),
        readings: contents.readings.len(),
        events: contents.events.len(),
        texts: contents.events.iter().filter(|e| e.sealed_text.is_some()).count(),
        texts_as_digests: contents
            .events
            .iter()
            .filter(|e| e.sealed_text.is_none() && e.text_reference().is_some())
            .count(),
        deadlines: contents.deadlines.len(),
        devices: contents.devices.len(),
        key_id: signer.key_id().to_owned(),
    };
    let files = contents.files(&manifest);
    Ok((Pack::seal(manifest, files, signer), summary))
}

/// Every deadline was computed under the versions this clock gives.
fn check_versions(clock: &dampwatch_clock::Clock, deadlines: &[DeadlineRecord]) -> Result<(), EvidenceError> {
    let rules: Vec<&str> = clock.laws.laws().iter().map(|l| l.version()).collect();
    let calendars: Vec<&str> = clock.calendars.values().map(|c| c.version()).collect();
    for d in deadlines {
        if !rules.contains(&d.rules_version.as_str()) || !calendars.contains(&d.calendar_version.as_str()) {
            return Err(EvidenceError::OtherLaw {
                step: d.label(),
                rules_version: d.rules_version.clone(),
                calendar_version: d.calendar_version.clone(),
                known: format!("laws {}; calendars {}", rules.join(", "), calendars.join(", ")),
            });
        }
    }
    Ok(())
}

async fn case_record(client: &impl GenericClient, case_id: i64) -> Result<CaseRecord, EvidenceError> {
    let row = client
        .query_opt(
            "SELECT c.id, c.landlord_id, c.room_key, c.room_id, c.device_id, r.name, d.reference, d.address,
                    c.hazard, c.opened_at, c.awareness, c.awareness_policy, c.case_policy, c.alert_id, a.since,
                    c.state, c.track, c.event_count, c.jurisdiction, c.tenure
             FROM cases c
             LEFT JOIN rooms r ON r.id = c.room_id
             LEFT JOIN dwellings d ON d.id = r.dwelling_id
             LEFT JOIN alerts a ON a.id = c.alert_id
             WHERE c.id = $1",
            &[&case_id],
        )
        .await?
        .ok_or(EvidenceError::NoSuchCase(case_id))?;
    Ok(CaseRecord {
        id: row.get(0),
        landlord_id: row.get(1),
        room_key: row.get(2),
        room_id: row.get(3),
        device_id: row.get(4),
        room_name: row.get(5),
        dwelling_reference: row.get(6),
        address: row.get(7),
        hazard: row.get(8),
        opened_at: row.get(9),
        awareness: row.get(10),
        awareness_policy: row.get(11),
        case_policy: row.get(12),
        alert_id: row.get(13),
        alert_since: row.get(14),
        state: row.get(15),
        track: row.get(16),
        event_count: row.get(17),
        jurisdiction: row.get(18),
        tenure: row.get(19),
    })
}

pub(crate) fn hash32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], EvidenceError> {
    bytes.try_into().map_err(|_| EvidenceError::BadRow(format!("{what} is not 32 bytes")))
}

async fn events(client: &impl GenericClient, case_id: i64) -> Result<Vec<EventRecord>, EvidenceError> {
    let rows = client
        .query(
            &format!("SELECT {} FROM case_events WHERE case_id = $1 ORDER BY seq", EventRecord::COLUMNS),
            &[&case_id],
        )
        .await?;
    rows.iter().map(EventRecord::from_row).collect()
}

async fn deadlines(client: &impl GenericClient, case_id: i64) -> Result<Vec<DeadlineRecord>, EvidenceError> {
    let rows = client
        .query(
            "SELECT track, step, provisional, due, ends_at, basis, amount, counted_from_event, counted_from,
                    calendar_version, rules_version, source, status, computed_at, detail
             FROM case_deadlines WHERE case_id = $1 ORDER BY ends_at, track, step",
            &[&case_id],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| DeadlineRecord {
            track: r.get(0),
            step: r.get(1),
            provisional: r.get(2),
            due: r.get(3),
            ends_at: r.get(4),
            basis: r.get(5),
            amount: r.get(6),
            counted_from_event: r.get(7),
            counted_from: r.get(8),
            calendar_version: r.get(9),
            rules_version: r.get(10),
            source: r.get(11),
            status: r.get(12),
            computed_at: r.get(13),
            detail: r.get(14),
        })
        .collect())
}

async fn devices(
    client: &impl GenericClient,
    case: &CaseRecord,
    pki_dir: &Path,
) -> Result<Vec<DeviceRecord>, EvidenceError> {
    let rows = client
        .query(
            "SELECT id, landlord_id, room_id, key_id, signing_public_key, cert_serial, status, provisioned_at, revoked_at
             FROM devices
             WHERE landlord_id = $1 AND (room_id = $2 OR id = $3)
             ORDER BY id",
            &[&case.landlord_id, &case.room_id, &case.device_id],
        )
        .await?;
    let paths = dampwatch_pki::Paths::new(pki_dir);
    rows.into_iter()
        .map(|r| {
            let id: String = r.get(0);
            let cert_serial: Option<String> = r.get(5);
            // A device registered with a key made elsewhere has no certificate here.
            let certificate = paths.device_cert(&id).exists().then(|| layout::device_certificate(&id));
            Ok(DeviceRecord {
                signing_public_key: hash32(r.get(4), &format!("device {id}'s signing key"))?,
                landlord_id: r.get(1),
                room_id: r.get(2),
                key_id: r.get(3),
                cert_serial,
                status: r.get(6),
                provisioned_at: r.get(7),
                revoked_at: r.get(8),
                certificate,
                id,
            })
        })
        .collect()
}

async fn readings(
    client: &impl GenericClient,
    devices: &[&str],
    window: Window,
) -> Result<Vec<ReadingRecord>, EvidenceError> {
    let rows = client
        .query(
            "SELECT device_id, boot, seq, sampled_at, device_time, time_corrected, received_at, temperature_centi_c,
                    rh_centi_pct, surface_temperature_centi_c, co2_ppm, battery_mv, status, uplink_digest
             FROM readings
             WHERE device_id = ANY($1) AND sampled_at >= $2 AND sampled_at <= $3
             ORDER BY sampled_at, device_id, boot, seq",
            &[&devices, &window.from, &window.to],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ReadingRecord {
                device_id: r.get(0),
                boot: r.get(1),
                seq: r.get(2),
                sampled_at: r.get(3),
                device_time: r.get(4),
                time_corrected: r.get(5),
                received_at: r.get(6),
                temperature_centi_c: r.get(7),
                rh_centi_pct: r.get(8),
                surface_temperature_centi_c: r.get(9),
                co2_ppm: r.get(10),
                battery_mv: r.get(11),
                status: r.get(12),
                uplink_digest: hash32(r.get(13), "a reading's uplink digest")?,
            })
        })
        .collect()
}

async fn uplinks(
    client: &impl GenericClient,
    devices: &[&str],
    window: Window,
) -> Result<Vec<UplinkRecord>, EvidenceError> {
    let rows = client
        .query(
            "SELECT u.digest, u.device_id, u.key_id, u.received_at, u.payload, u.signature
             FROM uplinks u
             WHERE u.digest IN (SELECT uplink_digest FROM readings
                                WHERE device_id = ANY($1) AND sampled_at >= $2 AND sampled_at <= $3)
             ORDER BY u.device_id, u.received_at, u.digest",
            &[&devices, &window.from, &window.to],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UplinkRecord {
                digest: hash32(r.get(0), "an uplink digest")?,
                device_id: r.get(1),
                key_id: r.get(2),
                received_at: r.get(3),
                payload: r.get(4),
                signature: r.get(5),
            })
        })
        .collect()
}
