//! Collector configuration: TOML with working defaults. The defaults are the commented file
//! below, printed by `dampwatch-collector print-config`.

use crate::admission::DeviceLimits;
use dampwatch_wire::limits::MAX_READINGS_PER_UPLINK;
use dampwatch_wire::Backoff;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use dampwatch_conf::ConfigError;

/// The commented default configuration of the collector's own sections; [`default_config`]
/// adds those of the hazard worker (`[alerts]`) and the HTTP API (`[api]`) it runs.
pub const COLLECTOR_DEFAULTS: &str = r#"# dampwatch-collector configuration. Every key is optional; these are the defaults.

[database]
# PostgreSQL connection URL, e.g. "postgres://dampwatch@db.example:5432/dampwatch". The
# collector runs the schema's migrations with it at start, so it names the schema's owner.
# Empty: run a private PostgreSQL cluster under data_dir (initialised on first use); the
# collector and the API then each log in as their own role (below), made for them.
url = ""
# With url: the login the collector works as once migrated, e.g.
# "postgres://dampwatch_collector@db.example/dampwatch" (the migrations make the role without
# LOGIN; give it LOGIN and a password). It reads and writes rows and owns nothing, so it cannot
# change the schema or switch off the case history's append-only triggers. Empty: url.
collector_url = ""
# With url: the login the landlord API connects as, e.g.
# "postgres://dampwatch_api@db.example/dampwatch" (made the same way). It can reach landlords'
# data only through the tenant role's row-level security. Empty: url (warned about at start).
api_url = ""
# Where the private cluster lives when url is empty.
data_dir = "dampwatch-data"

[mqtt]
# The gateway, reached with mutual TLS and the collector's service certificate.
host = "127.0.0.1"
port = 8883
# Unique per collector process; must be the certificate's name or start with "<name>-".
client_id = "collector"
# Empty: this collector alone takes every uplink, with a persistent session (the broker keeps
# what arrives while it restarts). A name: the collectors in that group share the uplinks
# (MQTT shared subscription, round robin); their sessions are then clean (see the collector's
# intake docs), and the devices resend whatever a collector that died was holding.
share_group = ""
keep_alive = "30s"

[tls]
# Files made by `dampwatch pki init` (relative paths are resolved against this file).
ca = "certs/ca.pem"
cert = "certs/services/collector/cert.pem"
key = "certs/services/collector/key.pem"
# The PKI directory whose newest downlink key (`downlink/key-N.pem`) signs every commit
# acknowledgement and configuration sent to a device. The collector does not start without one
# (`dampwatch pki init` makes the first, `dampwatch pki rotate-downlink-key` the next).
downlink_keys = "certs"

[audit]
# The PKI directory whose newest audit key (`audit/key-N.pem`, made by `dampwatch pki init`,
# the next by `dampwatch pki rotate-audit-key`) signs the head of the audit log. Without one
# the log is still hash-chained but nothing signs it (logged at start).
keys = "certs"
# How often the head of the audit log is signed (and once at start). Entries after the last
# signature are protected by the hash chain alone.
checkpoint_every = "1h"

[intake]
# A batch is committed when it holds this many uplinks or after linger, whichever comes first.
# The broker keeps at most 100 unacknowledged messages in flight per subscriber: a batch of
# half that lets the next batch arrive while this one commits.
max_batch_uplinks = 50
linger = "20ms"
# Sample times further ahead of the arrival time than this are corrected (kept, flagged).
max_future_skew = "1h"
# Back-off while PostgreSQL is unreachable or refuses a batch (doubles up to the maximum).
retry_initial = "200ms"
retry_max = "10s"
# A batch transaction that has not committed by then is abandoned (the connection is dropped,
# so the server rolls it back) and retried on a new connection: a hung connection must not
# stop the intake for ever.
commit_timeout = "60s"
# How long a device's registry entry (key, status) is cached before it is read again; a revoked
# device is refused at the latest this long after `dampwatch devices revoke`.
registry_cache = "10s"
# Per device and hour of arrival, all boots together (a device numbers its boots itself, so a
# stolen key could start as many as it likes), so that no device can crowd out the others.
# New readings stored: an uplink that would go past this is quarantined (over_budget) and not
# confirmed, so a real device keeps its readings and sends them again later. A real device
# sends at most 60 an hour (one a minute, its shortest interval) and, once after an outage, its
# whole queue of 288: under 350. The simulated homes of `dampwatch demo` and `dampwatch sim`
# live 600 times faster than real time by default, one reading a second: 3,600 an hour.
device_readings_per_hour = 5000
# Quarantine rows kept; refusals beyond this are only counted (metrics, `dampwatch devices
# list`), so no device can fill the quarantine.
device_quarantine_per_hour = 100

