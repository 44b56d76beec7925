//! The collector under measurement, on a runtime of its own, stopped gracefully between runs
//! (its CPU is part of this process's, see [`crate::cpu`]).

use dampwatch_collector::Metrics;
use dampwatch_collector::{Collector, Config};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A collector running on its own threads.
pub struct Hosted {
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hosted {
    /// Starts a collector with `cfg` on a runtime with `workers` threads.
    pub fn start(cfg: Config, workers: usize) -> anyhow::Result<Hosted> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("collector")
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
        Ok(Hosted { metrics, stop: Some(stop_tx), thread: Some(thread) })
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
