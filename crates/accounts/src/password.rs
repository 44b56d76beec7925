//! Passwords: what is accepted, and how it is stored.
//!
//! Policy (NIST SP 800-63B §3.1.1.2 and OWASP ASVS 5.0 V6.2): at least 12 characters, at most
//! 128, any characters (no composition rules), refused when a strength estimator (`zxcvbn`, which
//! knows common passwords, dictionary words, keyboard patterns and the person's own e-mail and
//! name) scores it below 3 of 4. Stored as argon2id with OWASP's recommended parameters
//! (19 MiB, 2 passes, 1 lane) and a 128-bit random salt, in PHC string form so the parameters
//! travel with the hash and can be raised later. A password is never logged: [`Password`]
//! prints as `[redacted]`.

use std::fmt;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use ring::rand::{SecureRandom, SystemRandom};

/// Fewest characters accepted.
pub const MIN_CHARS: usize = 12;
/// Most characters accepted (a long passphrase must fit; a megabyte must not reach argon2).
pub const MAX_CHARS: usize = 128;
/// Lowest zxcvbn score accepted (0 to 4; 3 is "safely unguessable").
pub const MIN_SCORE: u8 = 3;

/// argon2id memory in KiB, passes and lanes: OWASP Password Storage Cheat Sheet (2025).
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

/// A password in memory. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Password(text.into())
    }

    /// The password itself, for hashing and checking only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why a new password was refused, said so a person can choose a better one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password has {0} characters; use at least {MIN_CHARS}")]
    TooShort(usize),
    #[error("the password has {0} characters; use at most {MAX_CHARS}")]
    TooLong(usize),
    #[error("the password is too easy to guess{0}")]
    Guessable(String),
}

/// Checks a new password against the policy. `personal` are words an attacker would try first
/// for this person (their e-mail address, name, the landlord's name).
pub fn check_new(password: &Password, personal: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.0.chars().count();
    if chars < MIN_CHARS {
        return Err(WeakPassword::TooShort(chars));
    }
    if chars > MAX_CHARS {
        return Err(WeakPassword::TooLong(chars));
    }
    // The words an attacker tries first for this person: the e-mail address, its parts, the
    // name's words, and the context words.
    let mut words: Vec<String> = CONTEXT_WORDS.iter().map(|w| (*w).to_owned()).collect();
    for p in personal {
        let p = p.to_lowercase();
        words.extend(
            p.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 3).map(str::to_owned),
        );
        words.push(p);
    }
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    guessable(&password.0, &inputs)?;
    // A derivative of those words ("alicemould2026") must still be strong without them.
    let mut rest = password.0.to_lowercase();
    let mut longest_first = words.clone();
    longest_first.sort_by_key(|w| std::cmp::Reverse(w.len()));
    for w in &longest_first {
        rest = rest.replace(w.as_str(), "");
    }
    if rest != password.0.to_lowercase() {
        guessable(&rest, &inputs).map_err(|_| {
            WeakPassword::Guessable(
                ": it is mostly your own name, e-mail address, your landlord's or this service's name".into(),
            )
        })?;
    }
    Ok(())
}

/// Context-specific words no password should lean on (OWASP ASVS 6.1.2): the product's name,
/// what it is about, and the roles' names. With the person's own e-mail address, name and
/// landlord's name, these are tried first by anyone guessing.
pub const CONTEXT_WORDS: &[&str] = &[
    "dampwatch",
    "damp",
    "mould",
    "mold",
    "landlord",
    "housing",
    "officer",
    "contractor",
    "auditor",
    "admin",
    "operator",
    "password",
];

