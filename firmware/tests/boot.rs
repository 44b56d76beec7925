//! The persisted boot counter: numbering never repeats across resets.
mod common;

use std::collections::HashSet;

use common::*;
use dampwatch_firmware::{next_boot, BootError, BootStorage, Config, DeviceCore, RamBootStorage};

#[test]
fn every_reset_gets_a_new_boot_and_no_reading_number_repeats() {
    let mut storage = RamBootStorage::default();
    let mut seen = HashSet::new();
    for expected_boot in 1..=4 {
        // A reset: the core and its RAM queue are gone, only the storage survives.
        let boot = next_boot(&mut storage).unwrap();
        assert_eq!(boot, expected_boot);
        assert_eq!(storage.value(), Some(boot), "stored before any reading is numbered");
        let mut core = DeviceCore::new(identity(), boot, Config::default());
        core.on_connected(0);
        for i in 0..3 {
            core.record(sample(i), u64::from(i as u32) * INTERVAL_MS);
        }
        for up in drain(&mut core, 0) {
            for r in up.readings {
                assert!(seen.insert((up.boot, r.seq)), "({}, {}) repeated", up.boot, r.seq);
            }
        }
    }
    assert_eq!(seen.len(), 12);
}

#[test]
fn continues_from_a_stored_counter() {
    let mut storage = RamBootStorage::new(Some(41));
    assert_eq!(next_boot(&mut storage), Ok(42));
    assert_eq!(next_boot(&mut storage), Ok(43));
}

struct BrokenFlash;

impl BootStorage for BrokenFlash {
    type Error = &'static str;
    fn load_boot(&mut self) -> Result<Option<u32>, Self::Error> {
        Ok(Some(7))
    }
    fn store_boot(&mut self, _: u32) -> Result<(), Self::Error> {
        Err("write failed")
    }
}

#[test]
fn a_counter_that_cannot_be_stored_or_is_exhausted_refuses_to_start() {
    assert_eq!(next_boot(&mut BrokenFlash), Err(BootError::Storage("write failed")));
    assert_eq!(next_boot(&mut RamBootStorage::new(Some(u32::MAX))), Err(BootError::Exhausted));
}