[retention]
# How long each class of data is kept comes from the retention policy in force
# (`dampwatch retention policy` prints it with each period's basis and source; readings and
# their signed uplinks 6 years, rejected messages 90 days, ...). Nothing of a home with an open
# case or a legal hold (`dampwatch holds`) is deleted. Uncomment to override a period for this
# installation ("0s" keeps for ever); `dampwatch retention plan` marks overridden periods.
# Closed cases and the audit log are never cut closer than the database's floors (6 and 7
# years, `retention_floors`, which only the database owner may lower), whatever is set here.
# readings = "6years"
# rollups = "6years"
# quarantine = "90d"
# closed_cases = "6years"
# How often the retention job runs, and how many rows one of its statements deletes (small
# statements keep locks short and never hold up ingest for long).
interval = "1h"
chunk_rows = 10000

[http]
# The public listener: the landlord HTTP API (/v1/..., /openapi.json) and the dashboard's pages
# (/, /cases/..., /sign-in, ...) when [api] enabled, and nothing else. HTTPS (TLS 1.3 or 1.2) with the certificate below. Empty to disable.
address = "127.0.0.1:9884"
# The listener's certificate (chain, leaf first) and private key, read at start. `dampwatch pki
# init` makes one for localhost, 127.0.0.1 and ::1; for the names clients reach the API by, run
# `dampwatch pki issue-web --dns api.example.org --ip 192.0.2.7 --force`. Relative paths are
# resolved against this file.
tls_cert = "certs/web/cert.pem"
tls_key = "certs/web/key.pem"
# A client must complete its TLS handshake within this time, or its connection is closed
# (counted in dampwatch_api_tls_handshakes_failed_total).
handshake_timeout = "10s"
# Serve plain HTTP instead of HTTPS: only behind a TLS-terminating reverse proxy (list it in
# [api.rate_limits] trusted_proxies), since requests carry API keys and tenants' data. Warned
# about at start when the address is not loopback.
plain_http = false

[metrics]
# Prometheus metrics (/metrics) and health (/health) in plain HTTP, for a local scraper and
# health checker: keep it on loopback or a private network. Empty to disable.
address = "127.0.0.1:9885"
"#;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: Database,
    pub mqtt: Mqtt,
    pub tls: Tls,
    pub audit: Audit,
    pub intake: Intake,
    pub retention: Retention,
    pub http: Http,
    pub metrics: MetricsListener,
    pub alerts: dampwatch_alerts::AlertsConfig,
    pub api: dampwatch_api::ApiConfig,
    /// People's e-mail notifications (off without an SMTP server).
    pub email: dampwatch_alerts::EmailConfig,
    pub upstream: dampwatch_cluster::UpstreamConfig,
}

