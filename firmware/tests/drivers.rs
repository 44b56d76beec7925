//! Drivers against embedded-hal mocks: exact I2C transactions, CRC failures, bus errors and
//! out-of-range values, and how the sampler turns faults into flagged readings and counters.
use dampwatch_firmware::drivers::crc::crc8;
use dampwatch_firmware::drivers::sht4x::{Sht4xError, ALT_ADDRESS, DEFAULT_ADDRESS};
use dampwatch_firmware::drivers::{
    scd4x, tmp117, Co2Sensor, FixedSupply, NotFitted, ProbeFault, Scd4x, Sht4x, SurfaceProbe, Tmp117,
    TrhReading, TrhSensor,
};
use dampwatch_firmware::{status, Sample, Sensor, SensorFaults, SensorSuite};
use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as Delay};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2c};

/// A Sensirion reply: each 16-bit word followed by its CRC.
fn reply(words: &[u16]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|w| {
            let b = w.to_be_bytes();
            [b[0], b[1], crc8(&b)]
        })
        .collect()
}

/// 0x6666 is 25.00 °C; 0x8000 is 56.50 %RH.
const RAW_25_C: u16 = 0x6666;
const RAW_56_5_PCT: u16 = 0x8000;

fn sht4x_measure(address: u8, reply_bytes: Vec<u8>) -> Vec<I2c> {
    vec![I2c::write(address, vec![0xFD]), I2c::read(address, reply_bytes)]
}

#[test]
fn sht4x_measures_with_the_exact_transactions_and_wait() {
    let mut i2c = I2cMock::new(&sht4x_measure(DEFAULT_ADDRESS, reply(&[RAW_25_C, RAW_56_5_PCT])));
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(9)]);
    let mut sht = Sht4x::new(i2c.clone(), DEFAULT_ADDRESS);
    let m = sht.read_trh(&mut delay).unwrap();
    assert_eq!(m, TrhReading { temperature_centi_c: 2500, rh_centi_pct: 5650, clamped: false });
    i2c.done();
    delay.done();
}

#[test]
fn sht4x_serial_number_and_soft_reset() {
    let mut i2c = I2cMock::new(&[
        I2c::write(DEFAULT_ADDRESS, vec![0x89]),
        I2c::read(DEFAULT_ADDRESS, reply(&[0x1234, 0xABCD])),
        I2c::write(DEFAULT_ADDRESS, vec![0x94]),
    ]);
    let mut sht = Sht4x::new(i2c.clone(), DEFAULT_ADDRESS);
    assert_eq!(sht.serial_number(&mut NoopDelay::new()), Ok(0x1234_ABCD));
    assert_eq!(sht.soft_reset(&mut NoopDelay::new()), Ok(()));
    i2c.done();
}

#[test]
fn sht4x_crc_failure_is_an_error_not_a_value() {
    let mut bad = reply(&[RAW_25_C, RAW_56_5_PCT]);
    bad[5] ^= 0x01; // the humidity CRC
    let mut i2c = I2cMock::new(&sht4x_measure(DEFAULT_ADDRESS, bad));
    let mut sht = Sht4x::new(i2c.clone(), DEFAULT_ADDRESS);
    assert_eq!(sht.measure(&mut NoopDelay::new()), Err(Sht4xError::Crc));
    i2c.done();
}

#[test]
fn sht4x_bus_error_stops_the_transaction() {
    // A NACK on the command: no read may follow (the mock fails on any extra transaction).
    let nack = I2c::write(DEFAULT_ADDRESS, vec![0xFD]).with_error(ErrorKind::Other);
    let mut i2c = I2cMock::new(&[nack.clone(), nack]);
    let mut sht = Sht4x::new(i2c.clone(), DEFAULT_ADDRESS);
    assert_eq!(sht.measure(&mut NoopDelay::new()), Err(Sht4xError::Bus(ErrorKind::Other)));
    assert_eq!(sht.read_trh(&mut NoopDelay::new()), Err(ProbeFault::Bus));
    i2c.done();
}

#[test]
fn sht4x_out_of_range_values_are_clamped_and_marked() {
    let mut i2c = I2cMock::new(
        &[
            sht4x_measure(DEFAULT_ADDRESS, reply(&[0xFFFF, 0xFFFF])),
            sht4x_measure(DEFAULT_ADDRESS, reply(&[0x0000, 0x0000])),
        ]
        .concat(),
    );
    let mut sht = Sht4x::new(i2c.clone(), DEFAULT_ADDRESS);
    let hot = sht.read_trh(&mut NoopDelay::new()).unwrap();
    assert_eq!(hot, TrhReading { temperature_centi_c: 12500, rh_centi_pct: 10_000, clamped: true });
    let cold = sht.read_trh(&mut NoopDelay::new()).unwrap();
    assert_eq!(cold, TrhReading { temperature_centi_c: -4000, rh_centi_pct: 0, clamped: true });
    i2c.done();
}

