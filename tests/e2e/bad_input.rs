//! Hostile and broken input, published with real device certificates through the real gateway
//! (the gateway only lets a device publish on its own topic, so the content is forged, not the
//! topic). Every message is refused or corrected, counted, and kept in the quarantine with its
//! reason and raw bytes, while a good device's readings keep being stored exactly once.

use crate::common::*;
use crate::crafted::*;
use dampwatch_collector::Reason;
use dampwatch_proto::v1::SignedUplink;
use prost::Message;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_or_corrected_counted_and_quarantined() -> anyhow::Result<()> {
    let env = start_env().await?;
    let collector = env.start_collector("collector", "").await?;
    let m = collector.metrics();
    let good = env.provision_many("acme", "good", 2).await?;
    let fleet = run_fleet(good, env.plan(150, Some(20.0), 120), CancellationToken::new());

    let forger = env.provision("acme", "forger").await?;
    let other = env.provision("acme", "other").await?;
    let revoked = env.provision("acme", "revoked").await?;
    let late = env.provision("acme", "late").await?;
    // Registered now (not at the epoch): readings dated before this are implausible.
    let fresh_issue =
        dampwatch_pki::issue_device(&env.pki(), &env.bundles(), "acme", "fresh", Default::default())?;
    let fresh_seed = fresh_issue.bundle.signing_seed()?;
    dampwatch_store::registry::add_device(
        &env.db().await?,
        &dampwatch_store::registry::NewDevice {
            id: "fresh",
            landlord: "acme",
            public_key: &fresh_issue.signing_public_key,
            key_id: 1,
            cert_serial: None,
            provisioned_at: None,
        },
    )
    .await?;
    let fresh = DeviceSpec {
        landlord: "acme".into(),
        device: "fresh".into(),
        seed: fresh_seed,
        boot: 1,
        tls: fleet::device_tls(&env.bundles(), "fresh")?,
    };
    // A certificate from the PKI, but never registered.
    let stranger_seed =
        dampwatch_pki::issue_device(&env.pki(), &env.bundles(), "acme", "stranger", Default::default())?
            .bundle
            .signing_seed()?;
    let stranger = DeviceSpec {
        landlord: "acme".into(),
        device: "stranger".into(),
        seed: stranger_seed,
        boot: 1,
        tls: fleet::device_tls(&env.bundles(), "stranger")?,
    };
    dampwatch_store::registry::revoke_device(&env.db().await?, "revoked").await?;

    let t = now_ms();
    // Forged signature: a valid uplink with one signature bit flipped.
    let mut forged =
        SignedUplink::decode(signed(&forger, &uplink("forger", 1, vec![reading(1, t, 2000)])).as_slice())?;
    forged.signature[10] ^= 0x01;
    let forged = forged.encode_to_vec();
    // Another device's genuine uplink, replayed on the forger's topic.
    let others_uplink = signed(&other, &uplink("other", 1, vec![reading(1, t, 2000)]));
    // The forger signs a payload that names another device.
    let names_other = signed(&forger, &uplink("other", 1, vec![reading(2, t, 2000)]));
    // Truncated and random bytes.
    let valid = signed(&forger, &uplink("forger", 1, vec![reading(3, t, 2000)]));
    let truncated = valid[..valid.len() / 2].to_vec();
    let mut random: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    random[0] = 0xff; // field 31 with wire type 7, which does not exist: undecodable

    publish_raw(
        &env,
        &forger,
        &[forged.clone(), others_uplink.clone(), names_other.clone(), truncated.clone(), random.clone()],
    )
    .await?;

    // Unknown and revoked devices, with perfectly valid uplinks.
    let unknown = signed(&stranger, &uplink("stranger", 1, vec![reading(1, t, 2000)]));
    publish_raw(&env, &stranger, std::slice::from_ref(&unknown)).await?;
    let from_revoked = signed(&revoked, &uplink("revoked", 1, vec![reading(1, t, 2000)]));
    publish_raw(&env, &revoked, std::slice::from_ref(&from_revoked)).await?;

    // Replay: the same signed bytes twice. Out of range and future times: stored, flagged.
    let once = signed(&late, &uplink("late", 1, vec![reading(1, t, 2000), reading(2, t, 2010)]));
    let hot = signed(&late, &uplink("late", 1, vec![reading(3, t, 20_000)]));
    let future = signed(&late, &uplink("late", 1, vec![reading(4, t + 2 * 86_400_000, 2000)]));
    publish_raw(&env, &late, &[once.clone(), once.clone(), hot.clone(), future.clone()]).await?;
    let before_provisioning = signed(&fresh, &uplink("fresh", 1, vec![reading(1, 1_600_000_000_000, 2000)]));
    publish_raw(&env, &fresh, std::slice::from_ref(&before_provisioning)).await?;

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    let all_counted = eventually_true(Duration::from_secs(20), || async {
        m.rejected_count(Reason::TimeCorrected) >= 2 && m.rejected_count(Reason::UnknownDevice) >= 1
    })
    .await;
    assert!(all_counted, "every bad message reached the collector");

    // Counted by reason.
    for (reason, n) in [
        (Reason::BadSignature, 2),
        (Reason::DeviceMismatch, 1),
        (Reason::UnknownDevice, 1),
        (Reason::RevokedDevice, 1),
        (Reason::Replayed, 1),
        (Reason::OutOfRange, 1),
        (Reason::TimeCorrected, 2),
    ] {
        assert_eq!(m.rejected_count(reason), n, "{reason}");
    }
    assert_eq!(m.rejected_count(Reason::MalformedEnvelope), 2, "truncated and random bytes");

    // Quarantined with reason and raw bytes.
    let q = quarantined(&env, "forger").await?;
    assert!(q.contains(&("bad_signature".into(), forged)));
    assert!(
        q.contains(&("bad_signature".into(), others_uplink)),
        "another device's uplink does not verify here"
    );
    assert!(q.contains(&("device_mismatch".into(), names_other)));
    assert!(q.contains(&("malformed_envelope".into(), truncated)));
    assert!(q.contains(&("malformed_envelope".into(), random)));
    assert_eq!(quarantined(&env, "stranger").await?, vec![("unknown_device".into(), unknown)]);
    assert_eq!(quarantined(&env, "revoked").await?, vec![("revoked_device".into(), from_revoked)]);
    let q = quarantined(&env, "late").await?;
    assert!(q.contains(&("replayed".into(), once)));
    assert!(q.contains(&("out_of_range".into(), hot)));
    assert!(q.contains(&("time_corrected".into(), future)));
    assert_eq!(quarantined(&env, "fresh").await?, vec![("time_corrected".into(), before_provisioning)]);

    // Nothing refused reached the readings; flagged readings are kept, each once.
    let db = env.db().await?;
    for device in ["forger", "other", "stranger", "revoked"] {
        let n: i64 =
            db.query_one("SELECT count(*) FROM readings WHERE device_id = $1", &[&device]).await?.get(0);
        assert_eq!(n, 0, "{device}");
    }
    let rows = db
        .query(
            "SELECT seq, temperature_centi_c, status, time_corrected, sampled_at <= received_at + interval '1 minute',
                    device_time > now() + interval '1 day'
             FROM readings WHERE device_id = 'late' ORDER BY seq",
            &[],
        )
        .await?;
    assert_eq!(rows.len(), 4, "the replay stored nothing twice");
    assert!(rows[2].get::<_, Option<i32>>(1).is_none(), "200 degrees is stored as missing");
    assert_ne!(rows[2].get::<_, i32>(2) & (1 << 17), 0, "and flagged");
    assert!(rows[3].get::<_, bool>(3) && rows[3].get::<_, bool>(4) && rows[3].get::<_, bool>(5));
    assert!(m.readings_duplicate.get() >= 2, "the replayed uplink's two readings");
    let corrected: bool =
        db.query_one("SELECT time_corrected FROM readings WHERE device_id = 'fresh'", &[]).await?.get(0);
    assert!(corrected, "a time before provisioning is corrected");

    let text = m.render();
    assert!(text.contains("dampwatch_collector_rejected_total{reason=\"bad_signature\"} 2"), "{text}");
    collector.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_database_refuses_is_isolated_and_quarantined() -> anyhow::Result<()> {
    let env = start_env().await?;
    // An operator's trigger that refuses one value: the batch holding it fails as a whole.
    env.db()
        .await?
        .batch_execute(
            "CREATE FUNCTION refuse_4242() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.battery_mv = 4242 THEN RAISE EXCEPTION 'battery reading 4242 refused'; END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_4242 BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION refuse_4242();",
        )
        .await?;
    let mut cfg = env.collector_config("collector", "");
    // A long linger, so the poison and good uplinks share batches.
    cfg.intake.linger = Duration::from_millis(300);
    let collector = dampwatch_collector::Collector::start(cfg).await?;
    let m = collector.metrics();
    let good = env.provision_many("acme", "fine", 3).await?;
    let fleet = run_fleet(good, env.plan(150, Some(30.0), 120), CancellationToken::new());

    let poisoner = env.provision("acme", "poisoner").await?;
    let mut r = reading(1, now_ms(), 2000);
    r.battery_mv = 4242;
    let poison = signed(&poisoner, &uplink("poisoner", 1, vec![r]));
    let fine = signed(&poisoner, &uplink("poisoner", 1, vec![reading(2, now_ms(), 2000)]));
    collector.ready().await;
    publish_raw(&env, &poisoner, &[poison.clone(), fine.clone()]).await?;

    let outcomes = fleet.await?;
    assert_exactly_once(&env, &outcomes).await?;
    assert!(
        eventually_true(Duration::from_secs(20), || async { m.rejected_count(Reason::StoreFailed) == 1 })
            .await
    );
    let q = quarantined(&env, "poisoner").await?;
    assert_eq!(q, vec![("store_failed".into(), poison)]);
    let db = env.db().await?;
    let detail: String =
        db.query_one("SELECT detail FROM rejected_messages WHERE reason = 'store_failed'", &[]).await?.get(0);
    assert!(detail.contains("battery reading 4242 refused"), "{detail}");
    let seqs: Vec<i64> = db
        .query("SELECT seq FROM readings WHERE device_id = 'poisoner'", &[])
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, vec![2], "the good uplink behind the poison is stored");
    collector.shutdown().await;
    Ok(())
}
