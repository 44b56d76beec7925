//! The gateway's per-device and per-source limits, as a stack sets them.

use std::time::Duration;

/// How strict the gateway's limits are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limits {
    /// The shipped defaults: what a deployment runs with.
    #[default]
    Production,
    /// Every simulated device connects from 127.0.0.1 and publishes far faster than a real one;
    /// limits that protect a deployment would only measure themselves.
    Relaxed,
}

/// Opens the gateway's per-source and per-device limits wide, and shortens its drain.
pub fn relaxed_limits(g: &mut dampwatch_gateway::Config) {
    g.limits.connections_per_second_per_source = 100_000.0;
    g.limits.connection_burst_per_source = 100_000.0;
    g.limits.device_connects_per_minute = 100_000;
    g.limits.device_messages_per_second = 100_000.0;
    g.limits.device_message_burst = 100_000.0;
    g.limits.drain_timeout = Duration::from_millis(200);
}
