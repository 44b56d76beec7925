//! `manifest.json`: what the pack holds (every other file with its SHA-256 and size), which
//! case and window it covers and when it was made. The seal (`seal.json`) signs it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{hexbytes, timestamp};

/// The format this crate writes and reads.
pub const FORMAT: &str = "dampwatch-evidence-v1";

/// The summary's renderer: a verifier re-renders the summary from the pack's data and
/// compares, when it has the same renderer.
pub const SUMMARY_RENDERER: &str = "dampwatch-evidence-summary-v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub case_id: i64,
    pub landlord_id: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    /// Readings sampled in this span are in the pack, with every uplink that carries one.
    pub window: Window,
    pub summary_renderer: String,
    /// Every file of the pack except the manifest and the seal, in archive order.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    #[serde(with = "timestamp")]
    pub from: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    #[serde(with = "hexbytes::fixed32")]
    pub sha256: [u8; 32],
    pub bytes: u64,
}

impl FileEntry {
    pub fn of(path: &str, content: &[u8]) -> FileEntry {
        FileEntry {
            path: path.to_owned(),
            sha256: Sha256::digest(content).into(),
            bytes: content.len() as u64,
        }
    }
}

impl Manifest {
    /// The bytes that are hashed and signed: pretty-printed JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        out.push(b'\n');
        out
    }
}
