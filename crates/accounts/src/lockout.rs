//! Locking an account after repeated failed sign-ins.
//!
//! After [`LockoutPolicy::threshold`] failures in a row the account is locked for a period that
//! doubles with each lockout, up to a ceiling: long enough to make guessing hopeless (at most
//! five guesses per period), never forever, so an attacker who knows someone's e-mail address
//! cannot keep them out for good. A successful sign-in clears the count and the growth.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Failed attempts in a row that lock the account.
    pub threshold: u32,
    /// The first lockout's length.
    #[serde(with = "humantime_serde")]
    pub first: Duration,
    /// The longest a lockout lasts.
    #[serde(with = "humantime_serde")]
    pub longest: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { threshold: 5, first: Duration::from_secs(60), longest: Duration::from_secs(3600) }
    }
}

impl LockoutPolicy {
    /// How long the lockout after `earlier_lockouts` earlier ones lasts: first, 2×, 4×, … capped.
    pub fn period(&self, earlier_lockouts: u32) -> Duration {
        let factor = 1u32.checked_shl(earlier_lockouts.min(31)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.longest)
    }
}

/// The end of the lockout in force at `now`, if one is (`locked_until` as stored).
pub fn in_force(
    locked_until: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    locked_until.filter(|until| *until > now)
}

/// What a person locked out until `until` is told when they try to change how they sign in.
pub fn locked_message(until: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "the account is locked until {} after repeated failed attempts: try again then, or ask an \
         administrator to unlock it",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// Lifts a lockout now (an admin who knows the person is who they say).
pub async fn unlock(
    client: &impl tokio_postgres::GenericClient,
    user_id: i64,
) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "UPDATE users SET locked_until = NULL, failed_attempts = 0, lockouts = 0, second_factor_failures = 0
             WHERE id = $1",
            &[&user_id],
        )
        .await?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_grow_and_stop_growing() {
        let p = LockoutPolicy::default();
        let minutes: Vec<u64> = (0..9).map(|n| p.period(n).as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.period(u32::MAX), p.longest);
    }
}
