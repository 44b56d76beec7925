//! Certificate lifetimes and the conversions between `chrono` (this crate's API) and the ASN.1
//! times inside certificates.

use chrono::{DateTime, Duration, TimeZone, Utc};
use time::OffsetDateTime;

use crate::error::PkiError;

/// Leaf certificates (devices, gateway, services) live this long unless told otherwise.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;
/// Longest lifetime a leaf may be given. Rotation is due after 60 days anyway; ten years only
/// leaves room for devices that are hard to reach.
pub const MAX_VALIDITY_DAYS: u32 = 3650;
/// The development CA lives ten years: replacing it means re-issuing every credential.
pub(crate) const CA_VALIDITY_DAYS: u32 = 3650;

/// A certificate issued now is dated a few minutes back, so a peer whose clock is slightly
/// behind does not reject it as "not yet valid".
const CLOCK_SKEW_ALLOWANCE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

pub(crate) fn check_days(days: u32) -> Result<(), PkiError> {
    if (1..=MAX_VALIDITY_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(PkiError::InvalidValidity { days, max: MAX_VALIDITY_DAYS })
    }
}

/// The validity of a certificate issued at `now` for `days` days.
pub(crate) fn validity(now: DateTime<Utc>, days: u32) -> Result<Validity, PkiError> {
    let not_before = now - CLOCK_SKEW_ALLOWANCE;
    let not_after = now + Duration::days(i64::from(days));
    Ok(Validity { not_before: to_asn1(not_before)?, not_after: to_asn1(not_after)? })
}

pub(crate) fn to_asn1(t: DateTime<Utc>) -> Result<OffsetDateTime, PkiError> {
    // Certificates carry whole seconds; rcgen drops the fraction itself, the timestamp does too.
    OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|_| PkiError::TimeOutOfRange(t))
}

pub(crate) fn from_asn1(t: x509_parser::time::ASN1Time) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.timestamp(), 0).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_outside_the_allowed_range_are_refused() {
        assert!(check_days(0).is_err());
        assert!(check_days(1).is_ok());
        assert!(check_days(MAX_VALIDITY_DAYS).is_ok());
        let err = check_days(MAX_VALIDITY_DAYS + 1).expect_err("too long");
        assert!(err.to_string().contains("between 1 and 3650 days"), "{err}");
    }

    #[test]
    fn validity_spans_the_requested_days_from_now() {
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).single().expect("date");
        let v = validity(now, 30).expect("validity");
        assert_eq!(v.not_after.unix_timestamp(), (now + Duration::days(30)).timestamp());
        assert!(v.not_before.unix_timestamp() < now.timestamp());
    }
}
