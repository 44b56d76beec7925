//! The `[api]` configuration section. Its defaults are the commented document
//! [`DEFAULT_CONFIG`], which the hosting service appends to its own default configuration.

use std::net::IpAddr;
use std::time::Duration;

use dampwatch_accounts::{LockoutPolicy, SessionPolicy};
use serde::{Deserialize, Serialize};

/// The commented default `[api]` section (a full table path, so a service can append it to
/// its configuration document as it is).
pub const DEFAULT_CONFIG: &str = r#"
# The landlord HTTP API: alerts, Awaab's Law cases and case events, SLA view, devices,
# webhook delivery log, OpenAPI document at /openapi.json. Keys: `dampwatch api-keys create`.
[api]
# Serve the API in this process. The collector serves it over HTTPS on its [http] address (its
# /metrics and /health are on the separate [metrics] address).
enabled = true
# Database connections kept for API requests. A request takes one only once its caller is
# authenticated, within its rate limits, and its whole body has arrived.
pool_size = 8
# Largest request body accepted (bytes); larger requests are answered 413.
max_body_bytes = 65536
# Once its body has arrived, a request that takes longer is answered 503, and its database
# statement is cancelled.
request_timeout = "10s"
# A client must send a request's headers within this time, or the connection is closed (also
# how long an idle kept-alive connection stays open). Applies when the API serves its own
# listener (dampwatch_api::serve, spawn_server), after the TLS handshake.
header_read_timeout = "10s"
# A client must send a request's whole body within this time, or it is answered 408.
body_timeout = "10s"
# A key's landlord is remembered this long, so most requests authenticate without the
# database: a revoked key stops working within this time. Unknown keys are remembered as
# unknown for as long. "0s" looks every key up on every request; at most "10m".
key_cache_ttl = "30s"
# Keys are looked up on connections of their own, so requests holding the pool cannot stop
# anyone from authenticating; waiting longer than key_lookup_timeout for one is answered 503.
key_lookup_connections = 2
key_lookup_timeout = "2s"
# Items per page when a list request gives no `limit`, and the most it may ask for.
default_page_size = 100
max_page_size = 1000
# Strict-Transport-Security max-age sent with every response.
hsts_max_age = "365days"
# Events may be dated at most this far after the server's time (clock skew of the client).
max_event_future_skew = "5m"
# An event recorded more than this after the instant it gives needs a `late_reason`, and is
# shown as recorded late beside the step it met: a deadline missed in practice must not pass
# as met on a date given after the fact. A day leaves room for the visit's notes to be typed
# up the next morning.
late_record_tolerance = "24h"
# The dashboard's devices page flags a device whose newest reading reports a supply below this
# (millivolts). The default suits a sensor on two 1.5 V cells (3 V fresh, about 2.5 V when a
# few weeks are left); set it for the devices in use.
low_battery_mv = 2500

# Token buckets: each holds `burst` requests and refills at `per_minute`; a request that finds
# its bucket empty is answered 429 with Retry-After, and counted
# (dampwatch_api_rate_limited_total). Per-source buckets need the peer address, which the
# API's own server (dampwatch_api::serve, spawn_server) gives every request.
[api.rate_limits]
# Per API key.
key_per_minute = 1200
key_burst = 100
# Per source address (an IPv6 source counts by its /64), whatever it sends.
source_per_minute = 6000
source_burst = 400
# Per source address, requests that fail authentication (no key, a wrong or revoked one):
# once these are spent, the address is answered 429 without its keys being looked up until
# the bucket refills, so guessing keys is slow and cheap to refuse.
failed_auth_per_minute = 30
failed_auth_burst = 10
# Addresses of reverse proxies in front of the API: for requests from them, the source is the
# last address in X-Forwarded-For that is not one of them. Without this, every request through
# a proxy counts as the proxy's.
trusted_proxies = []

# People's sessions (signed in with e-mail, password and, for admins and operators, TOTP). A
# session ends at whichever comes first: `absolute` after sign-in, or `idle` without a request.
[api.sessions]
absolute = "8h"
idle = "30m"

