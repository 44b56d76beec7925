//! Whose CPU a figure counts. The benchmark's own process holds the gateway (with its embedded
//! broker), the collector (with its hazard worker) and the load generator; PostgreSQL runs as
//! its own processes. Server CPU is every thread of this process except the load generator's
//! runtime, plus the postmaster and every backend and background process under it; the load
//! generator's CPU is reported on its own.
//!
//! Times come from `/proc`: `utime + stime` of `/proc/PID/stat` in clock ticks of 1/100 s
//! (USER_HZ, fixed at 100 for every Linux process interface), and the scheduler's nanoseconds
//! of `/proc/self/task/TID/schedstat` for single threads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// USER_HZ: the unit of the times in `/proc/PID/stat`.
const TICKS_PER_SECOND: u64 = 100;

/// Fields of `/proc/PID/stat` after the command name, counted from 1 = state (field 3).
struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
    /// Time of children that have been waited for (exited backends, for the postmaster).
    cutime: u64,
    cstime: u64,
}

fn stat(pid: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: parse after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat { ppid: num(1)? as u32, utime: num(11)?, stime: num(12)?, cutime: num(13)?, cstime: num(14)? })
}

fn ticks(t: u64) -> Duration {
    Duration::from_millis(t * 1000 / TICKS_PER_SECOND)
}

/// CPU time of this whole process (every thread) so far.
pub fn this_process() -> Duration {
    stat("self").map_or(Duration::ZERO, |s| ticks(s.utime + s.stime))
}

/// CPU time of one process so far (every thread; not its children).
pub fn process(pid: u32) -> Duration {
    stat(&pid.to_string()).map_or(Duration::ZERO, |s| ticks(s.utime + s.stime))
}

/// CPU time of the child processes this process has waited for (a `pg_dump`, a `pg_restore`).
pub fn waited_children() -> Duration {
    stat("self").map_or(Duration::ZERO, |s| ticks(s.cutime + s.cstime))
}

/// CPU time of a PostgreSQL server so far: the postmaster, its exited children (which it has
/// waited for), and every live child (backends, WAL writer, checkpointer, autovacuum, ...).
pub fn postgres(postmaster: u32) -> Duration {
    let Some(main) = stat(&postmaster.to_string()) else { return Duration::ZERO };
    let mut total = main.utime + main.stime + main.cutime + main.cstime;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
            if let Some(s) = stat(pid).filter(|s| s.ppid == postmaster) {
                total += s.utime + s.stime;
            }
        }
    }
    ticks(total)
}

/// The threads of one tokio runtime, recorded as they start, so their CPU time can be read.
#[derive(Clone, Default)]
pub struct Threads(Arc<Mutex<Vec<u32>>>);

impl Threads {
    /// Records the calling thread (call from `on_thread_start`).
    pub fn record_current(&self) {
        if let (Some(tid), Ok(mut list)) = (current_tid(), self.0.lock()) {
            list.push(tid);
        }
    }

    /// CPU time used so far by the recorded threads (of threads still alive).
    pub fn cpu(&self) -> Duration {
        let tids = self.0.lock().map(|t| t.clone()).unwrap_or_default();
        tids.into_iter().map(thread_cpu).sum()
    }
}

/// This thread's id, from `/proc/thread-self` (a link to `PID/task/TID`).
fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// CPU time a thread of this process has used.
fn thread_cpu(tid: u32) -> Duration {
    // schedstat: nanoseconds on the CPU, nanoseconds waiting, timeslices.
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_shows_in_its_process_and_in_its_thread_set() {
        let threads = Threads::default();
        let before = this_process();
        let recorded = threads.clone();
        std::thread::spawn(move || {
            recorded.record_current();
            // Spin until the kernel has charged this thread 200 ms of CPU (however long that
            // takes on a loaded machine; bounded), not for a fixed wall time.
            let tid = current_tid().expect("a thread id");
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while thread_cpu(tid) < Duration::from_millis(200) && start.elapsed() < Duration::from_secs(60) {
                for _ in 0..10_000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
            }
            std::hint::black_box(x);
            // Still alive while its time is read below.
            std::thread::park_timeout(Duration::from_millis(0));
            recorded.cpu()
        })
        .join()
        .map(|own| assert!(own >= Duration::from_millis(150), "{own:?}"))
        .expect("thread");
        assert!(this_process() - before >= Duration::from_millis(150));
    }

    #[test]
    fn a_server_counts_its_children_that_have_exited() {
        // This process plays the postmaster: a busy child it has waited for counts.
        let me = std::process::id();
        let before = postgres(me);
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .expect("sh");
        assert!(status.success());
        let after = postgres(me);
        assert!(after - before >= Duration::from_millis(100), "{before:?} -> {after:?}");
        assert_eq!(postgres(u32::MAX), Duration::ZERO, "no such process");
    }
}