#[test]
fn a_second_sht4x_serves_as_surface_probe() {
    let mut i2c = I2cMock::new(
        &[
            sht4x_measure(ALT_ADDRESS, reply(&[RAW_25_C, RAW_56_5_PCT])),
            sht4x_measure(ALT_ADDRESS, reply(&[0xFFFF, RAW_56_5_PCT])),
        ]
        .concat(),
    );
    let mut probe = Sht4x::new(i2c.clone(), ALT_ADDRESS);
    assert_eq!(probe.read_surface_centi_c(&mut NoopDelay::new()), Ok(2500));
    assert_eq!(probe.read_surface_centi_c(&mut NoopDelay::new()), Err(ProbeFault::OutOfRange));
    i2c.done();
}

#[test]
fn tmp117_reads_its_result_register() {
    let addr = tmp117::DEFAULT_ADDRESS;
    let mut i2c = I2cMock::new(&[
        I2c::write_read(addr, vec![0x00], vec![0x0C, 0x80]),
        I2c::write_read(addr, vec![0x00], vec![0xFE, 0x00]),
        I2c::write_read(addr, vec![0x00], vec![0x80, 0x00]),
        I2c::write_read(addr, vec![0x00], vec![0x00, 0x00]).with_error(ErrorKind::Other),
    ]);
    let mut probe = Tmp117::new(i2c.clone(), addr);
    let mut delay = NoopDelay::new();
    assert_eq!(probe.read_surface_centi_c(&mut delay), Ok(2500), "0x0C80 = 25.00 °C");
    assert_eq!(probe.read_surface_centi_c(&mut delay), Ok(-400), "0xFE00 = -4.00 °C");
    assert_eq!(probe.read_surface_centi_c(&mut delay), Err(ProbeFault::NotReady));
    assert_eq!(probe.read_surface_centi_c(&mut delay), Err(ProbeFault::Bus));
    i2c.done();
}

#[test]
fn scd4x_checks_data_ready_then_reads_the_measurement() {
    let addr = scd4x::DEFAULT_ADDRESS;
    let mut i2c = I2cMock::new(&[
        I2c::write(addr, vec![0x21, 0xB1]),
        I2c::write(addr, vec![0xE4, 0xB8]),
        I2c::read(addr, reply(&[0x8006])),
        I2c::write(addr, vec![0xEC, 0x05]),
        I2c::read(addr, reply(&[1650, 0x6666, 0x8000])),
        I2c::write(addr, vec![0xE4, 0xB8]),
        I2c::read(addr, reply(&[0x8000])),
    ]);
    let mut delay = CheckedDelay::new(&[Delay::delay_ms(1), Delay::delay_ms(1), Delay::delay_ms(1)]);
    let mut co2 = Scd4x::new(i2c.clone(), addr);
    co2.start_periodic_measurement().unwrap();
    assert_eq!(co2.read_co2_ppm(&mut delay), Ok(1650));
    assert_eq!(co2.read_co2_ppm(&mut delay), Err(ProbeFault::NotReady));
    i2c.done();
    delay.done();
}

#[test]
fn scd4x_crc_failure_and_invalid_zero() {
    let addr = scd4x::DEFAULT_ADDRESS;
    let mut corrupt = reply(&[1650, 0x6666, 0x8000]);
    corrupt[8] ^= 0xFF;
    let mut i2c = I2cMock::new(&[
        I2c::write(addr, vec![0xEC, 0x05]),
        I2c::read(addr, corrupt),
        I2c::write(addr, vec![0xEC, 0x05]),
        I2c::read(addr, reply(&[0, 0x6666, 0x8000])),
    ]);
    let mut co2 = Scd4x::new(i2c.clone(), addr);
    assert_eq!(co2.measurement_ppm(&mut NoopDelay::new()), Err(ProbeFault::Crc));
    assert_eq!(co2.measurement_ppm(&mut NoopDelay::new()), Err(ProbeFault::OutOfRange));
    i2c.done();
}

type Suite = SensorSuite<Sht4x<I2cMock>, Tmp117<I2cMock>, Scd4x<I2cMock>, FixedSupply, NoopDelay>;

fn suite(trh: &[I2c], surface: &[I2c], co2: &[I2c]) -> (Suite, [I2cMock; 3]) {
    let mocks = [I2cMock::new(trh), I2cMock::new(surface), I2cMock::new(co2)];
    let suite = SensorSuite::new(
        Sht4x::new(mocks[0].clone(), DEFAULT_ADDRESS),
        Some(Tmp117::new(mocks[1].clone(), tmp117::DEFAULT_ADDRESS)),
        Some(Scd4x::new(mocks[2].clone(), scd4x::DEFAULT_ADDRESS)),
        FixedSupply(3012),
        NoopDelay::new(),
    );
    (suite, mocks)
}

