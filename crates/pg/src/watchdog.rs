//! A safety net for servers whose owner dies without running `Drop`: `kill -9`, an abort, a
//! test binary stopped with Ctrl-C, or a handle kept in a `static`.
//!
//! Next to each running server a tiny `sh` loop checks once a second whether the owning process
//! still lives. When it is gone, the watchdog asks that exact postmaster (checked against
//! `postmaster.pid`, so a later server in the same directory is left alone) for a fast
//! shutdown, and for temporary clusters removes the directory. A clean stop kills the watchdog.
//! It ignores terminal signals and runs in its own process group, because Ctrl-C reaches the
//! whole foreground group and the watchdog must outlive its owner.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::error::PgError;

const SCRIPT: &str = r#"
trap '' HUP INT TERM QUIT
owner=$1 postmaster=$2 pidfile=$3 remove=$4
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
if [ "$(head -n 1 "$pidfile" 2>/dev/null)" = "$postmaster" ]; then
  kill -INT "$postmaster" 2>/dev/null
  n=0
  while kill -0 "$postmaster" 2>/dev/null && [ "$n" -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
  kill -0 "$postmaster" 2>/dev/null && kill -QUIT "$postmaster" 2>/dev/null
fi
if [ -n "$remove" ]; then rm -rf -- "$remove"; fi
"#;

#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Watches this process on behalf of `postmaster`; `remove` is deleted after the shutdown.
    pub(crate) fn spawn(postmaster: u32, pidfile: &Path, remove: Option<&Path>) -> Result<Self, PgError> {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("dampwatch-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(postmaster.to_string())
            .arg(pidfile)
            .arg(remove.map(Path::as_os_str).unwrap_or_default())
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|source| PgError::Spawn { program: "/bin/sh (watchdog)".to_owned(), source })?;
        Ok(Watchdog { child })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // SIGKILL, since the script ignores the polite signals; then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
