//! Opaque secrets handed to a person or a browser (session ids, CSRF tokens, reset tokens,
//! recovery codes): 256 random bits, stored only as their SHA-256. A fast hash is enough for
//! values with that much entropy; nothing can be guessed from a stolen table.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;

/// A new token (URL-safe base64, 43 characters) and the hash to store.
pub fn new_token() -> (String, [u8; 32]) {
    let mut raw = [0u8; TOKEN_BYTES];
    SystemRandom::new().fill(&mut raw).expect("the system random generator works");
    let text = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&text);
    (text, hash)
}

/// The stored form of a presented token.
pub fn token_hash(text: &str) -> [u8; 32] {
    digest(&SHA256, text.as_bytes()).as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Whether a presented token is the one `stored` is the hash of. A plain comparison is safe
/// here: it compares digests, and learning how much of the digest of one's own guess matches
/// says nothing about the token (the database's index lookup by hash does the same).
pub fn token_matches(text: &str, stored: &[u8]) -> bool {
    token_hash(text)[..] == *stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_match_only_their_hash() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(token_matches(&a, &ha));
        assert!(!token_matches(&a, &hb));
        assert!(!token_matches(&a, &ha[..31]));
    }
}
