//! Servers whose owning process dies without dropping its handle (SIGKILL, abort) do not run
//! forever: the watchdog stops them, and the reaper catches those whose watchdog died too.
//!
//! The owner is this test binary run again as a child with `OWNER_ENV` set, so it can be killed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{eventually, postmaster_pid, process_alive};
use dampwatch_pg::reap_abandoned_temporary_clusters;

const OWNER_ENV: &str = "DAMPWATCH_PG_TEST_OWNER";

/// The owner process started by the tests below: holds a temporary cluster until killed.
/// Run normally (without `OWNER_ENV`) it returns at once.
#[test]
fn owner_process() {
    if std::env::var_os(OWNER_ENV).is_none() {
        return;
    }
    let pg = dampwatch_pg::PrivatePostgres::temporary().expect("start");
    println!("READY {}", pg.data_dir().display());
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

struct Owner {
    child: Child,
    data_dir: PathBuf,
    postmaster: u32,
}

fn spawn_owner() -> Owner {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["owner_process", "--exact", "--nocapture", "--test-threads=1"])
        .env(OWNER_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the owner process");
    let stdout = child.stdout.take().expect("stdout");
    let data_dir = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest may print "test owner_process ... " on the same line first.
        .find_map(|line| line.split_once("READY ").map(|(_, dir)| PathBuf::from(dir)))
        .expect("the owner reports its cluster");
    let postmaster = postmaster_pid(&data_dir.join("cluster")).expect("postmaster.pid");
    Owner { child, data_dir, postmaster }
}

/// Child processes of `parent` whose command line mentions `needle`.
fn children_named(parent: u32, needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid =
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains(needle)
        })
        .collect()
}

fn kill_9(pid: u32) {
    let status = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -9 {pid}");
}

#[test]
fn watchdog_stops_the_server_of_a_killed_owner() {
    let mut owner = spawn_owner();
    assert!(process_alive(owner.postmaster));
    owner.child.kill().expect("SIGKILL the owner");
    owner.child.wait().expect("reap the owner");

    assert!(
        eventually(Duration::from_secs(20), || !process_alive(owner.postmaster)),
        "postmaster {} still running 20 s after its owner died",
        owner.postmaster
    );
    assert!(
        eventually(Duration::from_secs(5), || !owner.data_dir.exists()),
        "temporary directory {} not removed",
        owner.data_dir.display()
    );
}

#[test]
fn reaper_cleans_up_when_the_watchdog_died_too() {
    let mut owner = spawn_owner();
    let watchdogs = children_named(owner.child.id(), "dampwatch-pg-watchdog");
    assert_eq!(watchdogs.len(), 1, "one watchdog per running server");
    kill_9(watchdogs[0]);
    owner.child.kill().expect("SIGKILL the owner");
    owner.child.wait().expect("reap the owner");
    assert!(process_alive(owner.postmaster), "nothing has stopped the server yet");

    reap_abandoned_temporary_clusters();
    assert!(
        eventually(Duration::from_secs(5), || !process_alive(owner.postmaster)),
        "the reaper left postmaster {} running",
        owner.postmaster
    );
    assert!(!owner.data_dir.exists(), "the reaper left {} behind", owner.data_dir.display());
}