/// The whole commented default configuration, as `print-config` prints it.
pub fn default_config() -> String {
    format!(
        "{COLLECTOR_DEFAULTS}{}{}{}{}",
        dampwatch_cluster::DEFAULT_CONFIG,
        dampwatch_alerts::DEFAULT_CONFIG,
        dampwatch_api::DEFAULT_CONFIG,
        dampwatch_alerts::email::DEFAULT_CONFIG
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
    pub collector_url: String,
    pub api_url: String,
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
    pub downlink_keys: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    pub keys: PathBuf,
    #[serde(with = "humantime_serde")]
    pub checkpoint_every: Duration,
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
    pub commit_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub registry_cache: Duration,
    pub device_readings_per_hour: u32,
    pub device_quarantine_per_hour: u32,
}

impl Intake {
    /// The back-off while PostgreSQL is unreachable or refuses a batch.
    pub fn retry_backoff(&self) -> Backoff {
        Backoff::doubling(self.retry_initial, self.retry_max)
    }

    /// The per-device limits the store applies.
    pub fn device_limits(&self) -> DeviceLimits {
        DeviceLimits {
            readings_per_hour: self.device_readings_per_hour,
            quarantine_per_hour: self.device_quarantine_per_hour,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Overrides of the retention policy's periods (`None`: the policy's; zero: for ever).
    #[serde(default, with = "humantime_serde::option")]
    pub readings: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub rollups: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub quarantine: Option<Duration>,
    #[serde(default, with = "humantime_serde::option")]
    pub closed_cases: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    pub chunk_rows: i64,
}

/// `[http]`: the public listener of the landlord API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub address: String,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// HTTP without TLS, for a deployment behind a TLS-terminating proxy.
    pub plain_http: bool,
}

/// `[metrics]`: the private listener of `/metrics` and `/health`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsListener {
    pub address: String,
}

impl Default for Config {
    fn default() -> Self {
        dampwatch_conf::defaults(&default_config())
    }
}

impl Config {
    /// Reads a file over the defaults and checks it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut cfg: Config = dampwatch_conf::load(&default_config(), path)?;
        for p in [
            &mut cfg.tls.ca,
            &mut cfg.tls.cert,
            &mut cfg.tls.key,
            &mut cfg.tls.downlink_keys,
            &mut cfg.audit.keys,
            &mut cfg.http.tls_cert,
            &mut cfg.http.tls_key,
            &mut cfg.database.data_dir,
        ] {
            dampwatch_conf::resolve(p, path);
        }
        for p in
            [&mut cfg.upstream.password_file, &mut cfg.upstream.ca_file, &mut cfg.alerts.webhooks.secrets_key]
        {
            if !p.as_os_str().is_empty() {
                dampwatch_conf::resolve(p, path);
            }
        }
        if !cfg.email.ca_file.is_empty() {
            let mut ca = PathBuf::from(&cfg.email.ca_file);
            dampwatch_conf::resolve(&mut ca, path);
            cfg.email.ca_file = ca.to_string_lossy().into_owned();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, dampwatch_conf::ParseError> {
        dampwatch_conf::from_toml(&default_config(), text)
    }

    /// The database at `owner` (migrated at start as its owner), the collector's work and the
    /// API each on their login in `logins`.
    pub fn with_database(mut self, owner: &str, logins: &dampwatch_store::roles::ServiceUrls) -> Self {
        self.database.url = owner.to_owned();
        self.database.collector_url = logins.collector.clone();
        self.database.api_url = logins.api.clone();
        self
    }

    /// Paths of the collector's files in a `dampwatch pki init` directory (its certificate and
    /// key, the CA, its downlink signing keys, the audit checkpoint key and the API listener's
    /// HTTPS certificate).
    pub fn with_pki_dir(mut self, dir: &Path) -> Self {
        let paths = dampwatch_pki::Paths::new(dir);
        self.tls.ca = paths.ca_cert();
        self.tls.cert = paths.collector_cert();
        self.tls.key = paths.collector_key();
        self.tls.downlink_keys = dir.to_owned();
        self.audit.keys = dir.to_owned();
        self.http.tls_cert = paths.web_cert();
        self.http.tls_key = paths.web_key();
        self
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if let Err(e) = self.email.validate() {
            return Err(ConfigError::Invalid(e.0));
        }
        if let Some(problem) = self.upstream.problem() {
            return bad(problem);
        }
        if self.database.url.is_empty()
            && !(self.database.collector_url.is_empty() && self.database.api_url.is_empty())
        {
            return bad(
                "database.collector_url and database.api_url go with database.url (the private cluster makes its own logins)",
            );
        }
        if self.intake.max_batch_uplinks == 0 {
            return bad("intake.max_batch_uplinks must be at least 1");
        }
        if self.audit.checkpoint_every.is_zero() {
            return bad("audit.checkpoint_every must be longer than zero");
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
        if self.intake.commit_timeout.is_zero() {
            return bad("intake.commit_timeout must be above zero");
        }
        // Below one full uplink, a device sending full uplinks would never be admitted.
        if (self.intake.device_readings_per_hour as usize) < MAX_READINGS_PER_UPLINK {
            return bad(&format!(
                "intake.device_readings_per_hour must be at least {MAX_READINGS_PER_UPLINK} (one full uplink)"
            ));
        }
        if self.intake.device_quarantine_per_hour == 0 {
            return bad("intake.device_quarantine_per_hour must be at least 1");
        }
        if self.http.handshake_timeout.is_zero() && !self.http.plain_http {
            return bad("http.handshake_timeout must be above zero");
        }
        if self.retention.interval.is_zero() || self.retention.chunk_rows < 1 {
            return bad("retention.interval must be above zero and retention.chunk_rows at least 1");
        }
        Ok(())
    }

    /// Whether the MQTT session survives disconnections (only outside a share group; see
    /// [`crate::intake`]).
    pub fn persistent_session(&self) -> bool {
        self.mqtt.share_group.is_empty()
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
    use dampwatch_wire::limits::DEVICE_QUEUE_CAPACITY;

    #[test]
    fn defaults_parse_and_are_valid() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.uplink_filter(), "dw/v1/+/+/up");
        assert!(c.persistent_session());
        let shared = Config::from_toml("[mqtt]\nshare_group = \"collectors\"\n").unwrap();
        assert_eq!(shared.uplink_filter(), "$share/collectors/dw/v1/+/+/up");
        assert!(!shared.persistent_session());
        assert!(c.database.url.is_empty(), "embedded PostgreSQL by default");
        assert!(!c.http.plain_http, "the API is served over HTTPS unless told otherwise");
        assert_ne!(c.http.address, c.metrics.address, "metrics have a listener of their own");
    }

    #[test]
    fn the_https_files_default_to_the_pki_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("collector.toml");
        std::fs::write(&file, "[http]\nhandshake_timeout = \"2s\"\n").unwrap();
        let c = Config::load(&file).unwrap();
        assert_eq!(c.http.tls_cert, dir.path().join("certs/web/cert.pem"));
        assert_eq!(c.http.tls_key, dir.path().join("certs/web/key.pem"));
        assert_eq!(c.http.handshake_timeout, Duration::from_secs(2));
        let c = Config::default().with_pki_dir(Path::new("/srv/pki"));
        assert_eq!(c.http.tls_cert, Path::new("/srv/pki/web/cert.pem"));
        assert_eq!(c.http.tls_key, Path::new("/srv/pki/web/key.pem"));
        let no_time = Config::from_toml("[http]\nhandshake_timeout = \"0s\"\n").unwrap();
        assert!(no_time.validate().unwrap_err().to_string().contains("handshake_timeout"));
    }

