//! What the benchmark stands on: the whole-stack kit's stack (a temporary PKI, a private
//! PostgreSQL, durable on disk unless asked otherwise, a gateway with relaxed limits on a free
//! loopback port) and one credential per load device; optionally a message cluster the gateway
//! and the collector use instead of the embedded broker. All of it is removed when the world is dropped.

use super::fleet::DeviceSpec;
use dampwatch_cluster::{NatsCluster, Role};
use dampwatch_collector::Config;
use dampwatch_stack::{Limits, Stack};
use std::path::PathBuf;

pub const LANDLORD: &str = "bench";

pub struct World {
    pub stack: Stack,
    pub devices: Vec<DeviceSpec>,
    /// The message cluster the gateway and the collector use instead of the embedded broker.
    pub cluster: Option<NatsCluster>,
}

impl World {
    /// With `cluster`, the gateway and the collectors use it as their upstream.
    pub async fn build(
        devices: usize,
        durable: bool,
        statement_statistics: bool,
        cluster: Option<NatsCluster>,
    ) -> anyhow::Result<World> {
        let mut builder =
            Stack::builder().dir_prefix("dampwatch-bench-").limits(Limits::Relaxed).without_collector();
        if let Some(c) = &cluster {
            let upstream = c.upstream(Role::Gateway);
            builder = builder.gateway_config(move |g| g.upstream = upstream.clone());
        }
        if durable {
            builder = builder.durable_database();
        }
        if statement_statistics {
            builder = builder.statement_statistics();
        }
        let stack = builder.start().await?;
        let ids: Vec<String> = (0..devices).map(|i| format!("bench-{i:05}")).collect();
        let devices = stack.provision_many_in(&stack.db_url(), LANDLORD, &ids).await?;
        Ok(World { stack, devices, cluster })
    }

    pub fn pki(&self) -> PathBuf {
        self.stack.pki()
    }

    pub fn port(&self) -> u16 {
        self.stack.port
    }

    /// The embedded broker's plain loopback listener and its login (for the replay publisher).
    pub fn broker_v4(&self) -> Option<(std::net::SocketAddr, dampwatch_gateway::broker::BrokerLogin)> {
        let gateway = self.stack.gateway.as_ref()?;
        Some((gateway.broker_addrs()?.v4, gateway.broker_login()?))
    }

    /// A collector configuration for this world.
    pub fn collector_config(&self) -> Config {
        let mut c = self.stack.collector_config("collector", "");
        // Each simulated device sends as fast as it can, thousands of readings a minute: far
        // past a real device's hourly budget, which is not what is measured here.
        c.intake.device_readings_per_hour = u32::MAX;
        if let Some(cluster) = &self.cluster {
            c.upstream = cluster.upstream(Role::Collector);
        }
        c
    }

    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        self.stack.db().await
    }

    pub async fn shutdown(self) {
        self.stack.shutdown().await;
    }
}
