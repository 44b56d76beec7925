//! The configuration downlink: safe ranges, "zero keeps", counting of refused fields, the clock.
mod common;

use common::*;
use dampwatch_firmware::{status, Config, ConfigError, ConfigReport, DownlinkError, MAX_BATCH};

const NOV_2025_MS: u64 = 1_764_000_000_000;

#[test]
fn defaults_are_ten_minutes_a_full_batch_and_five_minutes_ack_timeout() {
    let c = Config::default();
    assert_eq!((c.sample_interval_s(), c.max_batch(), c.ack_timeout_s()), (600, MAX_BATCH as u32, 300));
}

#[test]
fn a_config_outside_the_safe_ranges_cannot_be_built() {
    assert_eq!(Config::new(59, 10, 60), Err(ConfigError::SampleInterval(59)));
    assert_eq!(Config::new(86_401, 10, 60), Err(ConfigError::SampleInterval(86_401)));
    assert_eq!(Config::new(60, 0, 60), Err(ConfigError::MaxBatch(0)));
    assert_eq!(Config::new(60, MAX_BATCH as u32 + 1, 60), Err(ConfigError::MaxBatch(MAX_BATCH as u32 + 1)));
    assert_eq!(Config::new(60, 10, 9), Err(ConfigError::AckTimeout(9)));
    assert_eq!(Config::new(60, 10, 3_601), Err(ConfigError::AckTimeout(3_601)));
    let c = Config::new(86_400, MAX_BATCH as u32, 3_600).unwrap();
    assert_eq!((c.sample_interval_s(), c.ack_timeout_s()), (86_400, 3_600));
}

#[test]
fn valid_fields_apply_invalid_ones_are_ignored_and_counted() {
    let mut core = core(1);
    let report = core.on_config(&config(120, 0, 5, 0), 0).unwrap();
    assert_eq!(report, ConfigReport { applied: 1, rejected: 1, clock_ms: None });
    let c = *core.config();
    assert_eq!((c.sample_interval_s(), c.max_batch(), c.ack_timeout_s()), (120, MAX_BATCH as u32, 300));

    let report = core.on_config(&config(10, MAX_BATCH as u32 + 1, 30, 0), 0).unwrap();
    assert_eq!((report.applied, report.rejected), (1, 2));
    let c = *core.config();
    assert_eq!((c.sample_interval_s(), c.max_batch(), c.ack_timeout_s()), (120, MAX_BATCH as u32, 30));

    let report = core.on_config(&config(0, 0, 0, 0), 0).unwrap();
    assert_eq!(report, ConfigReport::default(), "zero means keep");
    assert_eq!(*core.config(), c);

    assert_eq!(core.on_config(&[0x0A, 0x05, 0x01], 0), Err(DownlinkError::Malformed));
    let s = core.stats();
    assert_eq!((s.config_applied, s.config_rejected, s.malformed_downlinks), (2, 3, 1));
}

#[test]
fn a_new_interval_reschedules_the_next_sample() {
    let mut core = core(1);
    core.record(sample(1), 1_000);
    assert_eq!(core.next_sample_ms(), 1_000 + INTERVAL_MS);
    core.on_config(&config(60, 0, 0, 0), 2_000).unwrap();
    assert_eq!(core.next_sample_ms(), 61_000);
}

#[test]
fn time_sets_the_device_clock_and_readings_before_are_flagged() {
    let mut core = core(1);
    core.on_connected(0);
    core.record(sample(1), 5_000);
    assert_eq!(core.wall_clock_ms(5_000), None);

    let report = core.on_config(&config(0, 0, 0, NOV_2025_MS), 10_000).unwrap();
    assert_eq!(report.clock_ms, Some(NOV_2025_MS));
    assert_eq!(core.wall_clock_ms(10_000), Some(NOV_2025_MS));
    core.record(sample(2), 70_000);

    let up = drain(&mut core, 70_000);
    let r = &up[0].readings;
    assert_eq!((r[0].time_ms, r[0].status), (5_000, status::CLOCK_UNSET), "uptime, flagged");
    assert_eq!((r[1].time_ms, r[1].status), (NOV_2025_MS + 60_000, status::OK));
}

#[test]
fn an_implausible_time_is_refused() {
    let mut core = core(1);
    for bad in [1, 1_000_000_000_000, 5_000_000_000_000] {
        let report = core.on_config(&config(0, 0, 0, bad), 0).unwrap();
        assert_eq!((report.applied, report.rejected, report.clock_ms), (0, 1, None), "{bad}");
    }
    assert_eq!(core.wall_clock_ms(0), None);
}

#[test]
fn a_stale_retained_time_does_not_turn_a_set_clock_back() {
    let mut core = core(1);
    core.on_config(&config(0, 0, 0, NOV_2025_MS), 0).unwrap();
    let day = 86_400_000;
    // A day later the device reconnects and is handed the same retained config.
    let report = core.on_config(&config(0, 0, 0, NOV_2025_MS), day).unwrap();
    assert_eq!((report.applied, report.rejected, report.clock_ms), (0, 1, None));
    assert_eq!(core.wall_clock_ms(day), Some(NOV_2025_MS + day));
    // Small corrections either way, and any step forward, are followed.
    core.on_config(&config(0, 0, 0, NOV_2025_MS + day - 30_000), day).unwrap();
    assert_eq!(core.wall_clock_ms(day), Some(NOV_2025_MS + day - 30_000));
    core.on_config(&config(0, 0, 0, NOV_2025_MS + 3 * day), day).unwrap();
    assert_eq!(core.wall_clock_ms(day), Some(NOV_2025_MS + 3 * day));
}