    #[test]
    fn the_default_budget_covers_a_real_device_catching_up() {
        // One reading a minute (the shortest interval) and a full queue after an outage, in one
        // hour; and the simulator's homes at their default 600 times real time.
        let limits = Config::default().intake.device_limits();
        assert!(limits.readings_per_hour as usize > 60 + DEVICE_QUEUE_CAPACITY);
        assert!(limits.readings_per_hour >= 3600);
        let small = Config::from_toml("[intake]\ndevice_readings_per_hour = 10\n").unwrap();
        assert!(small.validate().unwrap_err().to_string().contains("device_readings_per_hour"));
    }

    #[test]
    fn the_audit_log_is_signed_hourly_with_the_key_of_the_pki_directory() {
        let c = Config::default();
        assert_eq!(c.audit.checkpoint_every, Duration::from_secs(3600));
        assert_eq!(c.audit.keys, PathBuf::from("certs"));
        assert_eq!(c.with_pki_dir(Path::new("/srv/pki")).audit.keys, PathBuf::from("/srv/pki"));
        let never = Config::from_toml("[audit]\ncheckpoint_every = \"0s\"\n").unwrap();
        assert!(never.validate().unwrap_err().to_string().contains("checkpoint_every"));
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        assert!(Config::from_toml("[intake]\nmax_batch = 5\n").is_err());
        let c = Config::from_toml("[mqtt]\nshare_group = \"a/b\"\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("share_group"));
    }
}
