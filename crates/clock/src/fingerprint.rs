//! Short content fingerprints that go into calendar and rules versions.

use sha2::{Digest, Sha256};

/// The first 12 hex digits of SHA-256 over `canonical`: enough to tell configurations apart
/// in a stored deadline, short enough to read out.
pub(crate) fn fingerprint(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    hex::encode(&digest[..6])
}
