//! The open-file limit. Every connection is a file descriptor, and the default soft limit
//! (often 1024) is far below the connections a gateway holds, so binaries raise it to the hard
//! limit at start.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Raises the soft open-file limit to the hard limit; returns the limit now in force.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    let current = getrlimit(Resource::Nofile);
    let raised = Rlimit { current: current.maximum, maximum: current.maximum };
    setrlimit(Resource::Nofile, raised)?;
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// Raises the open-file limit to at least `wanted` where the process may: raising the hard
/// limit needs `CAP_SYS_RESOURCE` (root usually has it) and stops at the kernel's `fs.nr_open`.
/// Otherwise the soft limit goes to the hard one. Returns the limit now in force; children
/// started afterwards inherit it.
pub fn raise_open_files_limit_to(wanted: u64) -> std::io::Result<u64> {
    let current = getrlimit(Resource::Nofile);
    if current.maximum.is_some_and(|max| max < wanted) {
        // Refused without the capability: the caller compares the result with what it wanted.
        let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: Some(wanted) });
    }
    raise_open_files_limit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_raised_as_far_as_the_process_may() {
        let before = getrlimit(Resource::Nofile).maximum.unwrap_or(u64::MAX);
        let wanted = before.saturating_add(1000);
        let now = raise_open_files_limit_to(wanted).unwrap();
        if may_raise_hard_limit() && wanted <= nr_open() {
            assert!(now >= wanted, "with CAP_SYS_RESOURCE the hard limit is raised: {now} < {wanted}");
        } else {
            assert_eq!(now, before, "without it the soft limit goes to the hard one");
        }
        assert_eq!(getrlimit(Resource::Nofile).current, Some(now), "the limit returned is the one in force");
    }

    /// Whether this process holds CAP_SYS_RESOURCE (bit 24 of its effective capabilities).
    fn may_raise_hard_limit() -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|caps| caps & (1 << 24) != 0)
    }

    fn nr_open() -> u64 {
        std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }
}
