//! The static memory the core needs stays within its budget (see the crate docs' table).
use core::mem::size_of;

use dampwatch_firmware::drivers::{FixedSupply, NotFitted, Sht4x};
use dampwatch_firmware::proto::{SignedUplink, Uplink};
use dampwatch_firmware::queue::ReadingQueue;
use dampwatch_firmware::{
    DeviceCore, Firmware, Inbound, SensorSuite, StoredReading, Transport, QUEUE_CAPACITY, UPLINK_BUFFER_LEN,
};
use embedded_hal_mock::eh1::delay::NoopDelay;
use embedded_hal_mock::eh1::i2c::Mock as I2cMock;

const BUDGET: usize = 16 * 1024;

/// The smallest possible transport, so the measurement is of the firmware's own state.
struct NullTransport;

impl Transport for NullTransport {
    type Error = ();
    fn connect(&mut self, _: &[&str]) -> Result<(), ()> {
        Err(())
    }
    fn publish(&mut self, _: &str, _: &[u8]) -> Result<(), ()> {
        Err(())
    }
    fn poll(&mut self, _: &mut [u8]) -> Result<Option<Inbound>, ()> {
        Ok(None)
    }
}

#[test]
fn queued_readings_are_compact() {
    assert_eq!(size_of::<StoredReading>(), 24);
    assert!(size_of::<ReadingQueue>() <= QUEUE_CAPACITY * 24 + 16);
}

#[test]
fn the_core_and_the_driver_loop_fit_16_kib() {
    let core = size_of::<DeviceCore>();
    let parts = size_of::<ReadingQueue>() + size_of::<Uplink>() + size_of::<SignedUplink>();
    assert!(core <= parts + 512, "core {core} bytes, of which queue and scratch {parts}");
    assert!(core <= 11 * 1024, "DeviceCore is {core} bytes; the crate docs say 10 896");

    type Suite = SensorSuite<Sht4x<I2cMock>, NotFitted, NotFitted, FixedSupply, NoopDelay>;
    let firmware = size_of::<Firmware<Suite, NullTransport>>();
    eprintln!(
        "queue {} + uplink {} + envelope {} => DeviceCore {core}; Firmware {firmware}",
        size_of::<ReadingQueue>(),
        size_of::<Uplink>(),
        size_of::<SignedUplink>()
    );
    assert!(firmware <= core + UPLINK_BUFFER_LEN + 512, "Firmware is {firmware} bytes");
    assert!(firmware <= BUDGET, "Firmware is {firmware} bytes, over the {BUDGET}-byte budget");
}
