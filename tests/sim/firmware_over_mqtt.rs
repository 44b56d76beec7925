//! The firmware's own driver loop ([`Firmware`]) on the host, end to end: its SHT4x driver
//! reads an embedded-hal I2C mock, and it talks through [`MqttTransport`] (rumqttc's blocking
//! client, mutual TLS with the device's certificate) to the real gateway, collector and
//! PostgreSQL. Every reading it takes is stored exactly once, and the commit acknowledgements
//! reach it and empty its queue.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::Stack;
use dampwatch_firmware::drivers::crc::crc8;
use dampwatch_firmware::drivers::sht4x::{self, CMD_MEASURE_HIGH_PRECISION, DEFAULT_ADDRESS};
use dampwatch_firmware::drivers::{FixedSupply, NotFitted, Sht4x};
use dampwatch_firmware::{
    Config, Firmware, Identity, LinkStats, RamBootStorage, Sensor, SensorSuite, Stats, Transport,
};
use dampwatch_sim::blocking_transport::{MqttTransport, TransportError};
use dampwatch_sim::link::GatewayAddr;
use dampwatch_sim::{fleet, provision};
use embedded_hal_mock::eh1::delay::NoopDelay;
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2c};

const DEVICE: &str = "fw-00001";
const LANDLORD: &str = "acme";
/// The raw SHT4x words (temperature, humidity) the sensor returns, one pair per reading.
const RAW: [(u16, u16); 3] = [(0x6666, 0x8000), (0x6a00, 0x9000), (0x6d00, 0xa000)];
const BATTERY_MV: u32 = 2950;
/// Real time the device may take for all its readings to be acknowledged.
const ACK_DEADLINE: Duration = Duration::from_secs(40);
/// Pause between driver-loop steps while waiting for an acknowledgement.
const STEP_PAUSE: Duration = Duration::from_millis(20);

