//! Enrolling, using and resetting the TOTP second factor, and its recovery codes.
//!
//! Enrolment is two steps: a new secret is kept as pending and shown (URI and QR code); it
//! replaces any secret in use only when the person sends a code their app made from it. Then
//! ten recovery codes are made, shown once, stored hashed; each signs in once in place of a
//! TOTP code (for a lost phone).

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use tokio_postgres::GenericClient;
use zeroize::Zeroizing;

use crate::lockout::LockoutPolicy;
use crate::password::Password;
use crate::signin::record_failure;
use crate::token::token_hash;
use crate::totp::{self, Enrolment};
use crate::totp_secret::{self, Slot, TotpSecretError};
use dampwatch_privacy::SecretsKey;

/// Recovery codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error("no enrolment is in progress: start one first")]
    NothingPending,
    #[error("the code does not match the new secret (check the app's clock, or use the next code)")]
    WrongCode,
    #[error("re-authentication failed: give your current password (and, if you have one, a code from your authenticator app)")]
    Reauthentication {
        /// When the lockout this failure started ends, if it started one.
        locked_until: Option<DateTime<Utc>>,
    },
    #[error("{}", crate::lockout::locked_message(*until))]
    Locked { until: DateTime<Utc> },
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Secret(TotpSecretError),
    #[error("database error")]
    Db(#[from] tokio_postgres::Error),
}

impl From<TotpSecretError> for MfaError {
    fn from(e: TotpSecretError) -> Self {
        match e {
            TotpSecretError::Db(e) => MfaError::Db(e),
            other => MfaError::Secret(other),
        }
    }
}

/// Proves the person at the keyboard is the account's owner before a change to how they sign
/// in (OWASP ASVS 7.5.1): the current password and, when a second factor is in use, a current
/// code (or recovery code). A failure counts towards lockout like a wrong sign-in.
/// `key` opens a sealed secret.
pub async fn reauthenticate(
    client: &impl GenericClient,
    key: Option<&SecretsKey>,
    user_id: i64,
    password: &Password,
    code: Option<&str>,
    now: DateTime<Utc>,
    lockout: &LockoutPolicy,
) -> Result<(), MfaError> {
    let row = client
        .query_opt(
            "SELECT password_hash, totp_secret, totp_sealed, totp_last_step, landlord_id, locked_until FROM users
             WHERE id = $1 FOR UPDATE",
            &[&user_id],
        )
        .await?
        .ok_or(MfaError::NotFound)?;
    // Locked by repeated failures: no password or code is checked until the lockout ends, or a
    // stolen session could go on guessing here.
    if let Some(until) = crate::lockout::in_force(row.get(5), now) {
        return Err(MfaError::Locked { until });
    }
    let (stored, last, landlord): (Option<String>, Option<i64>, Option<String>) =
        (row.get(0), row.get(3), row.get(4));
    let secret = totp_secret::open(key, landlord.as_deref(), user_id, Slot::InUse, row.get(1), row.get(2))?;
    let password_ok = crate::password::verify_off_thread(password.clone(), stored)
        .await
        .map_err(|_| MfaError::Reauthentication { locked_until: None })?;
    let factor_ok = match (&secret, code) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(secret), Some(code)) => match totp::accept(secret, code, now.timestamp(), last) {
            Some(step) => {
                client
                    .execute("UPDATE users SET totp_last_step = $2 WHERE id = $1", &[&user_id, &step])
                    .await?;
                true
            }
            None => use_recovery_code(client, user_id, code, now).await?,
        },
    };
    if password_ok && factor_ok {
        Ok(())
    } else {
        let locked_until = record_failure(client, user_id, now, lockout).await?;
        Err(MfaError::Reauthentication { locked_until })
    }
}

