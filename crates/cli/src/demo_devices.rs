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

/// How long the demo's devices sample when the demo runs until Ctrl-C: 24 hours at 600×
/// simulates the last 600 days, so every reading is dated in the recent past.
pub const UNBOUNDED_SAMPLING: Duration = Duration::from_secs(24 * 3600);
const SPEED: u32 = 600;

/// Starts `devices` simulated homes named `prefix`N (provisioned on first use) at 600× speed.
pub fn start(
    data_dir: &Path,
    pki: &Path,
    db_url: &str,
    gateway: SocketAddr,
    devices: usize,
    duration: Option<Duration>,
    prefix: &str,
) -> DemoDevices {
    // Without --for the demo runs until Ctrl-C; its devices stop sampling after a day (the
    // simulated span ends at the present and cannot reach back indefinitely).
    let run_for = duration.unwrap_or(UNBOUNDED_SAMPLING);
    let args = dampwatch_sim::cli::SimArgs::try_parse_from([
        "sim".to_string(),
        format!("--devices={}", devices.max(1)),
        format!("--speed={SPEED}"),
        format!("--for={}", humantime::format_duration(run_for)),
        format!("--gateway={gateway}"),
        format!("--data-dir={}", data_dir.display()),
        format!("--pki-dir={}", pki.display()),
        format!("--database-url={db_url}"),
        "--provision".into(),
        format!("--landlord={}", crate::demo_landlord::LANDLORD),
        format!("--device-prefix={prefix}"),
    ]);
    let (tx, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(async { Ok(dampwatch_sim::run(args?, &mut std::io::sink()).await?) }));
        let _ = tx.send(outcome);
    });
    DemoDevices { result, bounded: duration.is_some() }
}

impl DemoDevices {
    /// With `--for`, waits for the devices to drain and returns their summary; otherwise stops them.
    pub async fn finish(mut self) -> Option<dampwatch_sim::SimSummary> {
        let outcome = if self.bounded {
            self.result.await
        } else {
            // Still sampling, or finished its day: the thread ends with the process.
            match self.result.try_recv() {
                Ok(outcome) => Ok(outcome),
                Err(_) => return None,
            }
        };
        match outcome {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_without_end_simulates_a_recent_history() {
        let span = UNBOUNDED_SAMPLING.as_secs_f64() * f64::from(SPEED);
        assert!(span <= dampwatch_sim::run::MAX_SPAN.as_secs_f64(), "{span} s");
        assert!(span >= 30.0 * 86_400.0, "long enough to show the hazard rules: {span} s");
    }
}
