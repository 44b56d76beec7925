//! A whole Dampwatch stack for one test: a temporary PKI in a data directory laid out like the
//! demo's, a private PostgreSQL, and the gateway (on a free loopback port) and collector,
//! in-process and real.

#![allow(dead_code)]

use dampwatch_collector::Collector;
use dampwatch_gateway::Gateway;
use dampwatch_pg::PrivatePostgres;
use dampwatch_sim::{Scenario, SimArgs};
use std::time::Duration;

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub pg: PrivatePostgres,
    pub gateway: Gateway,
    pub collector: Collector,
}

impl Stack {
    pub async fn start() -> anyhow::Result<Stack> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir()?;
        let pki = dir.path().join("pki");
        dampwatch_pki::init(&pki, Default::default())?;
        let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
        let mut gcfg = dampwatch_gateway::Config::default().with_pki_dir(&pki);
        gcfg.listen.address = "127.0.0.1:0".parse()?;
        gcfg.listen.metrics_address = None;
        let gateway = Gateway::start(gcfg).await?;
        let mut ccfg = dampwatch_collector::Config::default().with_pki_dir(&pki);
        ccfg.database.url = pg.url();
        ccfg.mqtt.port = gateway.local_addr().port();
        ccfg.http.address = String::new();
        let collector = Collector::start(ccfg).await?;
        Ok(Stack { dir, pg, gateway, collector })
    }

    /// Simulator arguments against this stack, provisioning the devices.
    pub fn sim_args(&self, scenario: Scenario, devices: u32, speed: f64, duration: Duration) -> SimArgs {
        SimArgs {
            devices,
            speed,
            duration,
            scenario,
            gateway: self.gateway.local_addr().to_string(),
            data_dir: self.dir.path().to_owned(),
            database_url: Some(self.pg.url()),
            provision: true,
            drain_timeout: Duration::from_secs(30),
            ..SimArgs::default()
        }
    }

    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        Ok(dampwatch_collector::db::connect(&self.pg.url()).await?)
    }

    /// Count of the simulated devices' readings, and of distinct (device, boot, seq).
    pub async fn reading_counts(&self) -> anyhow::Result<(i64, i64)> {
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
