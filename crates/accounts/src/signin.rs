//! Signing in: e-mail address, password, and the second factor when the account has one.
//!
//! Every refusal looks the same from outside ([`SignIn::Refused`] carries the reason only for
//! the audit log): an unknown address, a disabled or locked account and a wrong password all
//! cost one argon2id verification (a decoy hash stands in when there is no account), so
//! neither the answer nor its timing tells whether an address has an account.
//!
//! The user's row is locked (`FOR UPDATE`) for the attempt, so concurrent guesses are counted
//! one by one and cannot slip past the lockout threshold together.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::lockout::LockoutPolicy;
use crate::mfa::use_recovery_code;
use crate::password::{self, Password};
use crate::role::Role;
use crate::session::{self, NewSession, SessionPolicy};
use crate::totp;
use crate::users::normalise_email;

/// What the person presents.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub email: String,
    pub password: Password,
    pub second_factor: Option<SecondFactor>,
}

/// A second factor: a code from the authenticator app, or a single-use recovery code.
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactor {
    Totp(String),
    RecoveryCode(String),
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SecondFactor::Totp(_) => "Totp([redacted])",
            SecondFactor::RecoveryCode(_) => "RecoveryCode([redacted])",
        })
    }
}

/// Where the attempt came from, kept with the session.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub source: Option<String>,
    pub user_agent: Option<String>,
}

/// Why an attempt was refused: for the audit log only, never for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownUser,
    NoPasswordSet,
    Disabled,
    Locked,
    WrongPassword,
    WrongSecondFactor,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "unknown_user",
            Refusal::NoPasswordSet => "no_password_set",
            Refusal::Disabled => "disabled",
            Refusal::Locked => "locked",
            Refusal::WrongPassword => "wrong_password",
            Refusal::WrongSecondFactor => "wrong_second_factor",
        }
    }
}