/// What the device ended with.
struct Outcome {
    stats: Stats,
    link: LinkStats,
    /// Wall-clock time of uptime 0, ms since the epoch.
    wall_at_boot_ms: u64,
    interval_ms: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_firmware_loop_over_rumqttc_stores_its_readings_once_and_empties_its_queue() -> anyhow::Result<()>
{
    let test_deadline = Instant::now() + Duration::from_secs(60);
    let stack = Stack::start().await?;
    let ids = [DEVICE.to_owned()];
    let provisioned_at = chrono::Utc::now() - chrono::Duration::days(1);
    provision::provision(&stack.pki(), &stack.bundles(), &stack.pg.url(), LANDLORD, &ids, provisioned_at)
        .await?;
    let (pki, bundles) = (stack.pki(), stack.bundles());
    let gateway =
        GatewayAddr { host: stack.gateway_addr().ip().to_string(), port: stack.gateway_addr().port() };

    let outcome = tokio::task::spawn_blocking(move || -> anyhow::Result<Outcome> {
        let creds = fleet::load(&bundles, LANDLORD, &ids)?.remove(0);
        let collector_keys = provision::collector_keys(&pki)?;
        let identity =
            Identity::new(DEVICE, LANDLORD, provision::KEY_ID, creds.signing_seed, collector_keys)?;
        let transport = MqttTransport::new(DEVICE, gateway, creds.tls.clone());
        let mut i2c = I2cMock::new(&sht4x_measurements());
        let sensor = SensorSuite::new(
            Sht4x::new(i2c.clone(), DEFAULT_ADDRESS),
            None::<NotFitted>,
            None::<NotFitted>,
            FixedSupply(BATTERY_MV),
            NoopDelay::new(),
        );
        let mut storage = RamBootStorage::default();
        let mut fw = Firmware::start(identity, Config::default(), &mut storage, sensor, transport)?;

        // Uptime runs on the device's own schedule (one sample per interval), faster than real
        // time; the clock is set so that the last sample is dated one interval before now.
        let interval_ms = fw.core().config().sample_interval_ms();
        let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
        let wall_at_boot_ms = now_ms - RAW.len() as u64 * interval_ms;
        fw.core_mut().set_wall_clock(wall_at_boot_ms, 0);

        let taken = take_readings(&mut fw, interval_ms);
        // Settle the mock whatever happened, so that a failure is reported as itself rather
        // than as the mock's complaint about being dropped unfinished.
        let unused = i2c.by_ref().count();
        i2c.done();
        taken?;
        anyhow::ensure!(unused == 0, "{unused} expected I2C transactions were not made");
        let outcome =
            Outcome { stats: fw.core().stats(), link: fw.link_stats(), wall_at_boot_ms, interval_ms };
        drop(fw);

        // Nothing listening: connect fails promptly with the connection error, and the
        // transport then reports that it is not connected.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut dead = MqttTransport::new(DEVICE, GatewayAddr { host: "127.0.0.1".into(), port }, creds.tls);
        let started = Instant::now();
        let err = dead.connect(&["dw/v1/acme/fw-00001/ack"]).expect_err("nothing listens");
        assert!(matches!(err, TransportError::Connection(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "refusal took {:?}", started.elapsed());
        assert!(matches!(dead.poll(&mut [0; 8]), Err(TransportError::NotConnected)));
        assert!(matches!(dead.publish("dw/v1/acme/fw-00001/up", b"x"), Err(TransportError::NotConnected)));
        Ok(outcome)
    })
    .await??;

    let n = RAW.len() as u32;
    let s = outcome.stats;
    assert_eq!((s.boot, s.recorded, s.sent, s.resent), (1, n, n, 0), "{s:?}");
    assert_eq!((s.acked, s.confirmed_seq, s.queued), (n, n, 0), "the commit acks emptied the queue: {s:?}");
    assert_eq!((s.dropped, s.sensor_failed, s.malformed_downlinks), (0, 0, 0), "{s:?}");
    let link = outcome.link;
    assert_eq!((link.connects, link.connect_failures, link.publish_failures), (1, 0, 0), "{link:?}");
    assert_eq!(link.inbound_ignored, 0, "{link:?}");

    let db = stack.db().await?;
    let rows = db
        .query(
            "SELECT boot, seq, temperature_centi_c, rh_centi_pct, surface_temperature_centi_c, co2_ppm, battery_mv, status,
                    time_corrected, extract(epoch FROM device_time)::float8 * 1000
             FROM readings WHERE device_id = $1 ORDER BY boot, seq",
            &[&DEVICE],
        )
        .await?;
    assert_eq!(rows.len(), RAW.len(), "exactly the readings taken are stored");
    for (i, (row, &(raw_t, raw_rh))) in rows.iter().zip(RAW.iter()).enumerate() {
        let m = sht4x::convert(raw_t, raw_rh);
        assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (1, i as i64 + 1));
        // Exactly the hundredths the firmware computed from the chip's raw words.
        let (t, rh): (i32, i32) = (row.get(2), row.get(3));
        assert_eq!(t, m.temperature_centi_c, "reading {}: temperature", i + 1);
        assert_eq!(i64::from(rh), i64::from(m.rh_centi_pct), "reading {}: humidity", i + 1);
        assert_eq!(row.get::<_, Option<i32>>(4), None, "no surface probe fitted");
        assert_eq!(row.get::<_, Option<i32>>(5), None, "no CO2 sensor fitted");
        assert_eq!(row.get::<_, Option<i32>>(6), Some(BATTERY_MV as i32));
        assert_eq!(row.get::<_, i32>(7), 0, "reading {}: no status flags", i + 1);
        assert!(!row.get::<_, bool>(8), "reading {}: a set device clock is not corrected", i + 1);
        let dated = outcome.wall_at_boot_ms + i as u64 * outcome.interval_ms;
        assert!(
            (row.get::<_, f64>(9) - dated as f64).abs() < 1.0,
            "reading {} dated by its sample time",
            i + 1
        );
    }
    let committed: i64 = db
        .query_one("SELECT committed_seq FROM device_positions WHERE device_id = $1 AND boot = 1", &[&DEVICE])
        .await?
        .get(0);
    assert_eq!(committed, i64::from(n));
    let rejected: i64 = db.query_one("SELECT count(*) FROM rejected_messages", &[]).await?.get(0);
    assert_eq!(rejected, 0, "every uplink passed the collector's checks");
    assert!(Instant::now() < test_deadline, "the test overran its minute");
    Ok(())
}

/// Takes one reading per sample interval of uptime, and after each waits (in real time, at
/// the same uptime, so no further sample falls due) until the commit acknowledgement for it
/// has come back through the transport.
fn take_readings<S: Sensor>(fw: &mut Firmware<S, MqttTransport>, interval_ms: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + ACK_DEADLINE;
    for n in 1..=RAW.len() as u32 {
        let uptime = u64::from(n - 1) * interval_ms;
        fw.step(uptime);
        while fw.core().stats().acked < n {
            anyhow::ensure!(
                Instant::now() < deadline,
                "reading {n} not acknowledged within {ACK_DEADLINE:?}: {:?}, {:?}",
                fw.core().stats(),
                fw.link_stats()
            );
            thread::sleep(STEP_PAUSE);
            fw.step(uptime);
        }
    }
    Ok(())
}

/// The I2C transactions of one high-precision SHT4x measurement per reading.
fn sht4x_measurements() -> Vec<I2c> {
    RAW.iter()
        .flat_map(|&(raw_t, raw_rh)| {
            let reply = [raw_t, raw_rh]
                .iter()
                .flat_map(|w| {
                    let b = w.to_be_bytes();
                    [b[0], b[1], crc8(&b)]
                })
                .collect();
            [I2c::write(DEFAULT_ADDRESS, vec![CMD_MEASURE_HIGH_PRECISION]), I2c::read(DEFAULT_ADDRESS, reply)]
        })
        .collect()
}
