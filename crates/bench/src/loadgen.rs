//! The load generator on a runtime of its own, whose threads are known: its CPU time is read
//! apart from the servers' (see [`crate::cpu`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cpu::Threads;
use crate::fleet::{self, DeviceSpec, Outcome, Plan};

/// A fleet running on its own threads.
pub struct LoadRun {
    threads: Threads,
    thread: std::thread::JoinHandle<anyhow::Result<Vec<Outcome>>>,
}

/// Worker threads of the load generator: as many as the machine's cores, since on a small
/// machine it competes with the servers either way.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl LoadRun {
    /// Starts `specs` on `plan`.
    pub fn start(specs: Vec<DeviceSpec>, plan: Plan) -> anyhow::Result<LoadRun> {
        let threads = Threads::default();
        let seen = threads.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers())
            .thread_name("load")
            .on_thread_start(move || seen.record_current())
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new().name("load-host".into()).spawn(move || {
            let outcomes = rt.block_on(fleet::run_fleet(specs, plan, CancellationToken::new()));
            rt.shutdown_timeout(Duration::from_secs(2));
            outcomes
        })?;
        Ok(LoadRun { threads, thread })
    }

    /// CPU time the load generator has used so far.
    pub fn cpu(&self) -> Duration {
        self.threads.cpu()
    }

    /// Waits for every device's outcome (the plan's deadline bounds it).
    pub async fn finish(self) -> anyhow::Result<Vec<Outcome>> {
        tokio::task::spawn_blocking(move || self.thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the load generator panicked"))?
    }
}
