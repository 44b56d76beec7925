//! Collector configuration: TOML with working defaults. The defaults are the commented file
//! below, printed by `dampwatch-collector print-config`.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use dampwatch_conf::ConfigError;

/// The commented default configuration.
pub const DEFAULT_CONFIG: &str = r#"# dampwatch-collector configuration. Every key is optional; these are the defaults.

[database]
# PostgreSQL connection URL, e.g. "postgres://dampwatch@db.example:5432/dampwatch".
# Empty: run a private PostgreSQL cluster under data_dir (initialised on first use).
url = ""
# Where the private cluster lives when url is empty.
data_dir = "dampwatch-data"

[mqtt]
# The gateway, reached with mutual TLS and the collector's service certificate.
host = "127.0.0.1"
port = 8883
# Unique per collector process; must be the certificate's name or start with "<name>-".
client_id = "collector"
# Collectors in the same group share the uplinks (MQTT shared subscription); empty = every
# collector receives every uplink.
share_group = "collectors"
keep_alive = "30s"

[tls]
# Files made by `dampwatch pki init` (relative paths are resolved against this file).
ca = "certs/ca.pem"
cert = "certs/services/collector/cert.pem"
key = "certs/services/collector/key.pem"

[intake]
# A batch is committed when it holds this many uplinks or after linger, whichever comes first.
# The broker keeps at most 100 unacknowledged messages in flight per subscriber, so a batch
# larger than that never fills.
max_batch_uplinks = 100
linger = "20ms"
# Sample times further ahead of the arrival time than this are corrected (kept, flagged).
max_future_skew = "1h"
# Back-off while PostgreSQL is unreachable (doubles up to the maximum).
retry_initial = "200ms"
retry_max = "10s"
# How long a device's registry entry (key, status) is cached before it is read again; a revoked
# device is refused at the latest this long after `dampwatch devices revoke`.
registry_cache = "10s"

[quarantine]
# Rejected messages are kept this long, then deleted.
retention = "30d"

[http]
# Prometheus metrics (/metrics) and health (/health). Empty to disable.
address = "127.0.0.1:9884"
"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: Database,
    pub mqtt: Mqtt,
    pub tls: Tls,
    pub intake: Intake,
    pub quarantine: Quarantine,
    pub http: Http,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mqtt {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub share_group: String,
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    pub max_batch_uplinks: usize,
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    #[serde(with = "humantime_serde")]
    pub max_future_skew: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    #[serde(with = "humantime_serde")]
    pub registry_cache: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub address: String,
}

impl Default for Config {
    fn default() -> Self {
        dampwatch_conf::defaults(DEFAULT_CONFIG)
    }
}

impl Config {
    /// Reads a file over the defaults and checks it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = dampwatch_conf::load(DEFAULT_CONFIG, path)?;
        for p in [&mut cfg.tls.ca, &mut cfg.tls.cert, &mut cfg.tls.key, &mut cfg.database.data_dir] {
            dampwatch_conf::resolve(p, path);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, dampwatch_conf::ParseError> {
        dampwatch_conf::from_toml(DEFAULT_CONFIG, text)
    }

    /// Paths of the collector's files in a `dampwatch pki init` directory.
    pub fn with_pki_dir(mut self, dir: &Path) -> Self {
        self.tls.ca = dir.join("ca.pem");
        self.tls.cert = dir.join("services/collector/cert.pem");
        self.tls.key = dir.join("services/collector/key.pem");
        self
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.intake.max_batch_uplinks == 0 {
            return bad("intake.max_batch_uplinks must be at least 1");
        }
        if self.mqtt.client_id.is_empty() {
            return bad("mqtt.client_id must not be empty");
        }
        if self.intake.retry_initial.is_zero() || self.intake.retry_max < self.intake.retry_initial {
            return bad("intake.retry_initial must be above zero and not above retry_max");
        }
        if self.mqtt.share_group.contains(['/', '+', '#']) {
            return bad("mqtt.share_group must not contain '/', '+' or '#'");
        }
        Ok(())
    }

    /// The subscription filter for uplinks (shared when a group is set).
    pub fn uplink_filter(&self) -> String {
        let all = dampwatch_wire::topic::ALL_UPLINKS;
        if self.mqtt.share_group.is_empty() {
            all.to_string()
        } else {
            format!("$share/{}/{all}", self.mqtt.share_group)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_are_valid() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.uplink_filter(), "$share/collectors/dw/v1/+/+/up");
        assert!(c.database.url.is_empty(), "embedded PostgreSQL by default");
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(Config::from_toml("[intake]\nmax_batch = 5\n").is_err());
        let c = Config::from_toml("[mqtt]\nshare_group = \"a/b\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("share_group"));
    }
}
