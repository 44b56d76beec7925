//! The simulator end to end: provisioned devices with their own certificates, over mutual TLS
//! through the real gateway, into the real collector and PostgreSQL; every reading sent is
//! confirmed and stored exactly once.

use crate::support::{run_sim, SimStack, Stack};
use dampwatch_sim::Scenario;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reading_sent_is_confirmed_and_stored_exactly_once() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let args = stack.sim_args(Scenario::Mixed, 20, 600.0, Duration::from_secs(10));
    let first = run_sim(args.clone()).await?;
    assert_eq!(first.devices, 20);
    // 100 simulated minutes at one reading per ten: about 10 per device, fewer for the
    // unplugged ones.
    assert!(first.sent >= 150, "{first}");
    assert_eq!((first.acked, first.queued, first.dropped), (first.sent, 0, 0), "{first}");
    assert_eq!(first.recorded, first.sent);
    let (stored, distinct) = stack.reading_counts().await?;
    assert_eq!(stored, first.sent as i64, "the database holds exactly the readings sent");
    assert_eq!(distinct, stored, "no reading twice");

    let db = stack.db().await?;
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE time_corrected),
                    count(*) FILTER (WHERE sampled_at < to_timestamp($1::float8 / 1000)
                                        OR sampled_at > to_timestamp($2::float8 / 1000)),
                    count(DISTINCT device_id)
             FROM readings WHERE device_id LIKE 'sim-%'",
            &[&(first.span.from_ms as f64), &(first.span.to_ms as f64)],
        )
        .await?;
    assert_eq!(row.get::<_, i64>(0), 0, "simulated times are plausible: none corrected");
    assert_eq!(row.get::<_, i64>(1), 0, "every reading is dated inside the simulated span");
    assert_eq!(row.get::<_, i64>(2), 20);
    // Every device's readings are numbered 1..=n in its boot, without gaps.
    let gaps: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT device_id, boot FROM readings WHERE device_id LIKE 'sim-%'
             GROUP BY device_id, boot HAVING max(seq) <> count(*) OR min(seq) <> 1) g",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(gaps, 0);
    // No uplink was refused (a resent one may be quarantined as a replay, which is harmless).
    let refused: i64 =
        db.query_one("SELECT count(*) FROM rejected_messages WHERE reason <> 'replayed'", &[]).await?.get(0);
    assert_eq!(refused, 0, "every uplink passed the collector's checks");

    // The devices' private keys are in their bundles, none in the PKI.
    assert!(dampwatch_pki::device_keys_in_pki(&stack.pki())?.is_empty());
    let bundle = dampwatch_pki::Bundle::of(&stack.bundles(), "sim-00001");
    assert!(bundle.is_complete());
    // One device as an earlier release left it: its keys in the PKI, no bundle. Provisioning
    // moves them back into the bundle and the device runs on.
    let old = dampwatch_pki::Paths::new(stack.pki()).device_dir("sim-00001");
    std::fs::copy(bundle.key(), old.join("key.pem"))?;
    std::fs::copy(bundle.signing_key(), old.join("signing-key.pem"))?;
    std::fs::remove_dir_all(bundle.dir())?;
    assert_eq!(dampwatch_pki::device_keys_in_pki(&stack.pki())?, ["sim-00001"]);

    // Again with the same devices: provisioning reuses them, and the new run is a new boot, so
    // its readings are stored next to the first run's rather than taken for duplicates.
    let args = stack.sim_args(Scenario::Healthy, 20, 600.0, Duration::from_secs(3));
    let second = run_sim(args).await?;
    assert_eq!((second.acked, second.queued, second.dropped), (second.sent, 0, 0), "{second}");
    let (stored, distinct) = stack.reading_counts().await?;
    assert_eq!(stored, (first.sent + second.sent) as i64);
    assert_eq!(distinct, stored);
    let boots: i64 = db
        .query_one("SELECT count(DISTINCT boot) FROM readings WHERE device_id = 'sim-00001'", &[])
        .await?
        .get(0);
    assert_eq!(boots, 2);
    assert!(dampwatch_pki::device_keys_in_pki(&stack.pki())?.is_empty());
    assert!(bundle.is_complete());
    Ok(())
}
