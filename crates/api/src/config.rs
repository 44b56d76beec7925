//! The `[api]` configuration section. Its defaults are the commented document
//! [`DEFAULT_CONFIG`], which the hosting service appends to its own default configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The commented default `[api]` section (a full table path, so a service can append it to
/// its configuration document as it is).
pub const DEFAULT_CONFIG: &str = r#"
# The landlord HTTP API: alerts, Awaab's Law cases and case events, SLA view, devices,
# webhook delivery log, OpenAPI document at /openapi.json. Keys: `dampwatch api-keys create`.
[api]
# Serve the API in this process. The collector serves it on its [http] address, beside
# /metrics and /health; put a TLS-terminating proxy in front of it for anything but loopback.
enabled = true
# Database connections kept for API requests.
pool_size = 8
# Largest request body accepted (bytes); larger requests are answered 413.
max_body_bytes = 65536
# A request that takes longer is answered 503, and its database statement is cancelled.
request_timeout = "10s"
# Items per page when a list request gives no `limit`, and the most it may ask for.
default_page_size = 100
max_page_size = 1000
# Strict-Transport-Security max-age sent with every response.
hsts_max_age = "365days"
# Events may be dated at most this far after the server's time (clock skew of the client).
max_event_future_skew = "5m"
"#;

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
    /// Time limit of a request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
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
    }
}
