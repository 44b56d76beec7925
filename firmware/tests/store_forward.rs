//! Store and forward: numbering, batching, acknowledgements, resends and overflow accounting.
mod common;

use common::*;
use dampwatch_firmware::{AckOutcome, Config, DeviceCore, DownlinkError, MAX_BATCH, QUEUE_CAPACITY};

#[test]
fn readings_are_numbered_from_one_sent_once_and_released_by_the_ack() {
    let mut core = core(7);
    for (i, t) in [2000, 2010, 2020].into_iter().enumerate() {
        assert_eq!(core.record(sample(t), i as u64 * INTERVAL_MS), Some(i as u32 + 1));
    }
    assert!(drain(&mut core, 0).is_empty(), "nothing is published while disconnected");

    core.on_connected(2 * INTERVAL_MS);
    let ups = drain(&mut core, 2 * INTERVAL_MS);
    assert_eq!(ups.len(), 1);
    assert_eq!(seqs(&ups), [1, 2, 3]);
    assert_eq!(ups[0].floor_seq, 1);
    let temps: Vec<i32> = ups[0].readings.iter().map(|r| r.temperature_centi_c).collect();
    assert_eq!(temps, [2000, 2010, 2020]);
    assert_eq!(ups[0].dropped.map(|d| (d.queue_full, d.sensor_failed)), Some((0, 0)));
    assert!(drain(&mut core, 2 * INTERVAL_MS).is_empty(), "published readings are not due again");

    assert_eq!(core.on_ack(&ack(7, 3), 2 * INTERVAL_MS), Ok(AckOutcome::Confirmed { seq: 3, released: 3 }));
    let s = core.stats();
    assert_eq!((s.recorded, s.sent, s.acked, s.queued, s.dropped, s.resent), (3, 3, 3, 0, 0, 0));
    assert_eq!(s.confirmed_seq, 3);
    assert!(
        drain(&mut core, 100 * INTERVAL_MS).is_empty(),
        "nothing left after the ack, even after a timeout"
    );
}

#[test]
fn a_lost_acknowledgement_leads_to_a_resend_after_the_timeout() {
    let mut core = core(1);
    let timeout = core.config().ack_timeout_ms();
    core.on_connected(0);
    core.record(sample(2100), 0);
    core.record(sample(2101), 1_000);
    assert_eq!(seqs(&drain(&mut core, 1_000)), [1, 2]);

    // The ack was lost: nothing until the timeout, then both again.
    assert!(drain(&mut core, 1_000 + timeout - 1).is_empty());
    let again = drain(&mut core, 1_000 + timeout);
    assert_eq!(seqs(&again), [1, 2]);
    assert_eq!(again[0].floor_seq, 1);
    let s = core.stats();
    assert_eq!((s.sent, s.resent, s.uplinks), (2, 2, 2), "distinct readings sent stay 2");

    core.on_ack(&ack(1, 2), 1_000 + timeout).unwrap();
    assert!(drain(&mut core, 1_000 + 10 * timeout).is_empty());
    assert_eq!((core.stats().acked, core.stats().queued), (2, 0));
}

#[test]
fn a_partial_ack_releases_only_what_it_covers_and_the_rest_is_resent_with_a_higher_floor() {
    let mut core = core(2);
    let timeout = core.config().ack_timeout_ms();
    core.on_connected(0);
    for i in 0..5 {
        core.record(sample(2000 + i), 0);
    }
    assert_eq!(seqs(&drain(&mut core, 0)), [1, 2, 3, 4, 5]);
    assert_eq!(core.on_ack(&ack(2, 3), 10), Ok(AckOutcome::Confirmed { seq: 3, released: 3 }));
    // The ack restarted the timer for what is still outstanding.
    assert!(drain(&mut core, timeout).is_empty());
    let again = drain(&mut core, 10 + timeout);
    assert_eq!(seqs(&again), [4, 5]);
    assert_eq!(again[0].floor_seq, 4);
}

#[test]
fn reconnecting_makes_every_unconfirmed_reading_due_again() {
    let mut core = core(3);
    core.on_connected(0);
    core.record(sample(1), 0);
    assert_eq!(seqs(&drain(&mut core, 0)), [1]);
    core.on_disconnected();
    core.record(sample(2), INTERVAL_MS);
    assert!(drain(&mut core, INTERVAL_MS).is_empty());

    core.on_connected(INTERVAL_MS + 5);
    assert_eq!(seqs(&drain(&mut core, INTERVAL_MS + 5)), [1, 2]);
    let s = core.stats();
    assert_eq!((s.sent, s.resent), (2, 1));
}

