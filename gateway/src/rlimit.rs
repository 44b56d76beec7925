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
