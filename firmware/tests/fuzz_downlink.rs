//! Random-input testing of what a device reads from the network: the acknowledgements and
//! configurations on its `ack` and `config` topics, from their micropb decoding up to the
//! device core that acts on them.
//!
//! Properties: random bytes and mutated valid downlinks never panic and never allocate (the
//! firmware has no allocator); whatever arrives, a reading leaves the queue only once a
//! commit position covers it, never beyond what was sent, and no reading disappears without
//! being counted; settings stay within their safe ranges; and valid downlinks still work, the
//! micropb decoder reading exactly what the servers' prost types wrote.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).
mod common;

use common::{ack, config, core, drain, sample};
use dampwatch_firmware::config::{ACK_TIMEOUT_S, BATCH_SIZE, SAMPLE_INTERVAL_S};
use dampwatch_firmware::{AckOutcome, DeviceCore};
use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{bytes, check, counting_allocator_active, measured, mutated};
use micropb::MessageDecode;
use prost::Message;

/// What arrives on one of the device's topics.
#[derive(Debug, Clone)]
enum Downlink {
    Ack(Vec<u8>),
    Config(Vec<u8>),
}

/// Valid acknowledgements and configurations as the collector sends them (for the test
/// device), around the positions and values a device of boot 1 has.
fn valid_downlink() -> impl Strategy<Value = Downlink> {
    let boot = prop_oneof![4 => Just(1u32), 1 => any::<u32>()];
    let seq = prop_oneof![4 => 0..12u32, 1 => any::<u32>()];
    let field = || prop_oneof![Just(0u32), 1..100_000u32, any::<u32>()];
    let time_ms = prop_oneof![Just(0u64), 1_500_000_000_000..4_200_000_000_000u64, any::<u64>()];
    prop_oneof![
        (boot, seq).prop_map(|(b, s)| Downlink::Ack(ack(b, s))),
        (field(), field(), field(), time_ms).prop_map(|(i, b, t, ms)| Downlink::Config(config(i, b, t, ms))),
    ]
}

/// Random bytes, or valid downlinks mutated, on either topic.
fn hostile_downlink() -> impl Strategy<Value = Downlink> {
    prop_oneof![
        1 => bytes(200).prop_map(Downlink::Ack),
        1 => bytes(200).prop_map(Downlink::Config),
        3 => valid_downlink().prop_flat_map(|d| match d {
            Downlink::Ack(b) => mutated(Just(b)).prop_map(Downlink::Ack).boxed(),
            Downlink::Config(b) => mutated(Just(b)).prop_map(Downlink::Config).boxed(),
        }),
    ]
}

/// A device of boot 1 that recorded `recorded` readings and published the first `sent`.
fn device(recorded: u32, sent: u32) -> DeviceCore {
    let mut core = core(1);
    core.on_connected(0);
    for t in 0..sent {
        core.record(sample(2000 + t as i32), 0);
    }
    if sent > 0 {
        drain(&mut core, 0);
    }
    for t in sent..recorded {
        core.record(sample(2000 + t as i32), 0);
    }
    core
}

/// What must hold whatever the device was sent.
fn check_invariants(core: &DeviceCore, recorded: u32, sent: u32) -> Result<(), TestCaseError> {
    let s = core.stats();
    let c = core.config();
    prop_assert!(SAMPLE_INTERVAL_S.contains(&c.sample_interval_s()), "{:?}", c);
    prop_assert!(ACK_TIMEOUT_S.contains(&c.ack_timeout_s()), "{:?}", c);
    prop_assert!(BATCH_SIZE.contains(&c.max_batch()), "{:?}", c);
    // Nothing left the queue uncounted, and only what a commit position covers left it.
    let queued = core.queued().count() as u32;
    prop_assert_eq!(queued + s.acked, recorded, "{:?}", s);
    prop_assert!(s.confirmed_seq <= sent, "confirmed {} with {} sent", s.confirmed_seq, sent);
    prop_assert_eq!(s.acked, s.confirmed_seq);
    prop_assert!(core.queued().all(|r| r.seq > s.confirmed_seq));
    Ok(())
}