/// The result of an attempt.
#[derive(Debug)]
pub enum SignIn {
    /// A new session. When `must_enrol_mfa`, the role requires a second factor the user has not
    /// enrolled yet: the session may only enrol one.
    SignedIn {
        user_id: i64,
        landlord_id: Option<String>,
        role: Role,
        session: NewSession,
        must_enrol_mfa: bool,
        used_recovery_code: bool,
    },
    /// The password was right and the account has a second factor: ask for it.
    SecondFactorNeeded { user_id: i64 },
    Refused {
        user_id: Option<i64>,
        landlord_id: Option<String>,
        reason: Refusal,
        /// This attempt locked the account (the person and their admins are told).
        locked_until: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("database error")]
    Db(#[from] tokio_postgres::Error),
    #[error("the password check did not finish")]
    Hashing,
    #[error(transparent)]
    Secret(crate::totp_secret::TotpSecretError),
}

struct Account {
    id: i64,
    landlord_id: Option<String>,
    role: String,
    password_hash: Option<String>,
    totp_secret: Option<zeroize::Zeroizing<Vec<u8>>>,
    totp_last_step: Option<i64>,
    locked_until: Option<DateTime<Utc>>,
    /// Wrong codes given with the right password since the last successful sign-in.
    second_factor_failures: i32,
    disabled: bool,
}

/// One sign-in attempt at `now`. Run it in a transaction as the service role and commit
/// whatever the result: failures must be counted. `key` opens sealed second-factor secrets.
pub async fn sign_in(
    client: &impl GenericClient,
    key: Option<&dampwatch_privacy::SecretsKey>,
    credentials: &Credentials,
    origin: &Origin,
    now: DateTime<Utc>,
    sessions: &SessionPolicy,
    lockout: &LockoutPolicy,
) -> Result<SignIn, SignInError> {
    let row =
        match normalise_email(&credentials.email) {
            Ok(email) => client
                .query_opt(
                    "SELECT id, landlord_id, role, password_hash, totp_secret, totp_sealed, totp_last_step,
                            locked_until, disabled_at IS NOT NULL, second_factor_failures
                     FROM users WHERE email = $1 FOR UPDATE",
                    &[&email],
                )
                .await?,
            Err(_) => None,
        };
    let account = match row {
        Some(r) => {
            let (id, landlord_id): (i64, Option<String>) = (r.get(0), r.get(1));
            let totp_secret = crate::totp_secret::open(
                key,
                landlord_id.as_deref(),
                id,
                crate::totp_secret::Slot::InUse,
                r.get(4),
                r.get(5),
            )
            .map_err(|e| match e {
                crate::totp_secret::TotpSecretError::Db(e) => SignInError::Db(e),
                other => SignInError::Secret(other),
            })?;
            Some(Account {
                id,
                landlord_id,
                role: r.get(2),
                password_hash: r.get(3),
                totp_secret,
                totp_last_step: r.get(6),
                locked_until: r.get(7),
                second_factor_failures: r.get(9),
                disabled: r.get(8),
            })
        }
        None => None,
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let password_ok = password::verify_off_thread(credentials.password.clone(), stored)
        .await
        .map_err(|_| SignInError::Hashing)?;

    let refused = |a: Option<&Account>, reason, locked_until| SignIn::Refused {
        user_id: a.map(|a| a.id),
        landlord_id: a.and_then(|a| a.landlord_id.clone()),
        reason,
        locked_until,
    };
    let Some(a) = account else {
        return Ok(refused(None, Refusal::UnknownUser, None));
    };
    if a.disabled {
        return Ok(refused(Some(&a), Refusal::Disabled, None));
    }
    if a.password_hash.is_none() {
        return Ok(refused(Some(&a), Refusal::NoPasswordSet, None));
    }
    let Ok(role) = a.role.parse::<Role>() else {
        return Ok(refused(Some(&a), Refusal::Disabled, None));
    };
    let mut used_recovery_code = false;
    if crate::lockout::in_force(a.locked_until, now).is_some() {
        // A locked account with a second factor still lets its person in with the right
        // password and a valid code, so someone who only guesses passwords cannot keep them out
        // for good. Any other attempt during the lockout gets the same refusal whatever was
        // wrong, and is not counted towards the lockout: it says nothing about the password.
        // Codes are counted, though, lockout or not: whoever holds the password may try no more
        // codes while the account is locked than it allows before it locks, and once they have,
        // no code is checked until the lockout ends (the person's own included).
        let codes_left = (a.second_factor_failures.max(0) as u32) < lockout.threshold;
        let proven = match (&a.totp_secret, &credentials.second_factor, password_ok) {
            (Some(secret), Some(factor), true) if codes_left => {
                let (ok, recovery) = second_factor(client, &a, secret, factor, now).await?;
                if !ok {
                    count_second_factor_failure(client, a.id).await?;
                }
                used_recovery_code = recovery;
                ok
            }
            _ => false,
        };
        if !proven {
            return Ok(refused(Some(&a), Refusal::Locked, None));
        }
    } else {
        if !password_ok {
            let locked = record_failure(client, a.id, now, lockout).await?;
            return Ok(refused(Some(&a), Refusal::WrongPassword, locked));
        }
        if let Some(secret) = &a.totp_secret {
            let Some(factor) = &credentials.second_factor else {
                return Ok(SignIn::SecondFactorNeeded { user_id: a.id });
            };
            let (accepted, recovery) = second_factor(client, &a, secret, factor, now).await?;
            used_recovery_code = recovery;
            if !accepted {
                count_second_factor_failure(client, a.id).await?;
                let locked = record_failure(client, a.id, now, lockout).await?;
                return Ok(refused(Some(&a), Refusal::WrongSecondFactor, locked));
            }
        }
    }

    client
        .execute(
            "UPDATE users SET failed_attempts = 0, lockouts = 0, locked_until = NULL, second_factor_failures = 0
             WHERE id = $1",
            &[&a.id],
        )
        .await?;
    let must_enrol_mfa = a.totp_secret.is_none() && role.requires_mfa();
    let session = session::create(
        client,
        a.id,
        !must_enrol_mfa,
        origin.source.as_deref(),
        origin.user_agent.as_deref(),
        now,
        sessions,
    )
    .await?;
    Ok(SignIn::SignedIn {
        user_id: a.id,
        landlord_id: a.landlord_id,
        role,
        session,
        must_enrol_mfa,
        used_recovery_code,
    })
}

/// Counts a wrong code given with the right password (see the lockout branch of [`sign_in`]).
async fn count_second_factor_failure(
    client: &impl GenericClient,
    user_id: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE users SET second_factor_failures = second_factor_failures + 1 WHERE id = $1",
            &[&user_id],
        )
        .await?;
    Ok(())
}

/// Checks the second factor; (accepted, whether it was a recovery code). An accepted TOTP code's
/// step is stored so the code is never accepted again; a recovery code is used up.
async fn second_factor(
    client: &impl GenericClient,
    a: &Account,
    secret: &[u8],
    factor: &SecondFactor,
    now: DateTime<Utc>,
) -> Result<(bool, bool), tokio_postgres::Error> {
    match factor {
        SecondFactor::Totp(code) => match totp::accept(secret, code, now.timestamp(), a.totp_last_step) {
            Some(step) => {
                client.execute("UPDATE users SET totp_last_step = $2 WHERE id = $1", &[&a.id, &step]).await?;
                Ok((true, false))
            }
            None => Ok((false, false)),
        },
        SecondFactor::RecoveryCode(code) => {
            let used = use_recovery_code(client, a.id, code, now).await?;
            Ok((used, used))
        }
    }
}

/// Counts a failed attempt of `user_id` (a wrong password or second factor, at sign-in or when
/// re-authenticating); locks the account when the count reaches the threshold. Returns the end
/// of the lockout this attempt started, if it started one.
pub async fn record_failure(
    client: &impl GenericClient,
    user_id: i64,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> Result<Option<DateTime<Utc>>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt("SELECT failed_attempts, lockouts FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
        .await?
    else {
        return Ok(None);
    };
    let (failed, lockouts): (i32, i32) = (row.get(0), row.get(1));
    let failed = failed.saturating_add(1);
    if (failed as u32) < policy.threshold {
        client.execute("UPDATE users SET failed_attempts = $2 WHERE id = $1", &[&user_id, &failed]).await?;
        return Ok(None);
    }
    let period = policy.period(lockouts.max(0) as u32);
    let until = now + chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX);
    client
        .execute(
            "UPDATE users SET failed_attempts = 0, lockouts = lockouts + 1, locked_until = $2,
                              last_lockout_at = $3 WHERE id = $1",
            &[&user_id, &until, &now],
        )
        .await?;
    Ok(Some(until))
}