#[test]
fn stale_duplicate_foreign_and_unsent_acks_are_ignored() {
    let mut core = core(5);
    core.on_connected(0);
    for i in 0..5 {
        core.record(sample(i), 0);
    }
    drain(&mut core, 0);
    core.record(sample(6), 1);

    assert_eq!(core.on_ack(&ack(5, 3), 1), Ok(AckOutcome::Confirmed { seq: 3, released: 3 }));
    assert_eq!(core.on_ack(&ack(5, 3), 2), Ok(AckOutcome::Stale), "duplicate");
    assert_eq!(core.on_ack(&ack(5, 2), 3), Ok(AckOutcome::Stale), "stale");
    assert_eq!(core.on_ack(&ack(4, 5), 4), Ok(AckOutcome::OtherBoot), "an earlier boot");
    assert_eq!(core.on_ack(&ack(6, 5), 4), Ok(AckOutcome::OtherBoot), "a later boot");
    assert_eq!(core.on_ack(&ack(5, 6), 5), Ok(AckOutcome::NotSent), "seq 6 is queued but never published");
    assert_eq!(core.on_ack(&ack(5, 99), 5), Ok(AckOutcome::NotSent));
    assert_eq!(core.on_ack(&[0xFF, 0xFF, 0xFF], 6), Err(DownlinkError::Malformed));

    let queued: Vec<u32> = core.queued().map(|r| r.seq).collect();
    assert_eq!(queued, [4, 5, 6], "ignored acks released nothing");
    let s = core.stats();
    assert_eq!((s.acked, s.acks_applied, s.acks_ignored, s.malformed_downlinks), (3, 1, 6, 1));
    assert_eq!(s.confirmed_seq, 3);
}

#[test]
fn a_full_queue_drops_the_oldest_counts_it_and_reports_it_in_the_next_uplink() {
    let mut core = core(9);
    let extra = 12;
    let total = QUEUE_CAPACITY as u32 + extra;
    for i in 0..total {
        core.record(sample(i as i32), u64::from(i) * INTERVAL_MS);
    }
    let s = core.stats();
    assert_eq!((s.recorded, s.queued, s.dropped), (total, QUEUE_CAPACITY as u32, extra));

    let now = u64::from(total) * INTERVAL_MS;
    core.on_connected(now);
    let ups = drain(&mut core, now);
    assert_eq!(seqs(&ups), (extra + 1..=total).collect::<Vec<_>>(), "oldest dropped, the rest in order");
    assert_eq!(ups.len(), QUEUE_CAPACITY.div_ceil(MAX_BATCH));
    for up in &ups {
        assert!(up.readings.len() <= MAX_BATCH);
        assert_eq!(up.floor_seq, extra + 1, "everything below the floor was dropped and counted");
        assert_eq!(up.dropped.map(|d| d.queue_full), Some(extra));
    }
    core.on_ack(&ack(9, total), now).unwrap();
    let s = core.stats();
    assert_eq!(
        (s.sent, s.acked, s.queued, s.dropped),
        (QUEUE_CAPACITY as u32, QUEUE_CAPACITY as u32, 0, extra)
    );
}

#[test]
fn the_queue_holds_48_hours_at_the_default_interval() {
    let hours = QUEUE_CAPACITY as u64 * Config::default().sample_interval_ms() / 3_600_000;
    assert!(hours >= 48, "{hours} h");
}

#[test]
fn batches_follow_the_configured_size_and_missed_samples_are_reported() {
    let config = Config::default().with_max_batch(5).unwrap();
    let mut core = DeviceCore::new(identity(), 1, config);
    core.record_missed(0);
    for i in 0..12 {
        core.record(sample(i), INTERVAL_MS * (i as u64 + 1));
    }
    core.on_connected(0);
    let ups = drain(&mut core, 0);
    let sizes: Vec<usize> = ups.iter().map(|u| u.readings.len()).collect();
    assert_eq!(sizes, [5, 5, 2]);
    assert_eq!(seqs(&ups), (1..=12).collect::<Vec<_>>(), "a missed sample uses no sequence number");
    assert_eq!(ups[2].dropped.map(|d| d.sensor_failed), Some(1));
}

#[test]
fn samples_are_due_at_the_interval() {
    let mut core = core(1);
    assert!(core.sample_due(0), "the first sample is due at once");
    core.record(sample(1), 5_000);
    assert!(!core.sample_due(5_000 + INTERVAL_MS - 1));
    assert!(core.sample_due(5_000 + INTERVAL_MS));
    assert_eq!(core.next_sample_ms(), 5_000 + INTERVAL_MS);
    assert_eq!(core.next_wake_ms(), 5_000 + INTERVAL_MS);
}

#[test]
fn topics_follow_the_shared_layout() {
    let core = core(1);
    assert_eq!(core.uplink_topic().as_str(), "dw/v1/acme/dev-1/up");
    assert_eq!(core.ack_topic().as_str(), "dw/v1/acme/dev-1/ack");
    assert_eq!(core.config_topic().as_str(), "dw/v1/acme/dev-1/config");
}

#[test]
fn the_core_can_live_in_an_async_task_on_any_thread() {
    fn send_and_sync<T: Send + Sync + 'static>() {}
    send_and_sync::<DeviceCore>();
}
