//! The microcontroller driver loop over a scripted transport and sensor.
mod common;

use std::collections::VecDeque;

use common::*;
use dampwatch_firmware::firmware::RECONNECT_BACKOFF_MS;
use dampwatch_firmware::{
    Config, Firmware, Inbound, RamBootStorage, Sample, Sensor, SensorUnavailable, TopicString, Transport,
};

#[derive(Default)]
struct Net {
    connected: bool,
    refuse_connects: u32,
    fail_next_publish: bool,
    connect_attempts: u32,
    subscriptions: Vec<String>,
    published: Vec<(String, Vec<u8>)>,
    inbound: VecDeque<(String, Vec<u8>)>,
}

impl Transport for Net {
    type Error = &'static str;

    fn connect(&mut self, subscriptions: &[&str]) -> Result<(), Self::Error> {
        self.connect_attempts += 1;
        if self.refuse_connects > 0 {
            self.refuse_connects -= 1;
            return Err("refused");
        }
        self.connected = true;
        self.subscriptions = subscriptions.iter().map(|s| s.to_string()).collect();
        Ok(())
    }

    fn publish(&mut self, topic: &str, payload: &[u8]) -> Result<(), Self::Error> {
        if !self.connected || std::mem::take(&mut self.fail_next_publish) {
            self.connected = false;
            return Err("connection lost");
        }
        self.published.push((topic.to_string(), payload.to_vec()));
        Ok(())
    }

    fn poll(&mut self, payload: &mut [u8]) -> Result<Option<Inbound>, Self::Error> {
        let Some((topic, bytes)) = self.inbound.pop_front() else { return Ok(None) };
        let n = bytes.len().min(payload.len());
        payload[..n].copy_from_slice(&bytes[..n]);
        Ok(Some(Inbound { topic: TopicString::try_from(topic.as_str()).unwrap(), len: bytes.len() }))
    }
}

struct Room {
    next_t: i32,
    broken: bool,
    powered_up: u32,
}

impl Sensor for Room {
    fn power_up(&mut self) {
        self.powered_up += 1;
    }

    fn sample(&mut self) -> Result<Sample, SensorUnavailable> {
        if self.broken {
            return Err(SensorUnavailable);
        }
        self.next_t += 1;
        Ok(sample(self.next_t))
    }
}

type Device = Firmware<Room, Net>;

fn start() -> Device {
    let mut storage = RamBootStorage::default();
    let fw = Firmware::start(
        identity(),
        Config::default(),
        &mut storage,
        Room { next_t: 2000, broken: false, powered_up: 0 },
        Net::default(),
    )
    .unwrap();
    assert_eq!((fw.core().boot(), storage.value()), (1, Some(1)));
    assert_eq!(fw.sensor().powered_up, 1, "sensors started once at boot");
    fw
}

/// Seqs of the uplinks published since `from`, verified like the collector does.
fn published_seqs(fw: &Device, from: usize) -> Vec<u32> {
    fw.transport().published[from..]
        .iter()
        .flat_map(|(topic, bytes)| {
            assert_eq!(topic, "dw/v1/acme/dev-1/up");
            open(fw.core(), bytes).readings.into_iter().map(|r| r.seq)
        })
        .collect()
}

fn deliver(fw: &mut Device, topic: &str, payload: Vec<u8>) {
    fw.transport_mut().inbound.push_back((topic.to_string(), payload));
}

#[test]
fn samples_connects_publishes_and_forgets_what_is_acknowledged() {
    let mut fw = start();
    let wake = fw.step(0);
    assert_eq!(
        wake,
        fw.core().config().ack_timeout_ms(),
        "woken for the ack deadline before the next sample"
    );
    assert_eq!(fw.transport().subscriptions, ["dw/v1/acme/dev-1/ack", "dw/v1/acme/dev-1/config"]);
    assert_eq!(published_seqs(&fw, 0), [1]);

    deliver(&mut fw, "dw/v1/acme/dev-1/ack", ack(1, 1));
    assert_eq!(fw.step(1_000), INTERVAL_MS, "nothing outstanding: sleep until the next sample");
    assert_eq!((fw.core().stats().acked, fw.core().stats().queued), (1, 0));
    assert_eq!(fw.transport().published.len(), 1, "nothing new to publish");

    fw.step(INTERVAL_MS);
    assert_eq!(published_seqs(&fw, 1), [2]);
}

#[test]
fn a_lost_connection_is_reconnected_and_the_unconfirmed_batch_resent() {
    let mut fw = start();
    fw.step(0);
    fw.transport_mut().fail_next_publish = true;
    fw.step(INTERVAL_MS);
    assert!(!fw.core().is_connected());
    assert_eq!(fw.link_stats().publish_failures, 1);
    assert_eq!(published_seqs(&fw, 0), [1]);

    fw.step(INTERVAL_MS + 1);
    assert_eq!(published_seqs(&fw, 1), [1, 2], "both unconfirmed readings go again");
    assert_eq!(fw.link_stats().connects, 2);
}

#[test]
fn failed_connects_back_off() {
    let mut fw = start();
    fw.transport_mut().refuse_connects = 1;
    fw.step(0);
    assert_eq!((fw.transport().connect_attempts, fw.link_stats().connect_failures), (1, 1));
    assert_eq!(fw.next_wake_ms(), RECONNECT_BACKOFF_MS);
    fw.step(RECONNECT_BACKOFF_MS - 1);
    assert_eq!(fw.transport().connect_attempts, 1, "no attempt before the backoff");
    fw.step(RECONNECT_BACKOFF_MS);
    assert_eq!(fw.transport().connect_attempts, 2);
    assert_eq!(published_seqs(&fw, 0), [1]);
}

#[test]
fn config_is_applied_and_stray_or_oversized_messages_are_ignored() {
    let mut fw = start();
    fw.step(0);
    deliver(&mut fw, "dw/v1/acme/dev-1/config", config(120, 0, 0, 0));
    deliver(&mut fw, "dw/v1/acme/dev-2/ack", ack(1, 1));
    deliver(&mut fw, "dw/v1/acme/dev-1/ack", vec![0; 1000]);
    fw.step(1);
    assert_eq!(fw.core().config().sample_interval_s(), 120);
    assert_eq!(fw.link_stats().inbound_ignored, 2);
    assert_eq!(fw.core().stats().acked, 0, "the other device's ack did not count");
    assert_eq!(fw.next_wake_ms(), 120_000, "next sample rescheduled to the new interval");
}

#[test]
fn a_sensor_that_cannot_be_read_is_reported_as_a_missed_sample() {
    let mut fw = start();
    fw.step(0);
    deliver(&mut fw, "dw/v1/acme/dev-1/ack", ack(1, 1));
    set_broken(&mut fw, true);
    fw.step(INTERVAL_MS);
    set_broken(&mut fw, false);
    fw.step(2 * INTERVAL_MS);
    let last = &fw.transport().published.last().unwrap().1;
    let up = open(fw.core(), last);
    assert_eq!(up.readings.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
    assert_eq!(up.dropped.map(|d| d.sensor_failed), Some(1));
}

fn set_broken(fw: &mut Device, broken: bool) {
    fw.sensor_mut().broken = broken;
}