fn guessable(text: &str, inputs: &[&str]) -> Result<(), WeakPassword> {
    let estimate = zxcvbn::zxcvbn(text, inputs);
    if u8::from(estimate.score()) < MIN_SCORE {
        let hint =
            estimate.feedback().and_then(|f| f.warning().map(|w| format!(": {w}"))).unwrap_or_default();
        return Err(WeakPassword::Guessable(hint));
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("the argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string to store. Slow on purpose (tens of milliseconds): call it off the async
/// executor (`spawn_blocking`).
pub fn hash(password: &Password) -> String {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).expect("the system random generator works");
    hasher()
        .hash_password_with_salt(password.0.as_bytes(), &salt)
        .expect("argon2id hashes any password of accepted length")
        .to_string()
}

/// Whether `password` matches the stored PHC string. A malformed stored string matches
/// nothing. As slow as [`hash`].
pub fn verify(password: &Password, stored: &str) -> bool {
    hasher().verify_password(password.0.as_bytes(), stored).is_ok()
}

/// At most this many argon2id computations run at once (each takes 19 MiB and a core for tens
/// of milliseconds): a burst of sign-ins queues instead of exhausting memory.
pub const CONCURRENT_HASHES: usize = 4;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_HASHES);

/// [`verify`] on a blocking thread, against `stored` or, when there is none, the decoy.
pub async fn verify_off_thread(password: Password, stored: Option<String>) -> Result<bool, HashingStopped> {
    let _permit = HASHING.acquire().await.map_err(|_| HashingStopped)?;
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            verify(&password, decoy_hash());
            false
        }
    })
    .await
    .map_err(|_| HashingStopped)
}

/// [`hash`] on a blocking thread.
pub async fn hash_off_thread(password: Password) -> Result<String, HashingStopped> {
    let _permit = HASHING.acquire().await.map_err(|_| HashingStopped)?;
    tokio::task::spawn_blocking(move || hash(&password)).await.map_err(|_| HashingStopped)
}

/// The hashing thread did not finish (the runtime is shutting down).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the password hashing thread did not finish")]
pub struct HashingStopped;

/// A stored hash of a password nobody knows, checked when the account does not exist (or has no
/// password yet) so that an unknown e-mail address costs the same time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 32];
        SystemRandom::new().fill(&mut random).expect("the system random generator works");
        hash(&Password(hex::encode(random)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_guessable_passwords_are_refused_with_a_reason() {
        assert_eq!(check_new(&Password::new("Tr0ub4dor&3"), &[]), Err(WeakPassword::TooShort(11)));
        assert_eq!(check_new(&Password::new("a".repeat(129)), &[]), Err(WeakPassword::TooLong(129)));
        assert!(matches!(check_new(&Password::new("password1234"), &[]), Err(WeakPassword::Guessable(_))));
        assert!(matches!(check_new(&Password::new("qwertyuiop123"), &[]), Err(WeakPassword::Guessable(_))));
    }

    #[test]
    fn a_password_made_of_the_persons_own_details_is_refused() {
        let personal = ["alice.mould@example-homes.org", "Alice Mould"];
        for p in [
            "alicemould2026",
            "Mould-Alice-1990",
            "example-homes-2026!",
            "dampwatch2026!!",
            "housingofficer!!1",
        ] {
            assert!(check_new(&Password::new(p), &personal).is_err(), "{p}");
        }
        check_new(&Password::new("alice likes velvet thunder"), &personal).unwrap();
    }

    #[test]
    fn a_long_passphrase_without_composition_rules_is_accepted() {
        check_new(&Password::new("correct horse battery staple"), &[]).unwrap();
        check_new(&Password::new("damp walls never dry in winter"), &[]).unwrap();
        check_new(&Password::new("ça sent le moisi ici, vraiment"), &[]).unwrap();
    }

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_salted_and_verify() {
        let p = Password::new("correct horse battery staple");
        let (a, b) = (hash(&p), hash(&p));
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify(&p, &a));
        assert!(!verify(&Password::new("correct horse battery stapler"), &a));
        assert!(!verify(&p, "not a phc string"));
        assert!(!verify(&p, decoy_hash()));
    }

    #[test]
    fn a_password_never_prints() {
        let p = Password::new("correct horse battery staple");
        assert!(!format!("{p:?} {p}").contains("horse"));
    }
}
