//! Encrypted backups restore, and the restore proves itself: backup → drop the database →
//! restore into a new database → every uplink's signature, every case chain and the audit log
//! verify. A changed byte, a wrong key or an existing database restore nothing; a changed
//! uplink, event or audit entry in a restored database is found and named.

use std::io::{BufRead as _, Read as _};
use std::path::Path;

use chrono::Utc;
use dampwatch::audit::Verdict;
use dampwatch::backup::BackupCommand;
use dampwatch_backup::{AuditCheck, BackupError, BackupOptions, RestoreOptions};
use dampwatch_bench::restore::{seed, Plan};
use dampwatch_pg::PrivatePostgres;
use std::str::FromStr as _;

const PLAN: Plan = Plan { devices: 6, uplinks_per_device: 40, readings_per_uplink: 5, cases: 6 };

/// A private cluster holding a seeded database with a signed audit checkpoint, and the
/// checkpoint key's public half.
async fn seeded() -> anyhow::Result<(PrivatePostgres, [u8; 32])> {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await??;
    let mut db = dampwatch_store::connect(&pg.url()).await?;
    dampwatch_store::migrate(&mut db).await?;
    seed(&mut db, PLAN, Utc::now()).await?;
    let signer = dampwatch_audit::CheckpointSigner::from_seed("audit-key-1", &[9; 32])?;
    dampwatch_audit::checkpoint(&db, &signer).await?.expect("a checkpoint of the seeded entries");
    Ok((pg, signer.public_key()))
}

async fn database_exists(pg: &PrivatePostgres, name: &str) -> anyhow::Result<bool> {
    let db = dampwatch_store::connect(&pg.url_for("postgres")).await?;
    Ok(db.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some())
}

async fn count(url: &str, table: &str) -> anyhow::Result<i64> {
    let db = dampwatch_store::connect(url).await?;
    Ok(db.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get(0))
}

