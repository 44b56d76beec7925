//! Which Ed25519 public keys either end accepts: points of prime order only.
//!
//! The servers verify with `ring`, which checks the cofactorless equation; the firmware with
//! ed25519-compact, which checks the cofactored one. Under a key of small order (anyone can
//! sign for it) or of mixed order (a prime-order point plus a torsion component) they give
//! different answers for bytes anyone can make (5 of the 10 cases of the ed25519-speccheck
//! set). An honest key generator never makes such a key (RFC 8032 derives the key from a seed:
//! prime order), so a key that is not of prime order is refused wherever one is taken in: the
//! collector keys a device is provisioned with and the device keys the registry holds. Under a
//! prime-order key the two can still differ on a signature whose R carries a small-order
//! component, but only the key's holder can make one: it cannot make either side accept what
//! the holder did not sign.

use curve25519_dalek::edwards::CompressedEdwardsY;

use crate::limits::PUBLIC_KEY_LEN;

/// Whether `key` is the encoding of a point of prime order: on the curve, not of small order,
/// and without a torsion component.
pub fn is_prime_order(key: &[u8; PUBLIC_KEY_LEN]) -> bool {
    match CompressedEdwardsY(*key).decompress() {
        Some(point) => !point.is_small_order() && point.is_torsion_free(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032, section 7.1, test 1: a key made from a seed.
    const RFC8032_TEST1: [u8; 32] = [
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e,
        0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
    ];

    #[test]
    fn a_key_made_from_a_seed_is_of_prime_order_and_the_identity_is_not() {
        assert!(is_prime_order(&RFC8032_TEST1));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!is_prime_order(&identity), "the identity is of small order");
    }

    #[test]
    fn a_prime_order_key_plus_a_torsion_point_is_refused() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        let point = CompressedEdwardsY(RFC8032_TEST1).decompress().unwrap();
        for torsion in &EIGHT_TORSION[1..] {
            assert!(!is_prime_order(&(point + torsion).compress().0), "mixed order is refused");
        }
    }
}
