//! Deterministic randomness. Every simulated device draws its room, its habits and its weather
//! from its own seed, so a run with the same device ids reproduces the same homes. Draws are
//! pure functions of `(seed, what, when)` where possible, so the physics needs no mutable
//! random state and can be evaluated at any time in any order.

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed from a device id (FNV-1a, then mixed).
pub fn seed_of(id: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// A uniform draw in `[0, 1)` keyed by a seed, a salt naming what is drawn, and an index
/// (a day number, a sample number).
pub fn unit(seed: u64, salt: u64, index: u64) -> f64 {
    let z = mix(seed ^ mix(salt.wrapping_add(mix(index))));
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform draw in `[lo, hi)`.
pub fn between(seed: u64, salt: u64, index: u64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(seed, salt, index)
}

/// An approximately normal draw (mean 0, standard deviation 1): the sum of four uniforms,
/// rescaled. Bounded to ±3.5, which suits sensor noise.
pub fn normal(seed: u64, salt: u64, index: u64) -> f64 {
    let s: f64 = (0..4).map(|k| unit(seed, salt.wrapping_add(k * 0x1000), index)).sum();
    (s - 2.0) * (3.0f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_deterministic_and_spread() {
        assert_eq!(unit(1, 2, 3), unit(1, 2, 3));
        assert_ne!(unit(1, 2, 3), unit(1, 2, 4));
        assert_ne!(seed_of("sim-00001"), seed_of("sim-00002"));
        let mean: f64 = (0..10_000).map(|i| unit(7, 1, i)).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
        let var: f64 = (0..10_000).map(|i| normal(7, 2, i).powi(2)).sum::<f64>() / 10_000.0;
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
    }
}
