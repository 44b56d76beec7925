//! Wall-clock helpers for the physics: simulated times are milliseconds since the Unix epoch
//! (UTC, which is also British winter time; the daily routines are in these hours).

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Days since the epoch, with the fraction.
pub fn days(wall_ms: i64) -> f64 {
    wall_ms as f64 / DAY_MS as f64
}

/// The day number (for drawing each day's habits).
pub fn day_index(wall_ms: i64) -> u64 {
    wall_ms.div_euclid(DAY_MS) as u64
}

/// Fraction of the day elapsed, 0 at midnight.
pub fn day_fraction(wall_ms: i64) -> f64 {
    wall_ms.rem_euclid(DAY_MS) as f64 / DAY_MS as f64
}

/// Hour of the day as a decimal (13.5 = 13:30).
pub fn hour_of_day(wall_ms: i64) -> f64 {
    day_fraction(wall_ms) * 24.0
}

/// Whether `hour` lies in the daily window `[from, to)`; windows may wrap past midnight
/// (`from` 22, `to` 7).
pub fn in_window(hour: f64, from: f64, to: f64) -> bool {
    if from <= to {
        hour >= from && hour < to
    } else {
        hour >= from || hour < to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_wrap_past_midnight() {
        assert!(in_window(23.0, 22.0, 7.0));
        assert!(in_window(3.0, 22.0, 7.0));
        assert!(!in_window(12.0, 22.0, 7.0));
        assert!(in_window(12.0, 9.0, 17.0));
        assert!((hour_of_day(DAY_MS * 3 + 90 * MINUTE_MS) - 1.5).abs() < 1e-9);
    }
}
