//! Setting and changing passwords: with the old one, or with a reset token.
//!
//! A reset token is single-use, valid for an hour by default, stored hashed, and made by an
//! admin or the operator's CLI (`dampwatch users reset-password`) for a person who cannot sign
//! in, or for a new user to set their first password. Using it sets the password, clears any
//! lockout and voids the user's other tokens; every session of the user ends (the database
//! does that whenever the password changes).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::lockout::LockoutPolicy;
use crate::password::{self, check_new, HashingStopped, Password, WeakPassword};
use crate::signin::record_failure;
use crate::token::{new_token, token_hash};

/// How long a reset token stays valid by default.
pub const RESET_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error(transparent)]
    Weak(#[from] WeakPassword),
    #[error("the current password is not right")]
    WrongCurrentPassword {
        /// When the lockout this failure started ends, if it started one.
        locked_until: Option<DateTime<Utc>>,
    },
    #[error("{}", crate::lockout::locked_message(*until))]
    Locked { until: DateTime<Utc> },
    #[error("the reset token is unknown, used or expired")]
    BadToken,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Hashing(#[from] HashingStopped),
    #[error("database error")]
    Db(#[from] tokio_postgres::Error),
}

/// A new reset token for `user_id` (shown once), valid for `lifetime` from `now`; earlier
/// unused tokens of the user are void.
pub async fn issue(
    client: &impl GenericClient,
    user_id: i64,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<String, PasswordChangeError> {
    let exists = client.query_opt("SELECT 1 FROM users WHERE id = $1", &[&user_id]).await?;
    if exists.is_none() {
        return Err(PasswordChangeError::NotFound);
    }
    client.execute("DELETE FROM password_resets WHERE user_id = $1", &[&user_id]).await?;
    let (token, hash) = new_token();
    let expires = now + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
    client
        .execute(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&&hash[..], &user_id, &now, &expires],
        )
        .await?;
    Ok(token)
}

/// Sets the password of the token's user; returns the user's id.
pub async fn redeem(
    client: &impl GenericClient,
    token: &str,
    new: &Password,
    now: DateTime<Utc>,
) -> Result<i64, PasswordChangeError> {
    let row = client
        .query_opt(
            "SELECT r.user_id, u.email, u.display_name, coalesce(l.name, '') FROM password_resets r
             JOIN users u ON u.id = r.user_id LEFT JOIN landlords l ON l.id = u.landlord_id
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 FOR UPDATE OF r",
            &[&&token_hash(token)[..], &now],
        )
        .await?
        .ok_or(PasswordChangeError::BadToken)?;
    let (user_id, email, name, landlord): (i64, String, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    check_new(new, &[&email, &name, &landlord])?;
    let phc = password::hash_off_thread(new.clone()).await?;
    client
        .execute(
            "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1",
            &[&&token_hash(token)[..], &now],
        )
        .await?;
    client.execute("DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL", &[&user_id]).await?;
    store(client, user_id, &phc, now).await?;
    Ok(user_id)
}

/// Changes the password of a signed-in user who knows the current one.
pub async fn change(
    client: &impl GenericClient,
    user_id: i64,
    current: &Password,
    new: &Password,
    now: DateTime<Utc>,
    lockout: &LockoutPolicy,
) -> Result<(), PasswordChangeError> {
    let row = client
        .query_opt(
            "SELECT u.password_hash, u.email, u.display_name, coalesce(l.name, ''), u.locked_until FROM users u
             LEFT JOIN landlords l ON l.id = u.landlord_id WHERE u.id = $1 FOR UPDATE OF u",
            &[&user_id],
        )
        .await?
        .ok_or(PasswordChangeError::NotFound)?;
    // As re-authentication: a locked account checks no current password until the lockout ends.
    if let Some(until) = crate::lockout::in_force(row.get(4), now) {
        return Err(PasswordChangeError::Locked { until });
    }
    let stored: Option<String> = row.get(0);
    if !password::verify_off_thread(current.clone(), stored).await? {
        // A wrong current password is a guess like a wrong sign-in: it counts towards lockout.
        let locked_until = record_failure(client, user_id, now, lockout).await?;
        return Err(PasswordChangeError::WrongCurrentPassword { locked_until });
    }
    let (email, name, landlord): (String, String, String) = (row.get(1), row.get(2), row.get(3));
    check_new(new, &[&email, &name, &landlord])?;
    let phc = password::hash_off_thread(new.clone()).await?;
    store(client, user_id, &phc, now).await
}

async fn store(
    client: &impl GenericClient,
    user_id: i64,
    phc: &str,
    now: DateTime<Utc>,
) -> Result<(), PasswordChangeError> {
    client
        .execute(
            // Whoever was trying codes with the old password holds it no longer: the count of
            // their codes goes with it.
            "UPDATE users SET password_hash = $2, password_changed_at = $3, failed_attempts = 0,
                              locked_until = NULL, second_factor_failures = 0 WHERE id = $1",
            &[&user_id, &phc, &now],
        )
        .await?;
    Ok(())
}
