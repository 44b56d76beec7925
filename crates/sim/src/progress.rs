//! The progress lines printed every few seconds while the run goes on.

use std::time::Duration;

use crate::totals::Snapshot;

/// Compact simulated duration: `45m`, `10h`, `2d4h`.
pub fn span(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// One progress line.
pub fn line(elapsed: Duration, simulated_ms: u64, devices: u32, s: &Snapshot) -> String {
    let mut text = format!(
        "sim: t={}s simulated={} connected={}/{} readings={} sent={} acked={} queued={} dropped={}",
        elapsed.as_secs(),
        span(simulated_ms),
        s.connected,
        devices,
        s.recorded,
        s.sent,
        s.acked,
        s.queued,
        s.dropped
    );
    if s.connect_failures > 0 {
        text.push_str(&format!(" connect-failures={}", s.connect_failures));
        if let Some(e) = &s.last_error {
            text.push_str(&format!(" (last: {e})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(45 * 60_000), "45m");
        assert_eq!(span(10 * 3_600_000), "10h");
        assert_eq!(span(150 * 60_000), "2h30m");
        assert_eq!(span(52 * 3_600_000), "2d4h");
        assert_eq!(span(72 * 3_600_000), "3d");
    }

    #[test]
    fn a_progress_line_names_failures_only_when_there_are_some() {
        let s = Snapshot { recorded: 5, connected: 2, ..Snapshot::default() };
        let l = line(Duration::from_secs(12), 7_200_000, 3, &s);
        assert_eq!(l, "sim: t=12s simulated=2h connected=2/3 readings=5 sent=0 acked=0 queued=0 dropped=0");
        let s = Snapshot { connect_failures: 1, last_error: Some("refused".into()), ..s };
        assert!(line(Duration::ZERO, 0, 3, &s).ends_with("connect-failures=1 (last: refused)"));
    }
}