# After `threshold` failed sign-ins in a row an account is locked for `first`, each further
# lockout twice as long up to `longest`: never forever, so nobody can keep a person out by
# guessing at their address. A success clears the count.
[api.lockout]
threshold = 5
first = "1m"
longest = "1h"
"#;

/// The longest `key_cache_ttl` accepted: a revoked key must stop working soon.
pub const MAX_KEY_CACHE_TTL: Duration = Duration::from_secs(600);

/// The `[api]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Whether the hosting process serves the API at all.
    pub enabled: bool,
    /// Database connections in the pool.
    pub pool_size: usize,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Time limit of a request once its body has arrived.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// How long a key's owner (or its absence) is remembered.
    #[serde(with = "humantime_serde")]
    pub key_cache_ttl: Duration,
    /// Database connections reserved for key lookups.
    pub key_lookup_connections: usize,
    /// Longest wait for a key lookup.
    #[serde(with = "humantime_serde")]
    pub key_lookup_timeout: Duration,
    /// List page size when none is asked for.
    pub default_page_size: u32,
    /// Largest list page size a request may ask for.
    pub max_page_size: u32,
    /// `Strict-Transport-Security: max-age`.
    #[serde(with = "humantime_serde")]
    pub hsts_max_age: Duration,
    /// How far in the future an event's `at` may be.
    #[serde(with = "humantime_serde")]
    pub max_event_future_skew: Duration,
    /// How long after its instant an event may be recorded without a reason.
    #[serde(with = "humantime_serde")]
    pub late_record_tolerance: Duration,
    /// Supply voltage (mV) below which a device's battery is shown as low.
    pub low_battery_mv: i32,
    /// `[api.rate_limits]`.
    pub rate_limits: RateLimitConfig,
    /// `[api.sessions]`.
    pub sessions: SessionPolicy,
    /// `[api.lockout]`.
    pub lockout: LockoutPolicy,
}

/// The `[api.rate_limits]` section: token buckets per key and per source address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub key_per_minute: u32,
    pub key_burst: u32,
    pub source_per_minute: u32,
    pub source_burst: u32,
    pub failed_auth_per_minute: u32,
    pub failed_auth_burst: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// An `[api]` section that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiConfigError {
    #[error("[api] pool_size must be at least 1")]
    EmptyPool,
    #[error("[api] default_page_size ({default}) must be between 1 and max_page_size ({max})")]
    PageSize { default: u32, max: u32 },
    #[error("[api] request_timeout must be at least one millisecond")]
    NoTimeout,
    #[error("[api] max_body_bytes must be at least 1024")]
    TinyBody,
    #[error("[api] {0} must be at least one millisecond")]
    NoTime(&'static str),
    #[error("[api] key_cache_ttl must be at most {} s: it is how long a revoked key keeps working", MAX_KEY_CACHE_TTL.as_secs())]
    LongKeyCache,
    #[error("[api] key_lookup_connections must be at least 1")]
    NoKeyLookup,
    #[error("[api.sessions] idle must be at least a second and absolute at least idle")]
    SessionTimes,
    #[error("[api.lockout] threshold and first must be above zero and longest at least first")]
    Lockout,
    #[error("[api.rate_limits] {0} must be at least 1")]
    NoRate(&'static str),
}

/// A document holding only the `[api]` section, for parsing it alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    api: ApiConfig,
}

