//! The `[alerts]` configuration section: the hazard worker, the webhook sender, the hazard
//! engine and the Awaab's Law clock. The defaults are the commented document
//! [`DEFAULT_CONFIG`], which a service appends to its own default configuration.

use std::time::Duration;

use dampwatch_clock::ClockConfig;
use dampwatch_indicators::EngineConfig;
use dampwatch_wire::Backoff;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::address_policy::AddressPolicy;

/// The commented default `[alerts]` section (full table paths, so it can be appended to a
/// service's configuration document as it is).
pub const DEFAULT_CONFIG: &str = r#"
# Hazard alerts, Awaab's Law cases and landlord webhooks.
[alerts]
# Run the hazard worker and the webhook sender in this process.
enabled = true

[alerts.worker]
# Hazard loops in this process, each with its own connection and transaction (they share the
# inbox safely; more than one keeps alerts flowing while another loop waits on the database).
loops = 2
# Inbox rows (committed reading ranges) taken per transaction.
batch_size = 200
# Poll interval when no notification arrives (new readings normally wake the worker at once).
poll_interval = "1s"
# How often every room is re-judged for "no data" (offline) at the current time
# (the period is [alerts.engine] offline_after).
offline_check_interval = "5m"
# Back-off after a database error (doubles up to the maximum).
retry_initial = "200ms"
retry_max = "10s"

[alerts.stories]
# An alert that clears and comes back within this period (data time from its clear to the new
# start) is opened again as the same alert, with a new episode, instead of a new alert. Not
# after its case was concluded: a recurrence then is a new alert (and a new case).
quiet_period = "7d"

[alerts.webhooks]
# Outbox rows claimed per round.
batch_size = 50
# Parallel requests per round.
concurrency = 16
# Poll interval when no notification arrives.
poll_interval = "1s"
# Per-request time limit (connect + response).
request_timeout = "10s"
# Retry back-off: first retry after `backoff_initial`, doubling up to `backoff_max`.
backoff_initial = "1s"
backoff_max = "1h"
# After this many failed attempts the message is dead-lettered for an operator.
max_attempts = 12
# A claimed message whose sender vanished is retried after this long.
lease = "2m"
# Development only: webhooks may go to this machine's loopback address (127.0.0.0/8, [::1],
# localhost), over plain http:// too. Otherwise every webhook goes over https:// to a public
# address.
dev_loopback_http = false
# Networks webhooks may reach although they are not public (private, loopback, link-local,
# carrier-grade NAT, ...), as CIDRs, e.g. ["10.20.0.0/16"] for a receiver on the operator's own
# network. Every address a receiver's name resolves to is checked at each delivery. The cloud
# metadata addresses (169.254.169.254 and the like) stay refused inside these too.
allowed_networks = []
# The file (64 hexadecimal digits, mode 0600) whose key seals endpoints' signing secrets in the
# database (and, in the collector, people's TOTP secrets), made at first use; back it up with
# the PKI: without it every endpoint must be registered again and every person enrol their
# authenticator app again. The collector puts it in its PKI directory (secrets/sealing.key)
# when this is empty. Empty elsewhere: only secrets stored in clear before sealing existed can
# be read.
secrets_key = ""

[alerts.engine]
# Hazard engine (dampwatch-indicators). The rules default to the built-in rule set; a
# [[alerts.engine.rules]] list replaces it whole.
material = "sensitive"
f_rsi = 0.75
condensation_warning_margin_c = 2.0
max_gap = "2h"
reorder_window = "6h"
# A stored reading that arrives after its room's state has moved on (a sensor's backlog after
# an outage; devices keep at least 48 h) is placed in time order if it is at most this far
# behind the room's newest reading: the room's indicators and alerts are worked out again from
# a checkpoint before it. Older readings are left out of the indicators and counted (metrics
# and the room's coverage). A longer horizon keeps more checkpoints and makes a replay longer.
late_horizon = "72h"
# No reading for this long raises "device offline" (the one place this period is set). Another
# value than 48 h is recorded in the rule set version stored with every alert.
offline_after = "48h"

[alerts.clock]
# Awaab's Law clock (dampwatch-clock): calendar additions/removals, phase dates, statuses.
# [[alerts.clock.calendar.add]]
# date = "2027-06-07"
# title = "Extra bank holiday"
[alerts.clock.rules.phase_effective]
# phase_2 = "2026-11-30"

[alerts.clock.status]
due_soon_fraction = 0.25
due_soon_working_days = 1
triage_review_hours = 4
"#;

/// The `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Whether the worker runs; with `false`, [`crate::start`] returns an idle worker.
    pub enabled: bool,
    pub worker: WorkerConfig,
    pub webhooks: WebhookConfig,
    /// How alerts that come and go are told as one story.
    pub stories: StoriesConfig,
    /// The hazard engine's configuration.
    #[serde(default)]
    pub engine: EngineConfig,
    /// The clock's configuration.
    #[serde(default)]
    pub clock: ClockConfig,
}

/// `[alerts.worker]`: the hazard worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    pub loops: u32,
    pub batch_size: u32,
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub offline_check_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

/// `[alerts.stories]`: one alert per room and hazard for a condition that comes and goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoriesConfig {
    /// A clear followed by a new start within this period (data time) re-opens the alert.
    #[serde(with = "humantime_serde")]
    pub quiet_period: Duration,
}

