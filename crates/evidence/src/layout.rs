//! Where each part lives in the archive. The README's table lists the same names.

/// The signed list of every other file with its SHA-256.
pub const MANIFEST: &str = "manifest.json";
/// The Ed25519 signature over the manifest.
pub const SEAL: &str = "seal.json";
/// The case as recorded (home, room, hazard, policies, tenancy).
pub const CASE: &str = "case.json";
/// The case's events with their hash chain, one JSON object a line, in seq order.
pub const EVENTS: &str = "events.jsonl";
/// Every deadline row of the case with how it was computed.
pub const DEADLINES: &str = "deadlines.json";
/// The case's devices with their signing keys and the validity of each.
pub const DEVICES: &str = "devices.json";
/// Every signed uplink, bytes as received, one JSON object a line.
pub const UPLINKS: &str = "uplinks.jsonl";
/// The readings the summary lists, one JSON object a line.
pub const READINGS: &str = "readings.jsonl";
/// The people's view: readings, events and deadlines (HTML, no scripts).
pub const SUMMARY: &str = "summary.html";
/// The certificate authority's certificate.
pub const CA: &str = "pki/ca.pem";
/// The certificate revocation list in force at export.
pub const CRL: &str = "pki/crl.pem";
/// The clock configuration the deadlines were computed under.
pub const CLOCK_CONFIG: &str = "law/clock.toml";

/// A device's TLS client certificate.
pub fn device_certificate(device: &str) -> String {
    format!("pki/devices/{device}.pem")
}

/// A law data file, by law id.
pub fn law_file(id: &str) -> String {
    format!("law/laws/{id}.toml")
}

/// A calendar data file, by gov.uk division.
pub fn calendar_file(division: &str) -> String {
    format!("law/calendars/{division}.toml")
}

/// Law data files' folder.
pub const LAWS_DIR: &str = "law/laws/";
/// Calendar data files' folder.
pub const CALENDARS_DIR: &str = "law/calendars/";
