//! A time-bounded cache of registry entries, so checking an uplink costs no database round
//! trip in the common case. Misses are cached too (an unknown device flooding us must not
//! flood the database). An entry is at most `ttl` old, which bounds how long a revocation
//! takes to apply.

use crate::checks::DeviceEntry;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct RegistryCache {
    ttl: Duration,
    entries: HashMap<String, (Option<DeviceEntry>, Instant)>,
}

impl RegistryCache {
    pub fn new(ttl: Duration) -> Self {
        RegistryCache { ttl, entries: HashMap::new() }
    }

    /// Ids among `ids` that must be (re)read from the database.
    pub fn stale<'a>(&self, ids: impl IntoIterator<Item = &'a str>, now: Instant) -> Vec<&'a str> {
        let mut out: Vec<&str> = ids
            .into_iter()
            .filter(|id| self.entries.get(*id).is_none_or(|(_, at)| now.duration_since(*at) >= self.ttl))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Records what the database said about `asked` (absent ones are cached as unknown).
    pub fn fill(&mut self, asked: &[&str], mut found: HashMap<String, DeviceEntry>, now: Instant) {
        if self.entries.len() > 1_000_000 {
            self.entries.clear(); // bound memory against a flood of random ids
        }
        for id in asked {
            self.entries.insert((*id).to_owned(), (found.remove(*id), now));
        }
    }

    pub fn get(&self, id: &str) -> Option<&DeviceEntry> {
        self.entries.get(id).and_then(|(e, _)| e.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn entry() -> DeviceEntry {
        DeviceEntry {
            landlord: "acme".into(),
            key_id: 1,
            public_key: vec![0; 32],
            active: true,
            provisioned_at: Utc.timestamp_opt(0, 0).unwrap(),
        }
    }

    #[test]
    fn entries_and_misses_are_cached_until_they_are_stale() {
        let mut c = RegistryCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(c.stale(["a", "b", "a"], t0), vec!["a", "b"]);
        c.fill(&["a", "b"], HashMap::from([("a".to_string(), entry())]), t0);
        assert!(c.get("a").is_some());
        assert!(c.get("b").is_none(), "unknown, and remembered as such");
        assert!(c.stale(["a", "b"], t0 + Duration::from_secs(5)).is_empty());
        assert_eq!(c.stale(["a", "b"], t0 + Duration::from_secs(10)), vec!["a", "b"]);
    }
}