#[test]
fn the_allocation_counter_is_in_place() {
    assert!(counting_allocator_active());
}

#[test]
fn hostile_downlinks_change_nothing_they_should_not() {
    let strategy = (0..8u32, 0..8u32, prop::collection::vec(hostile_downlink(), 1..=4));
    check("firmware/downlink hostile", strategy, |(sent, unsent, downlinks)| {
        let recorded = sent + unsent;
        let mut core = device(recorded, sent);
        for (i, d) in downlinks.iter().enumerate() {
            let now = 1_000 + i as u64;
            let (outcome, heap) = measured(|| match d {
                Downlink::Ack(b) => core.on_ack(b, now).map(Some),
                Downlink::Config(b) => core.on_config(b, now).map(|_| None),
            });
            prop_assert_eq!(heap.count_total, 0, "the firmware allocated");
            if let Ok(Some(AckOutcome::Confirmed { seq, released })) = outcome {
                prop_assert!(seq <= sent && released <= seq, "{} {}", seq, released);
            }
            check_invariants(&core, recorded, sent)?;
        }
        Ok(())
    });
}

#[test]
fn valid_downlinks_are_applied() {
    let strategy = (1..8u32, 0..8u32, 60..=86_400u32, 10..=3_600u32, 1_600_000_000_000..4_000_000_000_000u64);
    check("firmware/downlink valid", strategy, |(sent, confirm, interval, timeout, wall_ms)| {
        let confirm = confirm.min(sent).max(1);
        let mut core = device(sent + 2, sent);
        let outcome = core.on_ack(&ack(1, confirm), 1_000).unwrap();
        prop_assert_eq!(outcome, AckOutcome::Confirmed { seq: confirm, released: confirm });
        // The same acknowledgement again is stale; one beyond what was sent is refused.
        prop_assert_eq!(core.on_ack(&ack(1, confirm), 1_001).unwrap(), AckOutcome::Stale);
        prop_assert_eq!(core.on_ack(&ack(1, sent + 1), 1_002).unwrap(), AckOutcome::NotSent);
        check_invariants(&core, sent + 2, sent)?;
        let report = core.on_config(&config(interval, 1, timeout, wall_ms), 2_000).unwrap();
        prop_assert_eq!((report.applied, report.rejected, report.clock_ms), (4, 0, Some(wall_ms)));
        prop_assert_eq!(
            (core.config().sample_interval_s(), core.config().ack_timeout_s()),
            (interval, timeout)
        );
        prop_assert_eq!(core.wall_clock_ms(2_000), Some(wall_ms));
        Ok(())
    });
}

#[test]
fn the_decoder_reads_random_bytes_without_panic_or_allocation() {
    use dampwatch_firmware::proto::{CommitAck, DeviceConfig};
    check("firmware/decode random bytes", bytes(200), |input| {
        let ((), heap) = measured(|| {
            let _ = CommitAck::default().decode_from_bytes(&input);
            let _ = DeviceConfig::default().decode_from_bytes(&input);
        });
        prop_assert_eq!(heap.count_total, 0, "the decoder allocated");
        Ok(())
    });
}

#[test]
fn the_decoder_reads_what_the_servers_write() {
    use dampwatch_firmware::proto::{CommitAck, DeviceConfig};
    use dampwatch_proto::v1 as server;
    let strategy = (any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>());
    check("firmware/decode round trip", strategy, |(a, b, c, d)| {
        let mut ack = CommitAck::default();
        ack.decode_from_bytes(&server::CommitAck { boot: a, seq: b }.encode_to_vec()).unwrap();
        prop_assert_eq!((ack.boot, ack.seq), (a, b));
        let sent = server::DeviceConfig {
            sample_interval_s: a,
            max_batch: b,
            ack_timeout_s: c,
            time_ms: d,
            ..Default::default()
        };
        let mut got = DeviceConfig::default();
        got.decode_from_bytes(&sent.encode_to_vec()).unwrap();
        prop_assert_eq!((got.sample_interval_s, got.max_batch, got.ack_timeout_s, got.time_ms), (a, b, c, d));
        Ok(())
    });
}