/// `[alerts.webhooks]`: the webhook sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub batch_size: u32,
    pub concurrency: u32,
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Development only: loopback receivers, over plain http too.
    pub dev_loopback_http: bool,
    /// Non-public networks the operator lets webhooks reach.
    pub allowed_networks: Vec<IpNet>,
    /// The key that seals signing secrets (see [`crate::secrets`]); empty: none.
    pub secrets_key: std::path::PathBuf,
}

impl WorkerConfig {
    /// The back-off after a database error.
    pub fn retry_backoff(&self) -> Backoff {
        Backoff::doubling(self.retry_initial, self.retry_max)
    }
}

impl WebhookConfig {
    /// The wait between a webhook's failed attempts.
    pub fn backoff(&self) -> Backoff {
        Backoff::doubling(self.backoff_initial, self.backoff_max)
    }

    /// The addresses webhooks may be sent to.
    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy {
            allowed_networks: self.allowed_networks.iter().map(IpNet::trunc).collect(),
            allow_loopback: self.dev_loopback_http,
        }
    }
}

/// A configuration the worker refuses to run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid alerts configuration: {0}")]
    Invalid(String),
    #[error("alerts.engine: {0}")]
    Engine(#[from] dampwatch_indicators::ConfigError),
    #[error("alerts.clock: {0}")]
    Clock(#[from] dampwatch_clock::ConfigError),
}

/// A document holding only the `[alerts]` section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    alerts: AlertsConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        dampwatch_conf::defaults::<Document>(DEFAULT_CONFIG).alerts
    }
}

impl AlertsConfig {
    /// Parses a document's `[alerts]` section merged over the defaults (other top-level
    /// tables are not allowed here; a service parsing its whole file embeds [`AlertsConfig`]
    /// as a field instead).
    pub fn from_toml(text: &str) -> Result<Self, dampwatch_conf::ParseError> {
        dampwatch_conf::from_toml::<Document>(DEFAULT_CONFIG, text).map(|d| d.alerts)
    }

    /// Checks values no type can rule out.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        let w = &self.worker;
        if w.batch_size == 0 || w.loops == 0 {
            return bad("alerts.worker.batch_size and loops must be at least 1");
        }
        if w.poll_interval.is_zero() || w.offline_check_interval.is_zero() {
            return bad("alerts.worker intervals must be above zero");
        }
        if w.retry_initial.is_zero() || w.retry_max < w.retry_initial {
            return bad("alerts.worker.retry_initial must be above zero and not above retry_max");
        }
        let h = &self.webhooks;
        if h.batch_size == 0 || h.concurrency == 0 || h.max_attempts == 0 {
            return bad("alerts.webhooks batch_size, concurrency and max_attempts must be at least 1");
        }
        if h.poll_interval.is_zero() || h.request_timeout.is_zero() {
            return bad("alerts.webhooks intervals must be above zero");
        }
        if h.backoff_initial.is_zero() || h.backoff_max < h.backoff_initial {
            return bad("alerts.webhooks.backoff_initial must be above zero and not above backoff_max");
        }
        if self.stories.quiet_period > Duration::from_secs(366 * 86_400) {
            return bad("alerts.stories.quiet_period must be at most a year");
        }
        if h.lease <= h.request_timeout {
            return bad("alerts.webhooks.lease must be longer than request_timeout");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_default_parses_and_is_valid() {
        let c = AlertsConfig::default();
        c.validate().expect("defaults are valid");
        assert_eq!(c.engine, EngineConfig::default(), "engine defaults are the crate's defaults");
        assert_eq!(c.clock, ClockConfig::default(), "clock defaults are the crate's defaults");
        assert_eq!(c.engine.offline_after, Duration::from_secs(48 * 3600));
        assert_eq!(c.stories.quiet_period, Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn a_section_merges_over_the_defaults() {
        let c = AlertsConfig::from_toml("[alerts.webhooks]\nmax_attempts = 3\n").expect("parses");
        assert_eq!(c.webhooks.max_attempts, 3);
        assert_eq!(c.webhooks.batch_size, 50);
    }

    #[test]
    fn webhooks_reach_only_public_addresses_unless_opened() {
        let c = AlertsConfig::default();
        assert!(!c.webhooks.dev_loopback_http);
        assert_eq!(c.webhooks.address_policy(), AddressPolicy::default());
        let c = AlertsConfig::from_toml(
            "[alerts.webhooks]\ndev_loopback_http = true\nallowed_networks = [\"10.20.0.0/16\", \"fd00:1::/64\"]\n",
        )
        .expect("parses");
        let policy = c.webhooks.address_policy();
        assert!(policy.allow_loopback);
        assert_eq!(policy.check("10.20.1.2".parse().expect("ip")), Ok(()));
        assert!(AlertsConfig::from_toml("[alerts.webhooks]\nallowed_networks = [\"10.20.0.0\"]\n").is_err());
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        assert!(AlertsConfig::from_toml("[alerts.webhooks]\nmax_attempt = 3\n").is_err());
        let c = AlertsConfig::from_toml("[alerts.webhooks]\nlease = \"1s\"\n").expect("parses");
        assert!(c.validate().is_err());
    }
}
