//! Streaming between a client program (`pg_dump`, `pg_restore`) and age, the same way in both
//! directions: 1 MiB at a time, progress every few seconds, and a read failure told apart from
//! a write failure (on restore a read failure is the backup's fault, a write failure
//! pg_restore's).

use std::io::{Read, Write};
use std::process::ChildStderr;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::{Progress, PROGRESS_EVERY};

/// Where a copy stopped.
pub(crate) enum CopyError {
    Read { after: u64, error: std::io::Error },
    Write(std::io::Error),
}

/// Copies `from` to `to` until `from` ends; returns the bytes copied.
pub(crate) fn copy(
    from: &mut dyn Read,
    to: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut reported = Instant::now();
    loop {
        let n = from.read(&mut buf).map_err(|error| CopyError::Read { after: total, error })?;
        if n == 0 {
            progress(total);
            return Ok(total);
        }
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
        if reported.elapsed() >= PROGRESS_EVERY {
            progress(total);
            reported = Instant::now();
        }
    }
}

/// Reads a child's standard error on a thread of its own (so a chatty child never blocks on a
/// full pipe), keeping its last lines.
pub(crate) fn collect_stderr(stderr: Option<ChildStderr>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    })
}