impl ApiConfig {
    /// `text` (a TOML document with an `[api]` table, or empty) merged over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, dampwatch_conf::ParseError> {
        dampwatch_conf::from_toml::<Document>(DEFAULT_CONFIG, text).map(|d| d.api)
    }

    /// Refuses values the service cannot run with.
    pub fn validate(&self) -> Result<(), ApiConfigError> {
        if self.pool_size == 0 {
            return Err(ApiConfigError::EmptyPool);
        }
        if self.default_page_size == 0 || self.default_page_size > self.max_page_size {
            return Err(ApiConfigError::PageSize {
                default: self.default_page_size,
                max: self.max_page_size,
            });
        }
        if self.request_timeout < Duration::from_millis(1) {
            return Err(ApiConfigError::NoTimeout);
        }
        if self.max_body_bytes < 1024 {
            return Err(ApiConfigError::TinyBody);
        }
        let times = [
            ("header_read_timeout", self.header_read_timeout),
            ("body_timeout", self.body_timeout),
            ("key_lookup_timeout", self.key_lookup_timeout),
        ];
        if let Some((name, _)) = times.iter().find(|(_, t)| *t < Duration::from_millis(1)) {
            return Err(ApiConfigError::NoTime(name));
        }
        if self.key_cache_ttl > MAX_KEY_CACHE_TTL {
            return Err(ApiConfigError::LongKeyCache);
        }
        if self.sessions.idle < Duration::from_secs(1) || self.sessions.absolute < self.sessions.idle {
            return Err(ApiConfigError::SessionTimes);
        }
        if self.lockout.threshold == 0
            || self.lockout.first.is_zero()
            || self.lockout.longest < self.lockout.first
        {
            return Err(ApiConfigError::Lockout);
        }
        if self.key_lookup_connections == 0 {
            return Err(ApiConfigError::NoKeyLookup);
        }
        let limits = &self.rate_limits;
        let rates = [
            ("key_per_minute", limits.key_per_minute),
            ("key_burst", limits.key_burst),
            ("source_per_minute", limits.source_per_minute),
            ("source_burst", limits.source_burst),
            ("failed_auth_per_minute", limits.failed_auth_per_minute),
            ("failed_auth_burst", limits.failed_auth_burst),
        ];
        if let Some((name, _)) = rates.iter().find(|(_, n)| *n == 0) {
            return Err(ApiConfigError::NoRate(name));
        }
        Ok(())
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        dampwatch_conf::defaults::<Document>(DEFAULT_CONFIG).api
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_default_parses_and_is_valid() {
        let config = ApiConfig::default();
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.hsts_max_age, Duration::from_secs(365 * 86_400));
        assert_eq!(config.key_cache_ttl, Duration::from_secs(30));
        assert_eq!(config.body_timeout, Duration::from_secs(10));
        assert!(config.rate_limits.trusted_proxies.is_empty());
        config.validate().unwrap();
    }

    #[test]
    fn a_file_overrides_single_keys() {
        let config = ApiConfig::from_toml("[api]\npool_size = 3\n").unwrap();
        assert_eq!(config.pool_size, 3);
        assert_eq!(config.max_page_size, 1000);
    }

    #[test]
    fn misspelt_keys_are_refused() {
        let err = ApiConfig::from_toml("[api]\npool = 3\n").unwrap_err();
        assert!(err.to_string().contains("pool"), "{err}");
    }

    #[test]
    fn unusable_values_are_refused() {
        let mut config = ApiConfig { default_page_size: 5000, ..ApiConfig::default() };
        assert!(matches!(config.validate(), Err(ApiConfigError::PageSize { .. })));
        config.default_page_size = 10;
        config.pool_size = 0;
        assert_eq!(config.validate(), Err(ApiConfigError::EmptyPool));
        let mut config = ApiConfig { body_timeout: Duration::ZERO, ..ApiConfig::default() };
        assert_eq!(config.validate(), Err(ApiConfigError::NoTime("body_timeout")));
        config.body_timeout = Duration::from_secs(1);
        config.key_cache_ttl = Duration::from_secs(3600);
        assert_eq!(config.validate(), Err(ApiConfigError::LongKeyCache));
        config.key_cache_ttl = Duration::ZERO;
        config.validate().expect("no cache at all is allowed");
        config.rate_limits.failed_auth_burst = 0;
        assert_eq!(config.validate(), Err(ApiConfigError::NoRate("failed_auth_burst")));
    }

    #[test]
    fn rate_limits_and_trusted_proxies_are_read_from_their_table() {
        let config = ApiConfig::from_toml(
            "[api.rate_limits]\nkey_burst = 5\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n",
        )
        .unwrap();
        assert_eq!(config.rate_limits.key_burst, 5);
        assert_eq!(config.rate_limits.key_per_minute, 1200);
        assert_eq!(config.rate_limits.trusted_proxies.len(), 2);
        assert!(ApiConfig::from_toml("[api.rate_limits]\ntrusted_proxies = [\"proxy\"]\n").is_err());
    }
}
