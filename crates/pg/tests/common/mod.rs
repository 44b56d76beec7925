//! Shared by the integration tests: a blocking SQL client and process checks.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// Runs `f` with a client connected to `url`, on a throw-away single-threaded runtime.
pub fn with_client<T>(url: &str, f: impl AsyncFnOnce(&Client) -> T) -> Result<T, tokio_postgres::Error> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("build a tokio runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        let driver = tokio::spawn(connection);
        let value = f(&client).await;
        drop(client);
        let _ = driver.await;
        Ok(value)
    })
}

/// The postmaster pid recorded in a cluster directory.
pub fn postmaster_pid(cluster_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Whether `pid` runs; a zombie (state `Z`) has already exited.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

/// Polls `condition` until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}
