//! Webhook signatures, version 2:
//!
//! ```text
//! Dampwatch-Signature: v2=<hex HMAC-SHA256(secret, timestamp + "." + idempotency_key + "." + body)>
//! ```
//!
//! with `timestamp` the `Dampwatch-Timestamp` header (Unix seconds, decimal), `idempotency_key`
//! the `Idempotency-Key` header (the message's id, decimal) and `body` the raw body bytes as
//! sent. Neither the timestamp nor the key contains a `.`, so the signed string splits one way
//! only. Covering the timestamp lets a receiver refuse an old request replayed
//! ([`REPLAY_WINDOW`]); covering the key stops a replay under a fresh key slipping past the
//! receiver's duplicate check. The `v2=` prefix names the construction; version 1 (timestamp
//! and body only) is no longer sent. The header is a comma-separated list, so a future
//! version can be sent beside this one.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header with the Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "Dampwatch-Timestamp";
/// Header with the signature.
pub const SIGNATURE_HEADER: &str = "Dampwatch-Signature";
/// Header with the message's id: the same on every retry, so receivers can drop duplicates.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header with the event type (`alert.raised`, ...).
pub const EVENT_HEADER: &str = "Dampwatch-Event";
/// Header with the attempt number, 1 for the first.
pub const ATTEMPT_HEADER: &str = "Dampwatch-Attempt";

/// Receivers refuse a request whose timestamp is further than this from their clock (older,
/// or as far in the future). Every attempt is signed afresh, so a retry is never stale.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The signature's version prefix in [`SIGNATURE_HEADER`].
const VERSION_PREFIX: &str = "v2=";

type HmacSha256 = Hmac<Sha256>;

/// Why a receiver refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("the idempotency key is empty or contains '.'")]
    BadIdempotencyKey,
    #[error("the timestamp is {age_s} s from this clock, outside the replay window")]
    Stale { age_s: i64 },
    #[error("no v2 signature matches")]
    Mismatch,
}

/// What a request's signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The `Dampwatch-Timestamp` header.
    pub timestamp: &'a str,
    /// The `Idempotency-Key` header.
    pub idempotency_key: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

/// What a landlord's receiver does with a request: reads the headers by name (as
/// `header(name)` gives them, empty when absent), then [`Signed::verify`] against the raw body.
pub fn verify_request(
    header: impl Fn(&str) -> String,
    body: &[u8],
    secret: &[u8],
    now_unix_s: i64,
) -> Result<(), SignatureError> {
    let (timestamp, key) = (header(TIMESTAMP_HEADER), header(IDEMPOTENCY_HEADER));
    Signed { timestamp: &timestamp, idempotency_key: &key, body }.verify(
        secret,
        &header(SIGNATURE_HEADER),
        now_unix_s,
    )
}

impl Signed<'_> {
    fn mac(&self, secret: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match HmacSha256::new_from_slice(secret) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts any key length"),
        };
        mac.update(self.timestamp.as_bytes());
        mac.update(b".");
        mac.update(self.idempotency_key.as_bytes());
        mac.update(b".");
        mac.update(self.body);
        mac
    }

    /// The `Dampwatch-Signature` value.
    pub fn sign(&self, secret: &[u8]) -> String {
        format!("{VERSION_PREFIX}{}", hex::encode(self.mac(secret).finalize().into_bytes()))
    }

    /// What a receiver does: the timestamp within [`REPLAY_WINDOW`] of `now_unix_s`, and a v2
    /// signature in `header` that matches (compared in constant time).
    pub fn verify(&self, secret: &[u8], header: &str, now_unix_s: i64) -> Result<(), SignatureError> {
        let at: i64 = self
            .timestamp
            .parse()
            .ok()
            .filter(|_| self.timestamp.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(SignatureError::BadTimestamp)?;
        if self.idempotency_key.is_empty() || self.idempotency_key.contains('.') {
            return Err(SignatureError::BadIdempotencyKey);
        }
        let age_s = now_unix_s.saturating_sub(at);
        let window = i64::try_from(REPLAY_WINDOW.as_secs()).unwrap_or(i64::MAX);
        if age_s.saturating_abs() > window {
            return Err(SignatureError::Stale { age_s });
        }
        let matches = header
            .split(',')
            .map(str::trim)
            .filter_map(|part| part.strip_prefix(VERSION_PREFIX))
            .any(|sig| hex::decode(sig).is_ok_and(|bytes| self.mac(secret).verify_slice(&bytes).is_ok()));
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_700_000_000;

    fn signed<'a>(key: &'a str, body: &'a [u8]) -> Signed<'a> {
        Signed { timestamp: "1700000000", idempotency_key: key, body }
    }

    #[test]
    fn matches_a_known_hmac_sha256() {
        // printf '1700000000.42.{"a":1}' | openssl dgst -sha256 -hmac secret
        let sig = signed("42", br#"{"a":1}"#).sign(b"secret");
        assert_eq!(sig, "v2=31a8c3ee3f156d41694745f80a41bea6fdd970457b58c009d2e86d61696b5e6f");
    }

    #[test]
    fn verifies_only_the_same_secret_timestamp_key_and_body() {
        let sig = signed("42", b"{}").sign(b"secret");
        assert_eq!(signed("42", b"{}").verify(b"secret", &sig, AT), Ok(()));
        assert_eq!(signed("42", b"{}").verify(b"other", &sig, AT), Err(SignatureError::Mismatch));
        let later = Signed { timestamp: "1700000001", ..signed("42", b"{}") };
        assert_eq!(later.verify(b"secret", &sig, AT), Err(SignatureError::Mismatch));
        assert_eq!(signed("42", b"{ }").verify(b"secret", &sig, AT), Err(SignatureError::Mismatch));
        assert_eq!(signed("42", b"{}").verify(b"secret", "v2=zz", AT), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_changed_idempotency_key_fails_verification() {
        let sig = signed("42", b"{}").sign(b"secret");
        assert_eq!(signed("43", b"{}").verify(b"secret", &sig, AT), Err(SignatureError::Mismatch));
        assert_eq!(signed("4.2", b"{}").verify(b"secret", &sig, AT), Err(SignatureError::BadIdempotencyKey));
    }

    #[test]
    fn a_timestamp_outside_five_minutes_is_refused() {
        let sig = signed("42", b"{}").sign(b"secret");
        let s = signed("42", b"{}");
        assert_eq!(s.verify(b"secret", &sig, AT + 300), Ok(()));
        assert_eq!(s.verify(b"secret", &sig, AT + 301), Err(SignatureError::Stale { age_s: 301 }));
        assert_eq!(s.verify(b"secret", &sig, AT - 301), Err(SignatureError::Stale { age_s: -301 }));
        let odd = Signed { timestamp: "+1700000000", ..s };
        assert_eq!(odd.verify(b"secret", &sig, AT), Err(SignatureError::BadTimestamp));
    }

    #[test]
    fn only_the_v2_construction_is_accepted() {
        // v1 signed timestamp "." body: a v1 value over the same parts does not pass.
        let mut v1 = HmacSha256::new_from_slice(b"secret").expect("key");
        v1.update(b"1700000000.{}");
        let v1 = format!("v1={}", hex::encode(v1.finalize().into_bytes()));
        assert_eq!(signed("42", b"{}").verify(b"secret", &v1, AT), Err(SignatureError::Mismatch));
        let both = format!("{v1}, {}", signed("42", b"{}").sign(b"secret"));
        assert_eq!(signed("42", b"{}").verify(b"secret", &both, AT), Ok(()));
    }
}
