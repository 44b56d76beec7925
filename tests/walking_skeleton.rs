//! One reading end to end, through every real joint: the firmware core signs it, rumqttc
//! publishes it over mutual TLS to the gateway, the embedded broker hands it to the collector,
//! the collector verifies the signature and stores it in PostgreSQL, and the commit position
//! it publishes back, signed with the collector's downlink key, releases the reading from the
//! device's queue.

use dampwatch_firmware::{Config, DeviceCore, Identity, Sample};
use dampwatch_tests::Stack;
use rumqttc::{Event, Packet, QoS};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_reading_reaches_the_database_and_is_confirmed() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let seed = stack.provision("acme", "kitchen-1").await?.seed;
    let identity = Identity::new("kitchen-1", "acme", 1, seed, stack.collector_keys()?)?;
    let mut core = DeviceCore::new(identity, 1, Config::default());
    let wall_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    core.set_wall_clock(wall_ms, 0);
    let sample =
        Sample { temperature_centi_c: 1875, rh_centi_pct: 8230, battery_mv: 3010, ..Default::default() };
    assert_eq!(core.record(sample, 0), Some(1));

    let (client, mut events) = stack.device_client("kitchen-1")?;
    client.subscribe(core.ack_topic().as_str(), QoS::AtLeastOnce).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut published = false;
    while core.stats().acked < 1 {
        let event = tokio::time::timeout_at(deadline, events.poll()).await??;
        match event {
            Event::Incoming(Packet::SubAck(_)) if !published => {
                core.on_connected(0);
                let mut buf = [0u8; dampwatch_firmware::uplink::UPLINK_BUFFER_LEN];
                while let Some(n) = core.poll_uplink(0, &mut buf) {
                    client
                        .publish(core.uplink_topic().as_str(), QoS::AtLeastOnce, false, buf[..n].to_vec())
                        .await?;
                }
                published = true;
            }
            Event::Incoming(Packet::Publish(p)) if p.topic == core.ack_topic().as_str() => {
                core.on_ack(&p.payload, 0).map_err(|e| anyhow::anyhow!("bad ack: {e:?}"))?;
            }
            _ => {}
        }
    }
    let stats = core.stats();
    assert_eq!((stats.sent, stats.acked, stats.queued), (1, 1, 0));

    let db = stack.db().await?;
    let row = db
        .query_one(
            "SELECT boot, seq, temperature_centi_c, rh_centi_pct, battery_mv, time_corrected, length(uplink_digest)
             FROM readings WHERE device_id = 'kitchen-1'",
            &[],
        )
        .await?;
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, i64>(1), 1);
    // The device's own hundredths, exactly.
    assert_eq!(row.get::<_, i32>(2), 1875);
    assert_eq!(row.get::<_, i32>(3), 8230);
    assert_eq!(row.get::<_, i32>(4), 3010);
    assert!(!row.get::<_, bool>(5), "a current device time is not corrected");
    assert_eq!(row.get::<_, i32>(6), 32, "the reading points at its signed uplink");
    // The stored evidence re-verifies with the registered key.
    let up = db
        .query_one(
            "SELECT u.payload, u.signature, d.signing_public_key FROM uplinks u JOIN devices d ON d.id = u.device_id
             WHERE u.device_id = 'kitchen-1'",
            &[],
        )
        .await?;
    dampwatch_proto_verify(up.get(2), up.get(0), up.get(1))?;
    let pos: i64 = db
        .query_one(
            "SELECT committed_seq FROM device_positions WHERE device_id = 'kitchen-1' AND boot = 1",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(pos, 1);
    Ok(())
}

fn dampwatch_proto_verify(pk: Vec<u8>, payload: Vec<u8>, sig: Vec<u8>) -> anyhow::Result<()> {
    dampwatch_proto::verify_uplink("kitchen-1", &pk, &payload, &sig).map_err(|e| anyhow::anyhow!("{e}"))
}
