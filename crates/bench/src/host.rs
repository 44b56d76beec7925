//! The collector under measurement: run on a runtime of its own, whose threads are known, so
//! the CPU time it uses (and only it) can be read from `/proc/self/task/TID/schedstat`.

use dampwatch_collector::Metrics;
use dampwatch_collector::{Collector, Config};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A collector running on its own threads.
pub struct Hosted {
    pub metrics: Arc<Metrics>,
    threads: Arc<Mutex<Vec<u32>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
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

impl Hosted {
    /// Starts a collector with `cfg` on a runtime with `workers` threads.
    pub fn start(cfg: Config, workers: usize) -> anyhow::Result<Hosted> {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let seen = threads.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("collector")
            .on_thread_start(move || {
                if let (Some(tid), Ok(mut list)) = (current_tid(), seen.lock()) {
                    list.push(tid);
                }
            })
            .enable_all()
            .build()?;
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("collector-host".into()).spawn(move || {
            rt.block_on(async move {
                match Collector::start(cfg).await {
                    Ok(c) => {
                        let _ = started_tx.send(Ok(c.metrics()));
                        let _ = stop_rx.await;
                        c.shutdown().await;
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        })?;
        let metrics = started_rx.recv_timeout(Duration::from_secs(60))??;
        Ok(Hosted { metrics, threads, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// CPU time used so far by the collector's threads.
    pub fn cpu(&self) -> Duration {
        let tids = self.threads.lock().map(|t| t.clone()).unwrap_or_default();
        tids.into_iter().map(thread_cpu).sum()
    }

    /// Stops the collector gracefully and waits for its threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Hosted {
    fn drop(&mut self) {
        self.shutdown();
    }
}