fn co2_ok(ppm: u16) -> Vec<I2c> {
    let addr = scd4x::DEFAULT_ADDRESS;
    vec![
        I2c::write(addr, vec![0xE4, 0xB8]),
        I2c::read(addr, reply(&[0x0001])),
        I2c::write(addr, vec![0xEC, 0x05]),
        I2c::read(addr, reply(&[ppm, 0, 0])),
    ]
}

#[test]
fn the_suite_combines_all_sensors_into_one_clean_sample() {
    let (mut suite, mut mocks) = suite(
        &sht4x_measure(DEFAULT_ADDRESS, reply(&[RAW_25_C, RAW_56_5_PCT])),
        &[I2c::write_read(tmp117::DEFAULT_ADDRESS, vec![0x00], vec![0x0C, 0x80])],
        &co2_ok(900),
    );
    let s = suite.sample().unwrap();
    assert_eq!(
        s,
        Sample {
            temperature_centi_c: 2500,
            rh_centi_pct: 5650,
            surface_temperature_centi_c: Some(2500),
            co2_ppm: Some(900),
            battery_mv: 3012,
            status: status::OK,
        }
    );
    assert_eq!(suite.faults(), SensorFaults::default());
    mocks.iter_mut().for_each(I2cMock::done);
}

#[test]
fn sensor_faults_become_flagged_readings_and_counters_never_panics() {
    let mut bad_crc = reply(&[RAW_25_C, RAW_56_5_PCT]);
    bad_crc[2] ^= 0x10;
    let addr = scd4x::DEFAULT_ADDRESS;
    let (mut suite, mut mocks) = suite(
        &[
            sht4x_measure(DEFAULT_ADDRESS, bad_crc),
            vec![I2c::write(DEFAULT_ADDRESS, vec![0xFD]).with_error(ErrorKind::Other)],
            sht4x_measure(DEFAULT_ADDRESS, reply(&[RAW_25_C, 0xFFFF])),
        ]
        .concat(),
        &[
            I2c::write_read(tmp117::DEFAULT_ADDRESS, vec![0x00], vec![0, 0]).with_error(ErrorKind::Other),
            I2c::write_read(tmp117::DEFAULT_ADDRESS, vec![0x00], vec![0x0C, 0x80]),
            I2c::write_read(tmp117::DEFAULT_ADDRESS, vec![0x00], vec![0x0C, 0x80]),
        ],
        &[vec![I2c::write(addr, vec![0xE4, 0xB8]).with_error(ErrorKind::Other)], co2_ok(700), co2_ok(0)]
            .concat(),
    );

    let crc = suite.sample().unwrap();
    assert_eq!(crc.status, status::TRH_CRC | status::SURFACE_FAILED | status::CO2_FAILED);
    assert_eq!((crc.surface_temperature_centi_c, crc.co2_ppm), (None, None));
    assert_eq!((crc.temperature_centi_c, crc.rh_centi_pct), (0, 0));

    let bus = suite.sample().unwrap();
    assert_eq!(bus.status, status::TRH_BUS);
    assert_eq!((bus.surface_temperature_centi_c, bus.co2_ppm), (Some(2500), Some(700)));

    let range = suite.sample().unwrap();
    assert_eq!(range.status, status::TRH_RANGE | status::CO2_FAILED);
    assert_eq!(range.rh_centi_pct, 10_000);

    assert_eq!(
        suite.faults(),
        SensorFaults { trh_bus: 1, trh_crc: 1, trh_range: 1, surface_failed: 1, co2_failed: 2 }
    );
    mocks.iter_mut().for_each(I2cMock::done);
}

#[test]
fn optional_sensors_can_be_left_out() {
    let mut i2c = I2cMock::new(&sht4x_measure(DEFAULT_ADDRESS, reply(&[RAW_25_C, RAW_56_5_PCT])));
    let mut suite = SensorSuite::new(
        Sht4x::new(i2c.clone(), DEFAULT_ADDRESS),
        None::<NotFitted>,
        None::<NotFitted>,
        FixedSupply(2900),
        NoopDelay::new(),
    );
    let s = suite.sample().unwrap();
    assert_eq!((s.surface_temperature_centi_c, s.co2_ppm, s.status, s.battery_mv), (None, None, 0, 2900));
    i2c.done();
}

#[test]
fn power_up_starts_the_co2_sensor_and_a_refusal_is_counted_once() {
    let addr = scd4x::DEFAULT_ADDRESS;
    let (mut sensors, mocks) = suite(&[], &[], &[I2c::write(addr, vec![0x21, 0xB1])]);
    sensors.power_up();
    assert_eq!(sensors.faults(), SensorFaults::default());
    for mut m in mocks {
        m.done();
    }
    // After a reset that left the sensor powered, it is still measuring and NACKs the start.
    let (mut sensors, mocks) =
        suite(&[], &[], &[I2c::write(addr, vec![0x21, 0xB1]).with_error(ErrorKind::Other)]);
    sensors.power_up();
    assert_eq!(sensors.faults(), SensorFaults { co2_failed: 1, ..SensorFaults::default() });
    for mut m in mocks {
        m.done();
    }
}
