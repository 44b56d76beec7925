//! The pack's contents, parsed: what export writes and verify reads, file by file.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::archive::Pack;
use crate::case_record::CaseRecord;
use crate::deadline::DeadlineRecord;
use crate::device::DeviceRecord;
use crate::event::EventRecord;
use crate::law::LawFiles;
use crate::layout;
use crate::manifest::Manifest;
use crate::reading::ReadingRecord;
use crate::uplink::UplinkRecord;
use crate::verify::Tampered;

#[derive(Debug, Clone, PartialEq)]
pub struct Contents {
    pub case: CaseRecord,
    pub events: Vec<EventRecord>,
    pub deadlines: Vec<DeadlineRecord>,
    pub devices: Vec<DeviceRecord>,
    pub uplinks: Vec<UplinkRecord>,
    pub readings: Vec<ReadingRecord>,
    pub ca_pem: Vec<u8>,
    pub crl_pem: Vec<u8>,
    /// Device certificates by path in the pack.
    pub certificates: BTreeMap<String, Vec<u8>>,
    pub law: LawFiles,
}

fn json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("pack records always serialise");
    out.push(b'\n');
    out
}

fn json_lines<T: Serialize>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend(serde_json::to_vec(v).expect("pack records always serialise"));
        out.push(b'\n');
    }
    out
}

fn file<'a>(pack: &'a Pack, path: &str) -> Result<&'a [u8], Tampered> {
    pack.get(path).ok_or_else(|| Tampered::new(path, "missing"))
}

fn parse_json<T: DeserializeOwned>(pack: &Pack, path: &str) -> Result<T, Tampered> {
    serde_json::from_slice(file(pack, path)?).map_err(|e| Tampered::new(path, format!("unreadable: {e}")))
}

fn parse_lines<T: DeserializeOwned>(pack: &Pack, path: &str) -> Result<Vec<T>, Tampered> {
    let text = std::str::from_utf8(file(pack, path)?).map_err(|_| Tampered::new(path, "not UTF-8"))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| Tampered::new(path, format!("line {}: unreadable: {e}", i + 1)))
        })
        .collect()
}

impl Contents {
    /// Every file but the manifest and the seal, the summary rendered for `manifest`.
    pub fn files(&self, manifest: &Manifest) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![
            (layout::SUMMARY.to_owned(), crate::summary::render(self, manifest).into_bytes()),
            (layout::CASE.to_owned(), json(&self.case)),
            (layout::EVENTS.to_owned(), json_lines(&self.events)),
            (layout::DEADLINES.to_owned(), json(&self.deadlines)),
            (layout::DEVICES.to_owned(), json(&self.devices)),
            (layout::UPLINKS.to_owned(), json_lines(&self.uplinks)),
            (layout::READINGS.to_owned(), json_lines(&self.readings)),
            (layout::CA.to_owned(), self.ca_pem.clone()),
            (layout::CRL.to_owned(), self.crl_pem.clone()),
        ];
        files.extend(self.certificates.iter().map(|(p, c)| (p.clone(), c.clone())));
        files.extend(self.law.files.iter().map(|(p, t)| (p.clone(), t.clone().into_bytes())));
        files
    }

    /// The contents of a pack whose files were already checked against its manifest.
    pub fn parse(pack: &Pack) -> Result<Contents, Tampered> {
        let devices: Vec<DeviceRecord> = parse_json(pack, layout::DEVICES)?;
        let mut certificates = BTreeMap::new();
        for path in devices.iter().filter_map(|d| d.certificate.as_ref()) {
            certificates.insert(path.clone(), file(pack, path)?.to_vec());
        }
        let mut law = LawFiles::default();
        for (path, content) in pack.files.iter().filter(|(p, _)| p.starts_with("law/")) {
            let text = String::from_utf8(content.clone()).map_err(|_| Tampered::new(path, "not UTF-8"))?;
            law.files.insert(path.clone(), text);
        }
        Ok(Contents {
            case: parse_json(pack, layout::CASE)?,
            events: parse_lines(pack, layout::EVENTS)?,
            deadlines: parse_json(pack, layout::DEADLINES)?,
            devices,
            uplinks: parse_lines(pack, layout::UPLINKS)?,
            readings: parse_lines(pack, layout::READINGS)?,
            ca_pem: file(pack, layout::CA)?.to_vec(),
            crl_pem: file(pack, layout::CRL)?.to_vec(),
            certificates,
            law,
        })
    }
}
