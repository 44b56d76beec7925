//! `dampwatch devices add | list | move | revoke` against a real registry and PKI, and what a
//! revocation does to the device's uplinks.

use crate::common::*;
use dampwatch::devices::{run, DevicesCommand, Target};
use dampwatch_collector::Reason;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

async fn devices(cmd: DevicesCommand) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run(cmd, &mut out).await?;
    Ok(String::from_utf8(out)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_list_move_and_revoke_a_device() -> anyhow::Result<()> {
    let env = start_env().await?;
    // The demo's layout: DIR/database-url and DIR/pki.
    let data_dir = env.dir.path().to_path_buf();
    std::fs::write(data_dir.join("database-url"), format!("{}\n", env.pg.url()))?;
    let target = Target { database_url: None, data_dir: Some(data_dir), pki_dir: None, bundles_dir: None };

    let out = devices(DevicesCommand::Add {
        target: target.clone(),
        landlord: "acme".into(),
        device: "kitchen-1".into(),
        public_key: None,
        days: 90,
        dwelling: Some("FLAT-7".into()),
        room: Some("kitchen".into()),
    })
    .await?;
    assert!(out.contains("issued certificate serial"), "{out}");
    assert!(out.contains("registered kitchen-1 (landlord acme)"), "{out}");
    assert!(out.contains("placed kitchen-1 in FLAT-7 / kitchen"), "{out}");
    let pki = dampwatch_pki::Paths::new(env.pki());
    assert!(pki.device_cert("kitchen-1").exists());
    // The device's private keys are in its bundle (DIR/device-bundles), not in the PKI.
    let bundle = dampwatch_pki::Bundle::of(&env.bundles(), "kitchen-1");
    assert!(bundle.is_complete() && out.contains(&bundle.dir().display().to_string()), "{out}");
    assert!(dampwatch_pki::device_keys_in_pki(&env.pki())?.is_empty());
    let mut kept: Vec<_> = std::fs::read_dir(pki.device_dir("kitchen-1"))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    kept.sort();
    assert_eq!(kept, ["cert.pem", "signing-key.pub"]);
    // A device whose keys were made elsewhere (RFC 8032's first test key).
    let add_elsewhere = |device: &str, key: &str| DevicesCommand::Add {
        target: target.clone(),
        landlord: "acme".into(),
        device: device.into(),
        public_key: Some(key.into()),
        days: 90,
        dwelling: None,
        room: None,
    };
    let made_elsewhere = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let out = devices(add_elsewhere("hall-1", made_elsewhere)).await?;
    assert!(out.contains("registered hall-1") && !out.contains("issued"), "{out}");
    let dup = devices(add_elsewhere("hall-1", made_elsewhere)).await;
    assert!(dup.is_err(), "a device is registered once");
    // A key of mixed order (ed25519-speccheck case 2), under which the verifiers disagree.
    let mixed = "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43";
    let refused = devices(add_elsewhere("hall-2", mixed)).await.expect_err("refused");
    assert!(format!("{refused:#}").contains("prime order"), "{refused:#}");

    // The issued credentials work end to end.
    // Registry entries are not cached (read at every batch), so the revocation below holds
    // for the very next uplink.
    let mut config = env.collector_config("collector", "");
    config.intake.registry_cache = Duration::ZERO;
    let collector = dampwatch_collector::Collector::start(config).await?;
    let seed = bundle.signing_seed()?;
    let spec = DeviceSpec {
        landlord: "acme".into(),
        device: "kitchen-1".into(),
        seed,
        boot: 1,
        tls: fleet::device_tls(&env.bundles(), "kitchen-1")?,
    };
    let outcomes = run_fleet(vec![spec.clone()], env.plan(12, None, 60), CancellationToken::new()).await?;
    assert_exactly_once(&env, &outcomes).await?;

    let list =
        devices(DevicesCommand::List { target: target.clone(), landlord: Some("acme".into()) }).await?;
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("DEVICE") && lines[0].contains("LAST READING"), "{list}");
    let hall = lines.iter().find(|l| l.starts_with("hall-1")).expect("hall-1 listed");
    assert!(hall.contains("active") && hall.contains(" - "), "{hall}");
    let kitchen = lines.iter().find(|l| l.starts_with("kitchen-1")).expect("kitchen-1 listed");
    assert!(
        kitchen.contains("FLAT-7") && kitchen.contains("kitchen") && kitchen.contains("boot 1 seq 12"),
        "{kitchen}"
    );
    assert!(kitchen.contains("0 queue, 0 sensor"), "{kitchen}");
    assert!(list.ends_with("2 device(s)\n"));

    let out = devices(DevicesCommand::Move {
        target: target.clone(),
        device: "kitchen-1".into(),
        dwelling: "FLAT-8".into(),
        room: "bedroom".into(),
        address: Some("8 High Street".into()),
    })
    .await?;
    assert_eq!(out, "placed kitchen-1 in FLAT-8 / bedroom\n");
    let db = env.db().await?;
    let row = db
        .query_one(
            "SELECT w.reference, w.address, r.name FROM devices d JOIN rooms r ON r.id = d.room_id
             JOIN dwellings w ON w.id = r.dwelling_id WHERE d.id = 'kitchen-1'",
            &[],
        )
        .await?;
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, String>(2)),
        ("FLAT-8".into(), "8 High Street".into(), "bedroom".into())
    );
    let moved = devices(DevicesCommand::Move {
        target: target.clone(),
        device: "nobody".into(),
        dwelling: "FLAT-8".into(),
        room: "bedroom".into(),
        address: None,
    })
    .await;
    assert!(moved.is_err(), "an unknown device cannot be placed");

    let out = devices(DevicesCommand::Revoke { target: target.clone(), device: "kitchen-1".into() }).await?;
    assert!(out.contains("kitchen-1 is revoked in the registry"), "{out}");
    assert!(out.contains("added to the CRL"), "{out}");
    let revoked = dampwatch_pki::list(&env.pki(), chrono::Utc::now())?
        .into_iter()
        .filter(|c| c.name == "kitchen-1")
        .all(|c| c.status == dampwatch_pki::RotationStatus::Revoked);
    assert!(revoked, "every certificate of the device is on the CRL");
    let out = devices(DevicesCommand::Revoke { target: target.clone(), device: "hall-1".into() }).await?;
    assert!(out.contains("no certificate for hall-1"), "{out}");
    let list = devices(DevicesCommand::List { target, landlord: None }).await?;
    assert!(list.lines().filter(|l| l.contains("revoked")).count() == 2, "{list}");

    // The collector refuses the revoked device's uplinks (the gateway would refuse the
    // connection once it reloads the CRL; the registry check does not wait for that).
    let m = collector.metrics();
    let mut plan = env.plan(3, None, 15);
    plan.deadline = std::time::Instant::now() + Duration::from_secs(8);
    let mut again = spec;
    again.boot = 2;
    let _ = run_fleet(vec![again], plan, CancellationToken::new()).await;
    eprintln!("revoked uplinks refused by the collector: {}", m.rejected_count(Reason::RevokedDevice));
    let n: i64 = db
        .query_one("SELECT count(*) FROM readings WHERE device_id = 'kitchen-1' AND boot = 2", &[])
        .await?
        .get(0);
    assert_eq!(n, 0, "nothing from a revoked device is stored");
    collector.shutdown().await;
    Ok(())
}
