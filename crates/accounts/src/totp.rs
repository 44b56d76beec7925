//! TOTP second factor (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of clock skew
//! either way, what every authenticator app supports).
//!
//! A code is accepted once: the step it matched is stored, and a later code must match a later
//! step (RFC 6238 §5.2). Enrolment shows the secret as an `otpauth://` URI and its QR code; the
//! secret only takes effect once the person proves their app produces codes from it.

use ring::rand::{SecureRandom, SystemRandom};
use totp_rs::{Builder, Secret, Totp};

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "Dampwatch";
/// Secret length: 160 bits, as RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;

/// What a person needs to add the account to an authenticator app.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The secret in base32, for typing in by hand.
    pub secret_base32: String,
    /// The `otpauth://totp/...` provisioning URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    SystemRandom::new().fill(&mut secret).expect("the system random generator works");
    secret
}

fn totp(secret: &[u8], account: &str) -> Totp {
    // The label's account part may not contain a colon (Key Uri Format).
    let account: String = account.chars().filter(|c| *c != ':').collect();
    Builder::new()
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .with_skew(1)
        .build()
        .expect("a 160-bit secret and a colon-free account name make a valid TOTP")
}

/// The enrolment of `secret` for `account` (the person's e-mail address).
pub fn enrolment(secret: &[u8], account: &str) -> Enrolment {
    let t = totp(secret, account);
    let otpauth_uri = t.to_url().expect("a valid TOTP has a URI");
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .expect("a provisioning URI fits in a QR code")
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Enrolment { secret_base32: t.secret().to_base32(), otpauth_uri, qr_svg }
}

/// The secret an authenticator app takes from `secret_base32` (typed in by hand, or from the
/// URI's `secret=`); None if it is not base32.
pub fn secret_from_base32(secret_base32: &str) -> Option<Vec<u8>> {
    Secret::try_from_base32(secret_base32).ok().map(|s| s.as_ref().to_vec())
}

/// The time step `code` matches at `unix_seconds`, if it matches one and that step is after
/// `last_step` (the last one accepted for this person): otherwise the code is refused.
pub fn accept(secret: &[u8], code: &str, unix_seconds: i64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) || unix_seconds < 0 {
        return None;
    }
    let step = totp(secret, "x").check(&code, unix_seconds as u64)? as i64;
    match last_step {
        Some(last) if step <= last => None,
        _ => Some(step),
    }
}

/// The code for `unix_seconds` (what an authenticator app would show; for tests and the demo).
pub fn code_at(secret: &[u8], unix_seconds: i64) -> String {
    totp(secret, "x").generate(unix_seconds.max(0) as u64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 secret "12345678901234567890", T = 59 s → 94287082
    /// (8 digits); its last 6 digits are the 6-digit code.
    #[test]
    fn codes_agree_with_the_rfc_test_vector() {
        assert_eq!(code_at(b"12345678901234567890", 59), "287082");
        assert_eq!(code_at(b"12345678901234567890", 1_111_111_109), "081804");
    }

    #[test]
    fn a_code_is_accepted_once_and_within_one_step_of_skew() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let code = code_at(&secret, now);
        let step = accept(&secret, &code, now, None).expect("fresh code");
        assert_eq!(accept(&secret, &code, now, Some(step)), None, "replay refused");
        assert_eq!(accept(&secret, &code, now + 30, None), Some(step), "one step late is fine");
        assert_eq!(accept(&secret, &code, now + 90, None), None, "three steps late is not");
        let next = code_at(&secret, now + 30);
        assert_eq!(accept(&secret, &next, now + 30, Some(step)), Some(step + 1));
        assert_eq!(accept(&secret, "12345", now, None), None);
        assert_eq!(accept(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn enrolment_gives_a_uri_and_a_qr_code_of_it() {
        let e = enrolment(&new_secret(), "officer@example-homes.org");
        assert!(
            e.otpauth_uri.starts_with("otpauth://totp/Dampwatch:officer%40example-homes.org?"),
            "{}",
            e.otpauth_uri
        );
        assert!(e.otpauth_uri.contains("issuer=Dampwatch"));
        assert!(e.qr_svg.contains("<svg"));
        assert_eq!(e.secret_base32.len(), 32);
    }
}
