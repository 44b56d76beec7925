//! A whole Dampwatch stack for one test: a temporary PKI in a data directory laid out like the
//! demo's, a private PostgreSQL, and the gateway (on a free loopback port) and collector,
//! in-process and real.

#![allow(dead_code)]

use dampwatch_sim::{Scenario, SimArgs};
use std::time::Duration;

/// The end-to-end stack of `tests/support` (PKI in DIR/pki, like the demo's data directory).
pub use dampwatch_tests::Stack;

/// What the simulator's tests add to the shared stack.
pub trait SimStack {
    /// Simulator arguments against this stack, provisioning the devices.
    fn sim_args(&self, scenario: Scenario, devices: u32, speed: f64, duration: Duration) -> SimArgs;
    /// Count of the simulated devices' readings, and of distinct (device, boot, seq).
    async fn reading_counts(&self) -> anyhow::Result<(i64, i64)>;
}

impl SimStack for Stack {
    fn sim_args(&self, scenario: Scenario, devices: u32, speed: f64, duration: Duration) -> SimArgs {
        SimArgs {
            devices,
            speed,
            duration,
            scenario,
            gateway: self.gateway_addr().to_string(),
            data_dir: self.dir.path().to_owned(),
            database_url: Some(self.pg.url()),
            provision: true,
            drain_timeout: Duration::from_secs(30),
            ..SimArgs::default()
        }
    }

    async fn reading_counts(&self) -> anyhow::Result<(i64, i64)> {
        let row = self
            .db()
            .await?
            .query_one(
                "SELECT count(*), count(DISTINCT (device_id, boot, seq)) FROM readings WHERE device_id LIKE 'sim-%'",
                &[],
            )
            .await?;
        Ok((row.get(0), row.get(1)))
    }
}

/// Runs the simulator, echoing its output, and checks the summary is its last line.
pub async fn run_sim(args: SimArgs) -> anyhow::Result<dampwatch_sim::SimSummary> {
    let mut out = Vec::new();
    let summary = dampwatch_sim::run(args, &mut out).await;
    let text = String::from_utf8(out)?;
    print!("{text}");
    let summary = summary?;
    assert_eq!(text.lines().last(), Some(summary.to_string().as_str()), "the summary is the last line");
    Ok(summary)
}
