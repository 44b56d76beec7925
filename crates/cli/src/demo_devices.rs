//! The demo's own simulated devices: `dampwatch sim` run in-process against the demo's gateway.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub struct DemoDevices {
    // The simulator writes progress through `&mut dyn Write`, which is not `Send`, so it runs
    // on its own thread and runtime rather than as a task of the demo's runtime.
    result: tokio::sync::oneshot::Receiver<anyhow::Result<dampwatch_sim::SimSummary>>,
    bounded: bool,
}

/// Starts `devices` simulated homes (provisioned on first use) at 600× speed.
pub fn start(
    data_dir: &Path,
    pki: &Path,
    db_url: &str,
    gateway: SocketAddr,
    devices: usize,
    duration: Option<Duration>,
) -> DemoDevices {
    // Without --for the demo runs until Ctrl-C; the simulator is simply stopped then.
    let run_for = duration.unwrap_or(Duration::from_secs(10 * 365 * 24 * 3600));
    let args = dampwatch_sim::cli::SimArgs::try_parse_from([
        "sim".to_string(),
        format!("--devices={}", devices.max(1)),
        "--speed=600".into(),
        format!("--for={}", humantime::format_duration(run_for)),
        format!("--gateway={gateway}"),
        format!("--data-dir={}", data_dir.display()),
        format!("--pki-dir={}", pki.display()),
        format!("--database-url={db_url}"),
        "--provision".into(),
        "--landlord=demo".into(),
        "--device-prefix=demo-".into(),
    ]);
    let (tx, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(async { dampwatch_sim::run(args?, &mut std::io::sink()).await }));
        let _ = tx.send(outcome);
    });
    DemoDevices { result, bounded: duration.is_some() }
}

impl DemoDevices {
    /// With `--for`, waits for the devices to drain and returns their summary; otherwise stops them.
    pub async fn finish(self) -> Option<dampwatch_sim::SimSummary> {
        if !self.bounded {
            return None; // the thread ends with the process
        }
        match self.result.await {
            Ok(Ok(summary)) => Some(summary),
            Ok(Err(e)) => {
                eprintln!("demo devices stopped with an error: {e:#}");
                None
            }
            Err(_) => {
                eprintln!("demo devices stopped unexpectedly");
                None
            }
        }
    }
}
