//! Starting, stopping and asking about the server with `pg_ctl`, always waiting (`-w`) so a
//! returned call means the server is really up or really down.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::account::ServerAccount;
use crate::binaries::PgBinaries;
use crate::command::run;
use crate::error::PgError;
use crate::layout::Layout;

/// Seconds `pg_ctl` waits for the server to come up or go down.
const WAIT_SECONDS: &str = "60";

/// How much of the server log an error message carries.
const LOG_TAIL_LINES: usize = 20;

/// How to stop: `Fast` rolls back open transactions and checkpoints; `Immediate` is a crash as
/// far as PostgreSQL is concerned, and the next start runs crash recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    Fast,
    Immediate,
}

/// Why a start failed.
#[derive(Debug)]
pub(crate) enum StartFailure {
    /// The port was taken between choosing it and binding it.
    AddressInUse,
    Other(PgError),
}

pub(crate) fn start(bins: &PgBinaries, account: &ServerAccount, layout: &Layout) -> Result<(), StartFailure> {
    let log = layout.log();
    let log_start = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let mut command = account.command(&bins.pg_ctl());
    command.arg("-D").arg(layout.cluster()).arg("-l").arg(&log).args(["-w", "-t", WAIT_SECONDS, "start"]);
    let Err(err) = run(&mut command, "pg_ctl start", None) else {
        return Ok(());
    };
    // A server that did not become ready in time may still be starting: do not leave it behind.
    if layout.postmaster_pid().exists() {
        let _ = stop(bins, account, layout, StopMode::Immediate);
    }
    let new_log = read_from(&log, log_start);
    if new_log.contains("Address already in use") {
        return Err(StartFailure::AddressInUse);
    }
    Err(StartFailure::Other(with_log(err, &new_log)))
}

/// Stops the server and returns once its postmaster process is gone, not merely once
/// `postmaster.pid` is (the postmaster removes that file just before it exits).
pub(crate) fn stop(
    bins: &PgBinaries,
    account: &ServerAccount,
    layout: &Layout,
    mode: StopMode,
) -> Result<(), PgError> {
    let postmaster = layout.postmaster();
    let mode = match mode {
        StopMode::Fast => "fast",
        StopMode::Immediate => "immediate",
    };
    let mut command = account.command(&bins.pg_ctl());
    command.arg("-D").arg(layout.cluster()).args(["-m", mode, "-w", "-t", WAIT_SECONDS, "stop"]);
    match run(&mut command, "pg_ctl stop", None) {
        // Already down (pg_ctl: "Is server running?") is what was asked for.
        Err(_) if !layout.postmaster_pid().exists() => {}
        other => other.map(drop)?,
    }
    if let Some(pid) = postmaster {
        wait_until_gone(pid, EXIT_GRACE);
    }
    Ok(())
}

/// How long a postmaster may take to exit after removing its pid file.
const EXIT_GRACE: Duration = Duration::from_secs(2);

fn wait_until_gone(pid: u32, limit: Duration) {
    let start = Instant::now();
    while process_exists(pid) && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A zombie (state `Z`) has exited; it only waits for its parent to reap it.
fn process_exists(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// Whether a server is running on this cluster (`pg_ctl status`: 0 running, 3 not running).
pub(crate) fn is_running(
    bins: &PgBinaries,
    account: &ServerAccount,
    layout: &Layout,
) -> Result<bool, PgError> {
    let mut command = account.command(&bins.pg_ctl());
    command.arg("-D").arg(layout.cluster()).arg("status");
    let status = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|source| PgError::Spawn { program: "pg_ctl status".to_owned(), source })?;
    Ok(status.success())
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_end(&mut bytes);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn with_log(err: PgError, log: &str) -> PgError {
    match err {
        PgError::CommandFailed { command, status, output } => {
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
            PgError::CommandFailed { command, status, output: format!("{output}\nserver log:\n{tail}") }
        }
        other => other,
    }
}