fn write_key_pub(dir: &Path, key: &[u8; 32]) -> std::path::PathBuf {
    let path = dir.join("audit-key-1.pub");
    std::fs::write(&path, format!("{}\n", hex_of(key))).expect("write the public key");
    path
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn run(cmd: BackupCommand) -> anyhow::Result<(Verdict, String)> {
    let mut out = Vec::new();
    let verdict = dampwatch::backup::run(cmd, &mut out).await?;
    Ok((verdict, String::from_utf8(out)?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_after_the_database_is_dropped_and_everything_in_it_verifies() -> anyhow::Result<()>
{
    let (pg, audit_key) = seeded().await?;
    let url = pg.url();
    let (uplinks, readings, events) =
        (count(&url, "uplinks").await?, count(&url, "readings").await?, count(&url, "case_events").await?);
    assert_eq!(readings, PLAN.readings() as i64);
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("backup-key.txt");
    let backup = dir.path().join("dampwatch.backup");

    let (_, said) = run(BackupCommand::Keygen { out: key.clone() }).await?;
    let recipient =
        said.lines().find_map(|l| l.strip_prefix("public key: ")).expect("the public key").to_owned();
    let target = dampwatch::devices::Target {
        database_url: Some(url.clone()),
        data_dir: None,
        pki_dir: None,
        bundles_dir: None,
    };
    let (_, said) = run(BackupCommand::Create {
        target,
        recipients: vec![recipient],
        recipients_file: None,
        out: backup.clone(),
        compression: 6,
    })
    .await?;
    assert!(said.contains(&format!("{readings} readings")), "{said}");

    // Private, and no plaintext in it: neither the dump's signature nor a device's id.
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&backup)?.permissions().mode() & 0o777, 0o600);
    let sealed = std::fs::read(&backup)?;
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"), "the age format");
    for plain in [&b"PGDMP"[..], b"restore-000001", b"dampwatch-backup"] {
        assert!(
            !sealed.windows(plain.len()).any(|w| w == plain),
            "{:?} in the file",
            String::from_utf8_lossy(plain)
        );
    }
    // What the README says `age --decrypt | tail -n +3 | pg_restore` relies on: two header
    // lines, then pg_dump's archive.
    let identity = age::x25519::Identity::from_str(
        std::fs::read_to_string(&key)?
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .expect("the secret key"),
    )
    .map_err(anyhow::Error::msg)?;
    let decryptor = age::Decryptor::new_buffered(std::io::BufReader::new(std::fs::File::open(&backup)?))?;
    let mut plain =
        std::io::BufReader::new(decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))?);
    let (mut magic, mut manifest, mut archive) = (String::new(), String::new(), [0u8; 5]);
    plain.read_line(&mut magic)?;
    plain.read_line(&mut manifest)?;
    plain.read_exact(&mut archive)?;
    assert_eq!(magic, "dampwatch-backup 1\n");
    assert!(manifest.contains(&format!("\"readings\":{readings}")), "{manifest}");
    assert_eq!(&archive, b"PGDMP");

    let maintenance = dampwatch_store::connect(&pg.url_for("postgres")).await?;
    maintenance.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", dampwatch_pg::DATABASE)).await?;
    assert!(!database_exists(&pg, dampwatch_pg::DATABASE).await?);

    let (verdict, said) = run(BackupCommand::Restore {
        backup: backup.clone(),
        identity: key.clone(),
        database_url: url.clone(),
        audit_public_keys: vec![write_key_pub(dir.path(), &audit_key)],
        no_verify: false,
    })
    .await?;
    assert_eq!(verdict, Verdict::Ok, "{said}");
    assert!(said.contains("every table's rows match the backup"), "{said}");
    assert!(said.contains(&format!("uplinks: {uplinks} verified, 0 failed")), "{said}");
    assert!(said.contains(&format!("{} cases, {events} events, 0 broken", PLAN.cases)), "{said}");
    assert!(said.contains("audit log: intact, 20 entries, 1 checkpoints"), "{said}");
    assert_eq!(count(&url, "readings").await?, readings);

    // The restored database is a working one: the schema is current and the services'
    // tenant role reads through row-level security as before.
    let mut db = dampwatch_store::connect(&url).await?;
    assert_eq!(dampwatch_store::migrate(&mut db).await?, 0, "nothing left to migrate");
    let tx = db.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL ROLE {}; SELECT set_config('dampwatch.landlord', '{}', true)",
        dampwatch_store::roles::TENANT_ROLE,
        dampwatch_bench::restore::LANDLORD
    ))
    .await?;
    let cases: i64 = tx.query_one("SELECT count(*) FROM cases", &[]).await?.get(0);
    assert_eq!(cases, PLAN.cases as i64);
    Ok(())
}

