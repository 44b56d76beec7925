//! What the whole-stack tests share: the stack itself (`dampwatch-stack`: a temporary PKI, a
//! private PostgreSQL, the gateway on a free loopback port and the collector, all real and
//! in-process; every test gets its own, so tests run in parallel), the service binaries, the
//! hazard worker's test configuration and the webhook signature check.

mod binary;

pub use binary::binary;

pub use dampwatch_stack::{DeviceSpec, Limits, Stack, StackBuilder};

/// The hazard worker's configuration for tests: fast polls and retries, and plain http to
/// webhook receivers on 127.0.0.1 (the development flag).
pub fn fast_alerts_config() -> dampwatch_alerts::AlertsConfig {
    let mut c = dampwatch_alerts::AlertsConfig::default();
    c.worker.poll_interval = std::time::Duration::from_millis(100);
    c.webhooks.poll_interval = std::time::Duration::from_millis(100);
    c.webhooks.backoff_initial = std::time::Duration::from_millis(50);
    c.webhooks.backoff_max = std::time::Duration::from_millis(400);
    c.webhooks.request_timeout = std::time::Duration::from_secs(5);
    c.webhooks.lease = std::time::Duration::from_secs(30);
    c.webhooks.dev_loopback_http = true;
    c
}

/// Whether a recorded webhook request carries a valid signature made with `secret`, as a
/// landlord's receiver checks it.
pub fn signed_by(request: &dampwatch_testkit::Received, secret: &str) -> bool {
    let header = |name: &str| request.header(name);
    dampwatch_alerts::signature::verify_request(header, &request.body, secret.as_bytes(), request.unix_s)
        .is_ok()
}