/// Starts (or restarts) enrolment: a new pending secret, stored sealed under `key` and shown
/// for the person's app. Call [`reauthenticate`] first.
pub async fn start_enrolment(
    client: &impl GenericClient,
    key: Option<&SecretsKey>,
    user_id: i64,
) -> Result<Enrolment, MfaError> {
    let row = client
        .query_opt("SELECT email, landlord_id FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
        .await?
        .ok_or(MfaError::NotFound)?;
    let (email, landlord): (String, Option<String>) = (row.get(0), row.get(1));
    let secret = Zeroizing::new(totp::new_secret());
    let sealed = totp_secret::seal(key, landlord.as_deref(), user_id, Slot::Pending, &secret)?;
    client
        .execute(
            "UPDATE users SET totp_pending_sealed = $2, totp_pending = NULL WHERE id = $1",
            &[&user_id, &sealed],
        )
        .await?;
    Ok(totp::enrolment(&secret, &email))
}

/// Confirms enrolment with a code from the new secret: the secret takes effect and the new
/// recovery codes (any older ones are void) are returned, to be shown once.
pub async fn confirm_enrolment(
    client: &impl GenericClient,
    key: Option<&SecretsKey>,
    user_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, MfaError> {
    let row = client
        .query_opt(
            "SELECT totp_pending, totp_pending_sealed, landlord_id FROM users WHERE id = $1 FOR UPDATE",
            &[&user_id],
        )
        .await?
        .ok_or(MfaError::NotFound)?;
    let landlord: Option<String> = row.get(2);
    let pending =
        totp_secret::open(key, landlord.as_deref(), user_id, Slot::Pending, row.get(0), row.get(1))?;
    let pending = pending.ok_or(MfaError::NothingPending)?;
    // In use from now on: sealed again, for its own column.
    let sealed = totp_secret::seal(key, landlord.as_deref(), user_id, Slot::InUse, &pending)?;
    // The new secret has never produced an accepted code: no step of it is used yet (the step
    // stored belongs to the old secret). Its step is stored below, so this code is not
    // accepted again at sign-in.
    let step = totp::accept(&pending, code, now.timestamp(), None).ok_or(MfaError::WrongCode)?;
    client
        .execute(
            "UPDATE users SET totp_sealed = $3, totp_secret = NULL, totp_pending = NULL, totp_pending_sealed = NULL,
                 totp_last_step = $2 WHERE id = $1",
            &[&user_id, &step, &sealed],
        )
        .await?;
    Ok(replace_recovery_codes(client, user_id).await?)
}

/// Removes the second factor and its recovery codes, and ends the user's sessions: the person
/// signs in with the password alone and (if their role requires it) enrols again.
pub async fn reset(client: &impl GenericClient, user_id: i64) -> Result<(), MfaError> {
    let n = client
        .execute(
            "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_sealed = NULL, totp_pending_sealed = NULL,
                 totp_last_step = NULL WHERE id = $1",
            &[&user_id],
        )
        .await?;
    if n == 0 {
        return Err(MfaError::NotFound);
    }
    client.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id]).await?;
    client.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id]).await?;
    Ok(())
}

/// A recovery code: 120 random bits (above the 112 OWASP ASVS 6.5.2 asks of a secret stored
/// with a fast hash) as six groups of four base32 letters and digits.
fn new_recovery_code() -> String {
    let mut raw = [0u8; 15];
    SystemRandom::new().fill(&mut raw).expect("the system random generator works");
    // base32 (RFC 4648): letters and digits only, nothing that changes with case.
    base32(&raw)
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect::<Vec<_>>()
        .join("-")
}

fn base32(bytes: &[u8; 15]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(*b);
    }
    (0..24).rev().map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect()
}

/// The stored form of a recovery code: case, spaces and dashes do not matter.
fn recovery_hash(code: &str) -> [u8; 32] {
    let canonical: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    token_hash(&canonical)
}

async fn replace_recovery_codes(
    client: &impl GenericClient,
    user_id: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    client.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user_id]).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    for code in &codes {
        client
            .execute(
                "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                &[&user_id, &&recovery_hash(code)[..]],
            )
            .await?;
    }
    Ok(codes)
}

/// Uses one recovery code of the user, if `code` is one not used before.
pub async fn use_recovery_code(
    client: &impl GenericClient,
    user_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            &[&user_id, &&recovery_hash(code)[..], &now],
        )
        .await?;
    Ok(n == 1)
}

/// Recovery codes of the user not used yet.
pub async fn recovery_codes_left(
    client: &impl GenericClient,
    user_id: i64,
) -> Result<i64, tokio_postgres::Error> {
    let row = client
        .query_one("SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", &[&user_id])
        .await?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_readable_and_forgiving_to_type() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 29, "{code}");
        assert_eq!(code.matches('-').count(), 5);
        assert_eq!(recovery_hash(&code), recovery_hash(&code.to_lowercase().replace('-', " ")));
        assert_ne!(new_recovery_code(), code);
    }

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 §10: BASE32("fooba") = "MZXW6YTB"; fifteen bytes give 24 letters.
        assert_eq!(base32(b"foobafoobafooba"), "MZXW6YTBMZXW6YTBMZXW6YTB");
    }
}
