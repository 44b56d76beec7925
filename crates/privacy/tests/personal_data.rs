//! Tenancies' personal data against a real PostgreSQL: stored only sealed, bound to its row and
//! landlord, re-sealed by rotation, re-wrapped under a new master key, and gone for good after
//! a landlord's erasure while other landlords keep theirs.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use dampwatch_pg::PrivatePostgres;
use dampwatch_privacy::occupants::{open_occupants, record_occupants};
use dampwatch_privacy::{
    add_tenancy, erase_device_data, erase_landlord, open_tenancy, rewrap_all, rotate_landlord_key,
    tenancies_of_dwelling, MasterKeyFile, NewTenancy, Personal, PrivacyError,
};
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::Client;

static CLUSTER: OnceCell<PrivatePostgres> = OnceCell::const_new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);
/// Roles are per cluster (migrations create them): one migration at a time.
static MIGRATING: Mutex<()> = Mutex::const_new(());

const NORTH: &str = "north-homes";
const SOUTH: &str = "south-homes";
const NAME: &str = "Ada Quinlan-Okafor";

async fn database() -> Client {
    database_and_url().await.0
}

/// A fresh, migrated database and its URL (for a second connection).
async fn database_and_url() -> (Client, String) {
    database_at(None).await
}

/// A fresh database migrated to `version` (all of them for `None`), with its landlords and
/// homes, and its URL.
async fn database_at(version: Option<i32>) -> (Client, String) {
    let pg = CLUSTER
        .get_or_init(|| async {
            tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
                .await
                .expect("join")
        })
        .await;
    let name = format!("privacy_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
    dampwatch_store::connect(&pg.url())
        .await
        .expect("connect")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let url = pg.url_for(&name);
    let mut db = dampwatch_store::connect(&url).await.expect("connect");
    let _one_at_a_time = MIGRATING.lock().await;
    match version {
        None => dampwatch_store::migrate(&mut db).await.expect("migrate"),
        Some(v) => dampwatch_store::migrate_to(&mut db, v).await.expect("migrate"),
    };
    db.batch_execute(
        "INSERT INTO landlords (id) VALUES ('north-homes'), ('south-homes');
         INSERT INTO dwellings (landlord_id, reference, address) VALUES
             ('north-homes', 'N-1', '1 North Road'), ('north-homes', 'N-2', '2 North Road'),
             ('south-homes', 'S-1', '1 South Street');",
    )
    .await
    .expect("landlords and homes");
    (db, url)
}

fn master_key(dir: &tempfile::TempDir, name: &str) -> MasterKeyFile {
    MasterKeyFile::generate(&dir.path().join(name)).expect("generate master key")
}

fn people(name: &str) -> Personal {
    Personal {
        names: vec![name.to_owned(), "Bo Quinlan".to_owned()],
        phones: vec!["+44 7700 900123".to_owned()],
        emails: vec!["ada@example.org".to_owned()],
        notes: vec!["asthma; prefers morning visits".to_owned()],
    }
}

async fn add(db: &mut Client, master: &MasterKeyFile, landlord: &str, home: &str, name: &str) -> i64 {
    let tx = db.transaction().await.unwrap();
    let personal = people(name);
    let id = add_tenancy(
        &tx,
        master,
        &NewTenancy {
            landlord_id: landlord,
            dwelling_reference: home,
            starts_on: NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            ends_on: None,
            personal: &personal,
        },
    )
    .await
    .expect("add tenancy");
    tx.commit().await.unwrap();
    id
}

/// Records `vulnerability` for the occupants of `landlord`'s home `home`, sealed; returns the
/// home's id.
async fn record_occupant(
    db: &mut Client,
    master: &MasterKeyFile,
    landlord: &str,
    home: &str,
    vulnerability: &str,
) -> i64 {
    let tx = db.transaction().await.unwrap();
    let id: i64 = tx
        .query_one("SELECT id FROM dwellings WHERE landlord_id = $1 AND reference = $2", &[&landlord, &home])
        .await
        .unwrap()
        .get(0);
    let rules = ["cold.below_18c_vulnerable".to_owned()].into();
    record_occupants(&tx, Some(master), landlord, id, &[vulnerability.to_owned()].into(), &rules)
        .await
        .expect("record occupants");
    tx.commit().await.unwrap();
    id
}

/// (sealed record, its key generation, the clear selection) of home `id`.
async fn home_record(db: &Client, id: i64) -> (Option<Vec<u8>>, Option<i32>, Vec<String>) {
    let row = db
        .query_one(
            "SELECT occupants, occupants_key_generation, occupant_rules FROM dwellings WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn stored(db: &Client, id: i64) -> Vec<u8> {
    db.query_one("SELECT personal FROM tenancies WHERE id = $1", &[&id]).await.unwrap().get(0)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_stored_column_never_holds_the_plaintext_and_opening_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let master = master_key(&dir, "master.key");
    let mut db = database().await;
    let id = add(&mut db, &master, NORTH, "N-1", NAME).await;

    let sealed = stored(&db, id).await;
    for clear in [NAME, "Quinlan", "7700 900123", "ada@example.org", "asthma"] {
        assert!(!contains(&sealed, clear), "{clear:?} is in the stored column");
    }
    // Nowhere else in the row or the keys table either.
    let text: String = db
        .query_one("SELECT t::text || k::text FROM tenancies t, landlord_data_keys k WHERE t.id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert!(!text.contains("Quinlan"));

    let tenancy = open_tenancy(&db, &master, id).await.unwrap().expect("tenancy");
    assert_eq!(tenancy.personal, people(NAME));
    assert_eq!(tenancy.key_generation, 1);
    assert_eq!(tenancy.dwelling_reference, "N-1");
    let listed = tenancies_of_dwelling(&db, &master, NORTH, "N-1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].personal.names[0], NAME);
    assert!(!format!("{:?}", listed[0]).contains("Quinlan"), "Debug shows personal data");
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_tenancy_or_landlord_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let master = master_key(&dir, "master.key");
    let mut db = database().await;
    let a = add(&mut db, &master, NORTH, "N-1", NAME).await;
    let b = add(&mut db, &master, NORTH, "N-2", "Someone Else").await;
    let s = add(&mut db, &master, SOUTH, "S-1", "Another Person").await;

    // Within the landlord: same key, another row.
    db.execute(
        "UPDATE tenancies SET personal = (SELECT personal FROM tenancies WHERE id = $1) WHERE id = $2",
        &[&a, &b],
    )
    .await
    .unwrap();
    let err = open_tenancy(&db, &master, b).await.unwrap_err();
    assert!(matches!(err, PrivacyError::DoesNotOpen(_)), "{err}");
    assert!(err.to_string().contains("changed, or moved"), "{err}");

    // To another landlord's row.
    db.execute(
        "UPDATE tenancies SET personal = (SELECT personal FROM tenancies WHERE id = $1) WHERE id = $2",
        &[&a, &s],
    )
    .await
    .unwrap();
    assert!(open_tenancy(&db, &master, s).await.is_err());

    // A row moved to another landlord (its id kept) does not open under that landlord either.
    let c = add(&mut db, &master, NORTH, "N-2", "Third Person").await;
    let south_home: i64 =
        db.query_one("SELECT id FROM dwellings WHERE reference = 'S-1'", &[]).await.unwrap().get(0);
    db.execute(
        "UPDATE tenancies SET landlord_id = 'south-homes', dwelling_id = $2 WHERE id = $1",
        &[&c, &south_home],
    )
    .await
    .unwrap();
    assert!(open_tenancy(&db, &master, c).await.is_err());

    // The original still opens.
    assert_eq!(open_tenancy(&db, &master, a).await.unwrap().unwrap().personal.names[0], NAME);
}

#[tokio::test]
async fn rotation_reseals_under_generation_2_and_deletes_the_old_wrapped_key() {
    let dir = tempfile::tempdir().unwrap();
    let master = master_key(&dir, "master.key");
    let mut db = database().await;
    let a = add(&mut db, &master, NORTH, "N-1", NAME).await;
    let b = add(&mut db, &master, NORTH, "N-2", "Someone Else").await;
    let s = add(&mut db, &master, SOUTH, "S-1", "Another Person").await;
    let before = stored(&db, a).await;
    let south_before = stored(&db, s).await;
    let north_home = record_occupant(&mut db, &master, NORTH, "N-1", "over_65").await;
    let home_before = home_record(&db, north_home).await;

    let tx = db.transaction().await.unwrap();
    let rotation = rotate_landlord_key(&tx, &master, NORTH).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((rotation.from, rotation.to, rotation.resealed, rotation.homes_resealed), (1, 2, 2, 1));
    // The home's record of its occupants went with the tenancies, to generation 2.
    let home_after = home_record(&db, north_home).await;
    assert_ne!(home_after.0, home_before.0);
    assert_eq!((home_before.1, home_after.1), (Some(1), Some(2)));
    assert_eq!(home_after.2, home_before.2, "the rules' selection is unchanged");
    assert_eq!(open_occupants(&db, &master, NORTH, north_home).await.unwrap().names(), ["over_65"]);

    let after = stored(&db, a).await;
    assert_ne!(before, after);
    assert_eq!(after[1..5], 2u32.to_be_bytes());
    for id in [a, b] {
        let t = open_tenancy(&db, &master, id).await.unwrap().unwrap();
        assert_eq!(t.key_generation, 2);
    }
    assert_eq!(open_tenancy(&db, &master, a).await.unwrap().unwrap().personal, people(NAME));
    let old: Option<Vec<u8>> = db
        .query_one(
            "SELECT wrapped_key FROM landlord_data_keys WHERE landlord_id = $1 AND generation = 1",
            &[&NORTH],
        )
        .await
        .unwrap()
        .get(0);
    assert!(old.is_none(), "the old generation's wrapped key is still stored");
    let retired: bool = db
        .query_one(
            "SELECT retired_at IS NOT NULL FROM landlord_data_keys WHERE landlord_id = $1 AND generation = 1",
            &[&NORTH],
        )
        .await
        .unwrap()
        .get(0);
    assert!(retired);

    // The old ciphertext, put back, no longer opens: its key is gone.
    db.execute("UPDATE tenancies SET personal = $2 WHERE id = $1", &[&a, &before]).await.unwrap();
    let err = open_tenancy(&db, &master, a).await.unwrap_err();
    assert!(matches!(err, PrivacyError::KeyRetired { generation: 1, .. }), "{err}");

    // The other landlord was not touched.
    assert_eq!(stored(&db, s).await, south_before);
    assert_eq!(open_tenancy(&db, &master, s).await.unwrap().unwrap().key_generation, 1);
}

#[tokio::test]
async fn after_rewrapping_under_a_new_master_key_the_old_one_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let old = master_key(&dir, "old.key");
    let new = master_key(&dir, "new.key");
    let mut db = database().await;
    let a = add(&mut db, &old, NORTH, "N-1", NAME).await;
    let s = add(&mut db, &old, SOUTH, "S-1", "Another Person").await;
    let wrapped_before: Vec<Vec<u8>> = db
        .query("SELECT wrapped_key FROM landlord_data_keys ORDER BY landlord_id", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();

    let tx = db.transaction().await.unwrap();
    assert_eq!(rewrap_all(&tx, &old, &new).await.unwrap(), 2);
    tx.commit().await.unwrap();

    assert_eq!(open_tenancy(&db, &new, a).await.unwrap().unwrap().personal, people(NAME));
    assert_eq!(open_tenancy(&db, &new, s).await.unwrap().unwrap().personal.names[0], "Another Person");
    let err = open_tenancy(&db, &old, a).await.unwrap_err();
    assert!(matches!(err, PrivacyError::WrongMasterKey { .. }), "{err}");

    // Not only refused by name: the old master key cannot unwrap the stored keys at all.
    let rows =
        db.query("SELECT landlord_id, generation, wrapped_key FROM landlord_data_keys", &[]).await.unwrap();
    for row in &rows {
        let landlord: String = row.get(0);
        let generation: i32 = row.get(1);
        let wrapped: Vec<u8> = row.get(2);
        assert!(!wrapped_before.contains(&wrapped));
        let context =
            dampwatch_privacy::WrapContext { landlord_id: &landlord, generation: generation as u32 };
        assert!(dampwatch_privacy::MasterKey::unwrap(&old, &wrapped, &context).is_err());
        assert!(dampwatch_privacy::MasterKey::unwrap(&new, &wrapped, &context).is_ok());
    }

    // Running it again re-wraps nothing (an interrupted run can be repeated).
    let tx = db.transaction().await.unwrap();
    assert_eq!(rewrap_all(&tx, &old, &new).await.unwrap(), 0);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_rewrap_waits_for_a_rotation_in_progress_and_leaves_no_key_under_the_old_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let old = master_key(&dir, "old.key");
    let new = master_key(&dir, "new.key");
    let (mut db, url) = database_and_url().await;
    let a = add(&mut db, &old, NORTH, "N-1", NAME).await;

    let watcher = dampwatch_store::connect(&url).await.unwrap();
    // A rotation under the old master key, not yet committed.
    let tx = db.transaction().await.unwrap();
    rotate_landlord_key(&tx, &old, NORTH).await.unwrap();

    let rewrap = tokio::spawn(async move {
        let mut other = dampwatch_store::connect(&url).await.unwrap();
        let tx = other.transaction().await.unwrap();
        let old = MasterKeyFile::open(&dir.path().join("old.key")).unwrap();
        let new = MasterKeyFile::open(&dir.path().join("new.key")).unwrap();
        let n = rewrap_all(&tx, &old, &new).await.unwrap();
        tx.commit().await.unwrap();
        n
    });
    // The re-wrap is held back by the rotation's lock (seen waiting in pg_stat_activity); it
    // reads the new generation once the rotation commits.
    let started = std::time::Instant::now();
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the re-wrap never waited");
        tokio::task::yield_now().await;
    }
    tx.commit().await.unwrap();
    assert_eq!(rewrap.await.unwrap(), 1);

    let under_old: i64 = db
        .query_one(
            "SELECT count(*) FROM landlord_data_keys WHERE wrapped_key IS NOT NULL AND master_key_id <> $1",
            &[&dampwatch_privacy::MasterKey::id(&new)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(under_old, 0);
    let t = open_tenancy(&db, &new, a).await.unwrap().unwrap();
    assert_eq!((t.key_generation, t.personal.names[0].as_str()), (2, NAME));
}

async fn add_device_data(db: &Client, landlord: &str, device: &str, readings: i64) {
    let key = vec![7u8; 32];
    db.execute(
        "INSERT INTO devices (id, landlord_id, signing_public_key) VALUES ($1, $2, $3)",
        &[&device, &landlord, &key],
    )
    .await
    .unwrap();
    for seq in 1..=readings {
        let digest = format!("{device}-{seq}").into_bytes();
        db.execute(
            "INSERT INTO uplinks (digest, device_id, key_id, payload, signature, received_at)
             VALUES ($1, $2, 1, '\\x00', '\\x00', now())",
            &[&digest, &device],
        )
        .await
        .unwrap();
        db.execute(
            "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
                                   status, uplink_digest)
             VALUES ($1, 1, $2, now() - make_interval(hours => $4), now(), false, now(), 0, $3)",
            &[&device, &seq, &digest, &(seq as i32)],
        )
        .await
        .unwrap();
        db.execute(
            "INSERT INTO readings_hourly_totals (device_id, hour, readings, temperature_n, temperature_centi_sum,
                                                rh_n, rh_centi_sum)
             VALUES ($1, date_trunc('hour', now()) - make_interval(hours => $2), 1, 0, 0, 0, 0)",
            &[&device, &(seq as i32)],
        )
        .await
        .unwrap();
    }
}

async fn count(db: &Client, table: &str, device: &str) -> i64 {
    db.query_one(&format!("SELECT count(*) FROM {table} WHERE device_id = $1"), &[&device])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn after_erasure_a_landlord_s_tenancies_never_open_and_its_readings_are_gone_while_others_keep_theirs()
{
    let dir = tempfile::tempdir().unwrap();
    let master = master_key(&dir, "master.key");
    let mut db = database().await;
    let a = add(&mut db, &master, NORTH, "N-1", NAME).await;
    let b = add(&mut db, &master, NORTH, "N-2", "Someone Else").await;
    let s = add(&mut db, &master, SOUTH, "S-1", "Another Person").await;
    add_device_data(&db, NORTH, "north-bedroom", 25).await;
    add_device_data(&db, SOUTH, "south-bedroom", 5).await;
    let north_home = record_occupant(&mut db, &master, NORTH, "N-1", "respiratory_condition").await;
    let south_home = record_occupant(&mut db, &master, SOUTH, "S-1", "under_5").await;

    let tx = db.transaction().await.unwrap();
    let erasure = erase_landlord(&tx, NORTH).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((erasure.keys_destroyed, erasure.tenancies, erasure.homes), (1, 2, 1));
    // The home's sealed record never opens again, and the stricter rules it selected are gone
    // with it; the other landlord's home keeps both.
    let err = open_occupants(&db, &master, NORTH, north_home).await.unwrap_err();
    assert!(matches!(err, PrivacyError::KeyErased { .. }), "{err}");
    let (sealed, _, rules) = home_record(&db, north_home).await;
    assert!(sealed.is_some_and(|c| !contains(&c, "respiratory")), "only ciphertext is left");
    assert!(rules.is_empty(), "{rules:?}");
    assert_eq!(open_occupants(&db, &master, SOUTH, south_home).await.unwrap().names(), ["under_5"]);
    assert_eq!(home_record(&db, south_home).await.2, ["cold.below_18c_vulnerable"]);
    let erased = erase_device_data(&db, NORTH, 10).await.unwrap();
    assert_eq!((erased.devices, erased.readings, erased.uplinks, erased.hourly_rollups), (1, 25, 25, 25));

    for id in [a, b] {
        let err = open_tenancy(&db, &master, id).await.unwrap_err();
        assert!(matches!(err, PrivacyError::KeyErased { .. }), "{err}");
        assert!(err.to_string().contains("erased"), "{err}");
    }
    let wrapped: i64 = db
        .query_one("SELECT count(wrapped_key) FROM landlord_data_keys WHERE landlord_id = $1", &[&NORTH])
        .await
        .unwrap()
        .get(0);
    assert_eq!(wrapped, 0);
    for table in ["readings", "uplinks", "readings_hourly_totals"] {
        assert_eq!(count(&db, table, "north-bedroom").await, 0, "{table}");
        assert_eq!(count(&db, table, "south-bedroom").await, 5, "{table}");
    }

    // No new key is made for an erased landlord, and rotation is refused.
    let tx = db.transaction().await.unwrap();
    let personal = people("New Tenant");
    let err = add_tenancy(
        &tx,
        &master,
        &NewTenancy {
            landlord_id: NORTH,
            dwelling_reference: "N-1",
            starts_on: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            ends_on: None,
            personal: &personal,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PrivacyError::KeyErased { .. }), "{err}");
    drop(tx);
    let tx = db.transaction().await.unwrap();
    assert!(matches!(rotate_landlord_key(&tx, &master, NORTH).await, Err(PrivacyError::KeyErased { .. })));
    drop(tx);

    // The other landlord is untouched.
    let t = open_tenancy(&db, &master, s).await.unwrap().unwrap();
    assert_eq!(t.personal.names[0], "Another Person");
}

#[tokio::test]
async fn the_tenant_role_sees_only_its_landlord_s_tenancies_and_never_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let master = master_key(&dir, "master.key");
    let mut db = database().await;
    add(&mut db, &master, NORTH, "N-1", NAME).await;
    add(&mut db, &master, SOUTH, "S-1", "Another Person").await;

    let tx = db.transaction().await.unwrap();
    tx.batch_execute(
        "SET LOCAL ROLE dampwatch_api_tenant; SELECT set_config('dampwatch.landlord', 'north-homes', true)",
    )
    .await
    .unwrap();
    let landlords: Vec<String> = tx
        .query("SELECT landlord_id FROM tenancies", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(landlords, [NORTH]);
    // A home's clear columns, the rules' selection among them, but not its occupants' record
    // nor the keys.
    let homes =
        tx.query("SELECT reference, occupant_rules FROM dwellings ORDER BY reference", &[]).await.unwrap();
    let references: Vec<String> = homes.iter().map(|r| r.get(0)).collect();
    assert_eq!(references, ["N-1", "N-2"], "its landlord's homes only");
    tx.batch_execute("SAVEPOINT refused").await.unwrap();
    for query in [
        "SELECT * FROM landlord_data_keys",
        "SELECT occupants FROM dwellings",
        "SELECT unsealed_vulnerabilities FROM dwellings",
    ] {
        let err = tx.query(query, &[]).await.unwrap_err();
        assert!(format!("{err:?}").contains("permission denied"), "{query}: {err:?}");
        tx.batch_execute("ROLLBACK TO SAVEPOINT refused").await.unwrap();
    }
}

#[cfg(unix)]
#[test]
fn a_master_key_file_that_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let made = MasterKeyFile::generate(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let opened = MasterKeyFile::open(&path).unwrap();
    assert_eq!(dampwatch_privacy::MasterKey::id(&made), dampwatch_privacy::MasterKey::id(&opened));
    assert!(!format!("{opened:?}").contains(&std::fs::read_to_string(&path).unwrap().trim()[..16]));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = MasterKeyFile::open(&path).unwrap_err();
    assert!(matches!(err, PrivacyError::KeyFileOpen { mode: 0o644, .. }), "{err}");
    assert!(err.to_string().contains("0600"), "{err}");

    // Never overwritten.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(MasterKeyFile::generate(&path).is_err());
}

/// (clear selection, categories waiting unsealed, no sealed record) of home `reference`.
async fn upgraded_home(db: &Client, reference: &str) -> (Vec<String>, Vec<String>, bool) {
    let row = db
        .query_one(
            "SELECT occupant_rules, unsealed_vulnerabilities, occupants IS NULL FROM dwellings WHERE reference = $1",
            &[&reference],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// The upgrade that seals the categories (migration 467) on a database of the release before:
/// rooms keep the stricter rules at once, the categories wait apart until `seal-occupants`,
/// an erased landlord's are gone, and what the hazard worker wrote no longer names them.
#[tokio::test]
async fn the_upgrade_keeps_the_stricter_rules_and_takes_the_categories_out_of_what_the_worker_wrote() {
    let (mut db, _) = database_at(Some(466)).await;
    db.batch_execute(
        "UPDATE dwellings SET vulnerabilities = '{over_65,respiratory_condition}' WHERE reference = 'N-1';
         UPDATE dwellings SET vulnerabilities = '{under_5}' WHERE reference = 'S-1';
         INSERT INTO landlord_data_keys (landlord_id, generation, wrapped_key, master_key_id, destroyed_at)
             VALUES ('south-homes', 1, NULL, '', now());
         INSERT INTO rooms (dwelling_id, name) SELECT id, 'lounge' FROM dwellings WHERE reference = 'N-1';
         INSERT INTO room_hazard_state (room_key, landlord_id, room_id, state, ruleset_version, evaluated_at)
             SELECT 'room:' || id, 'north-homes', id, '{}', 'rules-1+occupants-2026-12:over_65,respiratory_condition',
                    now() FROM rooms;
         INSERT INTO alerts (landlord_id, room_key, room_id, device_id, hazard, status, severity, since, raised_at,
                 updated_at, rule_ids, ruleset_version, summary, explanation, triage)
             SELECT 'north-homes', 'room:' || id, id, NULL, 'excess_cold', 'open', 'amber', now(), now(), now(),
                    ARRAY['cold.below_18c_vulnerable'], 'rules-1+occupants-2026-12:over_65,respiratory_condition',
                    'Below 18 °C for 6 h',
                    jsonb_build_object('findings', jsonb_build_array(jsonb_build_object('rule', jsonb_build_object(
                        'id', 'cold.below_18c_vulnerable',
                        'basis', 'Below 18 °C sustained for 6 h. Applies instead of cold.below_16c because the home records an occupant aged 65 or over, an occupant with a respiratory (lung) condition (occupants-2026-12). Source: UKHSA.')))),
                    'awaiting_triage'
             FROM rooms;",
    )
    .await
    .expect("a home, its room's state and an alert as the release before wrote them");
    dampwatch_store::migrate(&mut db).await.expect("migrate");

    let both = ["cold.below_18c_vulnerable", "heat.above_24c_vulnerable"].map(String::from).to_vec();
    let waiting = ["over_65", "respiratory_condition"].map(String::from).to_vec();
    assert_eq!(
        upgraded_home(&db, "N-1").await,
        (both.clone(), waiting, true),
        "the rules at once; the categories wait apart"
    );
    assert_eq!(
        upgraded_home(&db, "S-1").await,
        (Vec::new(), Vec::new(), true),
        "an erased landlord's categories are gone"
    );

    let alert = db.query_one("SELECT ruleset_version, explanation::text FROM alerts", &[]).await.unwrap();
    let (version, explanation): (String, String) = (alert.get(0), alert.get(1));
    assert_eq!(version, "rules-1+occupants-2026-12:sealed");
    assert!(
        explanation.contains(
            "because the home records an occupant these rules protect (occupants-2026-12). Source: UKHSA."
        ),
        "{explanation}"
    );
    for category in ["aged 65", "respiratory", "over_65"] {
        assert!(!explanation.contains(category), "{category} left in {explanation}");
    }
    let state: String =
        db.query_one("SELECT ruleset_version FROM room_hazard_state", &[]).await.unwrap().get(0);
    assert_eq!(state, "rules-1+occupants-2026-12:sealed");

    // Sealing them is the operator's next step: afterwards nothing waits in clear.
    let dir = tempfile::tempdir().unwrap();
    let master = master_key(&dir, "master.key");
    let tx = db.transaction().await.unwrap();
    assert_eq!(dampwatch_privacy::occupants::seal_unsealed(&tx, &master, None).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(upgraded_home(&db, "N-1").await, (both, Vec::new(), false));
}
