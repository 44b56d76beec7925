//! Device settings and the validation of the configuration downlink.
//!
//! A config arrives from the network, so every field is checked against a safe range before it
//! is used: a typo on the server must not make a device sample every millisecond (flat battery)
//! or never (no readings). An out-of-range field is ignored and counted; the others still apply.

use core::ops::RangeInclusive;

use crate::proto::{DeviceConfig, MAX_BATCH};

/// Allowed seconds between samples: one minute to one day.
pub const SAMPLE_INTERVAL_S: RangeInclusive<u32> = 60..=86_400;
/// Allowed seconds to wait for a commit acknowledgement before resending.
pub const ACK_TIMEOUT_S: RangeInclusive<u32> = 10..=3_600;
/// Allowed readings per uplink: at least one, at most what always fits one uplink.
pub const BATCH_SIZE: RangeInclusive<u32> = 1..=MAX_BATCH as u32;
/// Wall-clock times a config may set (2020-01-01 to 2100-01-01 UTC, in ms): anything else is
/// a broken server clock, and stamping readings with it would be worse than uptime.
pub const CLOCK_MS: RangeInclusive<u64> = 1_577_836_800_000..=4_102_444_800_000;

/// Largest step back a config may make to a clock that is already set. The config is a
/// retained message, so after a reconnect the device may be handed a `time_ms` that is hours or
/// days old; following it would stamp new readings with the past. Drift corrections are far
/// smaller than this.
pub const CLOCK_MAX_STEP_BACK_MS: u64 = 3_600_000;

pub const DEFAULT_SAMPLE_INTERVAL_S: u32 = 600;
pub const DEFAULT_ACK_TIMEOUT_S: u32 = 300;

/// Which setting was out of its safe range, and the refused value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("sample interval {0} s is outside 60..=86400")]
    SampleInterval(u32),
    #[error("batch size {0} is outside 1..={MAX_BATCH}")]
    MaxBatch(u32),
    #[error("ack timeout {0} s is outside 10..=3600")]
    AckTimeout(u32),
}

/// Validated device settings. The fields are private so that a `Config` is always in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    sample_interval_s: u32,
    max_batch: u32,
    ack_timeout_s: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sample_interval_s: DEFAULT_SAMPLE_INTERVAL_S,
            max_batch: MAX_BATCH as u32,
            ack_timeout_s: DEFAULT_ACK_TIMEOUT_S,
        }
    }
}

impl Config {
    pub fn new(sample_interval_s: u32, max_batch: u32, ack_timeout_s: u32) -> Result<Self, ConfigError> {
        Config::default()
            .with_sample_interval_s(sample_interval_s)?
            .with_max_batch(max_batch)?
            .with_ack_timeout_s(ack_timeout_s)
    }

    pub fn with_sample_interval_s(mut self, s: u32) -> Result<Self, ConfigError> {
        if !SAMPLE_INTERVAL_S.contains(&s) {
            return Err(ConfigError::SampleInterval(s));
        }
        self.sample_interval_s = s;
        Ok(self)
    }

    pub fn with_max_batch(mut self, n: u32) -> Result<Self, ConfigError> {
        if !BATCH_SIZE.contains(&n) {
            return Err(ConfigError::MaxBatch(n));
        }
        self.max_batch = n;
        Ok(self)
    }

    pub fn with_ack_timeout_s(mut self, s: u32) -> Result<Self, ConfigError> {
        if !ACK_TIMEOUT_S.contains(&s) {
            return Err(ConfigError::AckTimeout(s));
        }
        self.ack_timeout_s = s;
        Ok(self)
    }

    pub fn sample_interval_s(&self) -> u32 {
        self.sample_interval_s
    }

    pub fn max_batch(&self) -> u32 {
        self.max_batch
    }

    pub fn ack_timeout_s(&self) -> u32 {
        self.ack_timeout_s
    }

    pub fn sample_interval_ms(&self) -> u64 {
        u64::from(self.sample_interval_s) * 1000
    }

    pub fn ack_timeout_ms(&self) -> u64 {
        u64::from(self.ack_timeout_s) * 1000
    }
}

/// What a configuration downlink changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigReport {
    /// Fields applied (a zero field means "keep" and counts as neither).
    pub applied: u8,
    /// Fields outside their safe range, ignored.
    pub rejected: u8,
    /// The wall-clock time to set, if the config carried a valid one.
    pub clock_ms: Option<u64>,
}

/// Applies every valid non-zero field of `downlink` to `config`; the clock is returned for the
/// caller to set, since only it knows the current uptime.
pub fn apply(config: &mut Config, downlink: &DeviceConfig) -> ConfigReport {
    let mut report = ConfigReport::default();
    apply_field(config, &mut report, downlink.sample_interval_s, Config::with_sample_interval_s);
    apply_field(config, &mut report, downlink.max_batch, Config::with_max_batch);
    apply_field(config, &mut report, downlink.ack_timeout_s, Config::with_ack_timeout_s);
    match downlink.time_ms {
        0 => {}
        t if CLOCK_MS.contains(&t) => {
            report.applied += 1;
            report.clock_ms = Some(t);
        }
        _ => report.rejected += 1,
    }
    report
}

fn apply_field(
    config: &mut Config,
    report: &mut ConfigReport,
    value: u32,
    set: fn(Config, u32) -> Result<Config, ConfigError>,
) {
    if value == 0 {
        return;
    }
    match set(*config, value) {
        Ok(next) => {
            *config = next;
            report.applied += 1;
        }
        Err(_) => report.rejected += 1,
    }
}