fn restore_options(backup: &Path, key: &Path, url: String) -> anyhow::Result<RestoreOptions> {
    Ok(RestoreOptions {
        backup: backup.to_owned(),
        identities: dampwatch_backup::key::load_identities(key)?,
        database_url: url,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_byte_a_cut_file_a_wrong_key_or_an_existing_database_restore_nothing() -> anyhow::Result<()>
{
    let (pg, _) = seeded().await?;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("backup-key.txt");
    let other_key = dir.path().join("other-key.txt");
    let recipient = dampwatch_backup::key::generate(&key)?;
    dampwatch_backup::key::generate(&other_key)?;
    let backup = dir.path().join("dampwatch.backup");
    let options = BackupOptions {
        database_url: pg.url(),
        recipients: vec![recipient],
        out: backup.clone(),
        compression: 1,
    };
    dampwatch_backup::backup(&options, &|_| {}).await?;
    let again = dampwatch_backup::backup(&options, &|_| {}).await.expect_err("never replaces a backup");
    assert!(again.to_string().contains("never replaces"), "{again}");

    let restored = "restored";
    let url = pg.url_for(restored);
    // Over an existing database: refused, and that database untouched.
    let err =
        dampwatch_backup::restore(&restore_options(&backup, &key, pg.url())?, &|_| {}).await.unwrap_err();
    assert!(matches!(err, BackupError::TargetExists(_)), "{err}");
    assert_eq!(count(&pg.url(), "readings").await?, PLAN.readings() as i64);

    // The wrong key.
    let err = dampwatch_backup::restore(&restore_options(&backup, &other_key, url.clone())?, &|_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not encrypted to the key given"), "{err}");
    assert!(!database_exists(&pg, restored).await?);

    // One byte changed late in the file (well past the header, in the dump's data): the
    // restore has started and must be undone.
    let bytes = std::fs::read(&backup)?;
    for (name, damaged) in [
        ("flipped", {
            let mut b = bytes.clone();
            let at = b.len() * 3 / 4;
            b[at] ^= 0x01;
            b
        }),
        ("cut", bytes[..bytes.len() - 100].to_vec()),
    ] {
        let file = dir.path().join(format!("{name}.backup"));
        std::fs::write(&file, &damaged)?;
        let err = dampwatch_backup::restore(&restore_options(&file, &key, url.clone())?, &|_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, BackupError::Decrypt { .. }), "{name}: {err}");
        assert!(!database_exists(&pg, restored).await?, "{name}: the half-restored database is dropped");
    }

    // The intact backup still restores under that name.
    let summary = dampwatch_backup::restore(&restore_options(&backup, &key, url.clone())?, &|_| {}).await?;
    assert_eq!(summary.manifest.rows["readings"], PLAN.readings() as i64);
    assert_eq!(count(&url, "readings").await?, PLAN.readings() as i64);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_names_a_changed_uplink_event_and_audit_entry() -> anyhow::Result<()> {
    let (pg, audit_key) = seeded().await?;
    let db = dampwatch_store::connect(&pg.url()).await?;
    let intact = dampwatch_backup::verify(&db, &[audit_key]).await?;
    assert!(intact.is_intact(), "{intact}");
    assert!(matches!(intact.audit, AuditCheck::Intact(_)));

    // What an attacker with the database's superuser could do to a restored copy: a changed
    // reading value inside one uplink (digest recomputed so only the signature can tell), an
    // edited case event, an edited audit entry.
    let digest: Vec<u8> =
        db.query_one("SELECT digest FROM uplinks ORDER BY digest LIMIT 1", &[]).await?.get(0);
    db.execute(
        "UPDATE uplinks SET payload = set_byte(payload, length(payload) - 3, get_byte(payload, length(payload) - 3) # 1)
         WHERE digest = $1",
        &[&digest],
    )
    .await?;
    db.execute("UPDATE uplinks SET digest = sha256(payload) WHERE digest = $1", &[&digest]).await?;
    let case_id: i64 = db.query_one("SELECT min(case_id) FROM case_events WHERE seq = 2", &[]).await?.get(0);
    db.batch_execute(&format!(
        "ALTER TABLE case_events DISABLE TRIGGER case_events_append_only;
         UPDATE case_events SET actor = 'user:someone-else' WHERE case_id = {case_id} AND seq = 1;
         ALTER TABLE case_events ENABLE TRIGGER case_events_append_only;
         ALTER TABLE audit_log DISABLE TRIGGER USER;
         UPDATE audit_log SET action = 'case.close' WHERE seq = 3;
         ALTER TABLE audit_log ENABLE TRIGGER USER;"
    ))
    .await?;

    let report = dampwatch_backup::verify(&db, &[audit_key]).await?;
    assert!(!report.is_intact());
    let text = report.to_string();
    assert_eq!(report.bad_uplinks, 1, "{text}");
    assert!(report.uplink_problems[0].contains("signature"), "{text}");
    // The reading that pointed at the original uplink no longer finds it.
    assert_eq!(report.orphan_readings, i64::from(PLAN.readings_per_uplink), "{text}");
    assert_eq!(report.broken_cases, 1, "{text}");
    assert!(report.chain_problems[0].starts_with(&format!("case {case_id} event 1")), "{text}");
    assert!(matches!(&report.audit, AuditCheck::Broken(why) if why.starts_with("seq 3")), "{text}");
    Ok(())
}
