//! `dampwatch bench restore`: the restore drill at size. It makes a private PostgreSQL
//! (durable unless `--non-durable`), fills it with a landlord's signed evidence (`--readings`
//! readings in uplinks of `--per-uplink` readings each, every uplink signed by its device's own
//! Ed25519 key, plus open cases with their event chains and audit entries under a signed
//! checkpoint), then times the drill an operator would run: `backup` (encrypted to a fresh
//! backup key), drop the database, `restore` into a new one (restored, every table's rows
//! checked against the backup's manifest, statistics gathered: the recovery time), and the
//! verification of every uplink's signature, every case chain and the audit log.
//!
//! Whose time: wall-clock of each step, with pg_dump's or pg_restore's CPU and PostgreSQL's
//! (postmaster and every backend) beside it; everything shares this machine's cores.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dampwatch_pg::PrivatePostgres;
use dampwatch_proto::v1::{Reading, Uplink};
use dampwatch_store::{write_reading, Provenance, ReadingRow, READING_COLUMNS};
use futures_util::pin_mut;
use prost::Message as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use sha2::{Digest as _, Sha256};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::cpu;

pub const LANDLORD: &str = "bench-restore";
/// Minutes between a device's readings.
const READING_EVERY_MIN: i64 = 10;
/// Uplinks signed and copied per transaction while seeding.
const UPLINKS_PER_COMMIT: usize = 20_000;

#[derive(Debug, Clone, clap::Args)]
pub struct RestoreBenchArgs {
    /// Readings in the database backed up.
    #[arg(long, default_value_t = 10_000_000)]
    pub readings: u64,
    /// Readings per signed uplink (the message shape).
    #[arg(long, default_value_t = 10)]
    pub per_uplink: u32,
    /// Devices (one room each) the readings come from.
    #[arg(long, default_value_t = 2_000)]
    pub devices: u32,
    /// Open cases, with their event chains.
    #[arg(long, default_value_t = 1_000)]
    pub cases: usize,
    /// PostgreSQL with fsync, synchronous commit and full-page writes off (labelled
    /// `durable=off`).
    #[arg(long)]
    pub non_durable: bool,
    /// A short check of the benchmark itself: 20,000 readings, 20 devices, 20 cases.
    #[arg(long)]
    pub quick: bool,
}

/// What to seed.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub devices: u32,
    pub uplinks_per_device: u32,
    pub readings_per_uplink: u32,
    pub cases: usize,
}

impl Plan {
    pub fn readings(&self) -> u64 {
        u64::from(self.devices) * u64::from(self.uplinks_per_device) * u64::from(self.readings_per_uplink)
    }
}

/// What was seeded.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub uplinks: u64,
    pub readings: u64,
    pub cases: i64,
    pub audit_entries: i64,
}

/// A device of the seeded landlord and its signing key (derived from its id, so a run is
/// reproducible).
struct SeedDevice {
    id: String,
    key: Ed25519KeyPair,
}

impl SeedDevice {
    fn new(n: u32) -> SeedDevice {
        let id = format!("restore-{n:06}");
        let seed: [u8; 32] = Sha256::digest(format!("dampwatch bench restore {id}")).into();
        let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are a seed");
        SeedDevice { id, key }
    }
}

/// One signed uplink and the readings stored from it.
struct Signed {
    digest: [u8; 32],
    payload: Vec<u8>,
    signature: Vec<u8>,
    received_at: DateTime<Utc>,
    readings: Vec<ReadingRow>,
}

fn sign(device: &SeedDevice, first_seq: u32, count: u32, start: DateTime<Utc>) -> Signed {
    let readings: Vec<Reading> = (first_seq..first_seq + count)
        .map(|seq| Reading {
            seq,
            time_ms: (start.timestamp_millis() + i64::from(seq) * READING_EVERY_MIN * 60_000) as u64,
            temperature_centi_c: 1600 + (seq as i32 * 37) % 700,
            rh_centi_pct: 5500 + (seq * 53) % 3000,
            surface_temperature_centi_c: Some(1400 + (seq as i32 * 29) % 500),
            co2_ppm: Some(600 + (seq * 7) % 900),
            battery_mv: 3000,
            status: 0,
        })
        .collect();
    let up = Uplink { device_id: device.id.clone(), boot: 1, floor_seq: first_seq, readings, dropped: None };
    let payload = up.encode_to_vec();
    let mut msg = vec![0u8; dampwatch_wire::signing::signing_message_len(&device.id, payload.len())];
    dampwatch_wire::signing::signing_message(&device.id, &payload, &mut msg).expect("a valid device id");
    let signature = device.key.sign(&msg).as_ref().to_vec();
    let last = up.readings.last().map_or(0, |r| r.time_ms);
    let received_at = DateTime::from_timestamp_millis(last as i64 + 30_000).expect("in range");
    let rows = up
        .readings
        .iter()
        .map(|r| {
            let at = DateTime::from_timestamp_millis(r.time_ms as i64).expect("in range");
            ReadingRow {
                seq: i64::from(r.seq),
                sampled_at: at,
                device_time: at,
                time_corrected: false,
                temperature_centi_c: Some(r.temperature_centi_c),
                rh_centi_pct: Some(r.rh_centi_pct as i32),
                surface_temperature_centi_c: r.surface_temperature_centi_c,
                co2_ppm: r.co2_ppm.map(|c| c as i32),
                battery_mv: Some(r.battery_mv as i32),
                status: 0,
            }
        })
        .collect();
    Signed { digest: Sha256::digest(&payload).into(), payload, signature, received_at, readings: rows }
}

/// Seeds the landlord: its homes and devices, `plan`'s signed uplinks and readings (written
/// as the collector stores them), open cases and a few audit entries.
pub async fn seed(db: &mut Client, plan: Plan, now: DateTime<Utc>) -> anyhow::Result<Seeded> {
    db.execute("INSERT INTO landlords (id, name) VALUES ($1, 'Restore Drill Homes')", &[&LANDLORD]).await?;
    db.execute(
        "INSERT INTO dwellings (landlord_id, reference, address)
         SELECT $1, 'R' || lpad(g::text, 6, '0'), g || ' Archive Road' FROM generate_series(1, $2::int8) g",
        &[&LANDLORD, &i64::from(plan.devices)],
    )
    .await?;
    db.execute(
        "INSERT INTO rooms (dwelling_id, name) SELECT id, 'bedroom' FROM dwellings WHERE landlord_id = $1",
        &[&LANDLORD],
    )
    .await?;
    let rooms: Vec<i64> = db
        .query(
            "SELECT r.id FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE d.landlord_id = $1 ORDER BY r.id",
            &[&LANDLORD],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let devices: Vec<SeedDevice> = (0..plan.devices).map(SeedDevice::new).collect();
    let span = i64::from(plan.uplinks_per_device * plan.readings_per_uplink) * READING_EVERY_MIN;
    let start = now - chrono::Duration::minutes(span + 60);
    for (device, room) in devices.iter().zip(&rooms) {
        db.execute(
            "INSERT INTO devices (id, landlord_id, room_id, signing_public_key, provisioned_at) VALUES ($1, $2, $3, $4, $5)",
            &[&device.id, &LANDLORD, room, &device.key.public_key().as_ref(), &(start - chrono::Duration::days(1))],
        )
        .await?;
    }
    // Uplinks in the order devices send them: every device's next uplink, round after round.
    let work: Vec<(usize, u32)> =
        (0..plan.uplinks_per_device).flat_map(|u| (0..devices.len()).map(move |d| (d, u))).collect();
    for chunk in work.chunks(UPLINKS_PER_COMMIT) {
        let signed =
            tokio::task::block_in_place(|| sign_chunk(&devices, chunk, plan.readings_per_uplink, start));
        copy(db, &devices, chunk, &signed).await?;
    }
    let case_rooms = &rooms[..plan.cases.min(rooms.len())];
    crate::dashboard::landlord::open_cases(db, LANDLORD, case_rooms, now).await?;
    for n in 0..20 {
        let event = dampwatch_audit::Event {
            actor: "user:bench".into(),
            landlord_id: Some(LANDLORD.into()),
            source: Some("bench restore".into()),
            action: "case.view".into(),
            target: Some(format!("case:{n}")),
            outcome: dampwatch_audit::Outcome::Success,
            details: serde_json::json!({}),
        };
        dampwatch_audit::append(&*db, &event).await?;
    }
    db.batch_execute("ANALYZE").await?;
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM uplinks), (SELECT count(*) FROM readings), (SELECT count(*) FROM cases),
                    (SELECT count(*) FROM audit_log)",
            &[],
        )
        .await?;
    let (uplinks, readings): (i64, i64) = (row.get(0), row.get(1));
    Ok(Seeded {
        uplinks: uplinks as u64,
        readings: readings as u64,
        cases: row.get(2),
        audit_entries: row.get(3),
    })
}

/// Signs a chunk of uplinks on every core.
fn sign_chunk(
    devices: &[SeedDevice],
    chunk: &[(usize, u32)],
    per_uplink: u32,
    start: DateTime<Utc>,
) -> Vec<Signed> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let part = chunk.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(part)
            .map(|work| {
                scope.spawn(move || {
                    work.iter()
                        .map(|&(d, u)| sign(&devices[d], u * per_uplink + 1, per_uplink, start))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("signing thread")).collect()
    })
}

async fn copy(
    db: &mut Client,
    devices: &[SeedDevice],
    chunk: &[(usize, u32)],
    signed: &[Signed],
) -> anyhow::Result<()> {
    let tx = db.transaction().await?;
    let sink = tx
        .copy_in(
            "COPY uplinks (digest, device_id, key_id, payload, signature, received_at) FROM STDIN BINARY",
        )
        .await?;
    let w = BinaryCopyInWriter::new(
        sink,
        &[Type::BYTEA, Type::TEXT, Type::INT4, Type::BYTEA, Type::BYTEA, Type::TIMESTAMPTZ],
    );
    pin_mut!(w);
    for (&(d, _), s) in chunk.iter().zip(signed) {
        w.as_mut()
            .write(&[&s.digest.as_slice(), &devices[d].id, &1i32, &s.payload, &s.signature, &s.received_at])
            .await?;
    }
    w.finish().await?;
    let sink = tx.copy_in("COPY readings FROM STDIN BINARY").await?;
    let w = BinaryCopyInWriter::new(sink, READING_COLUMNS);
    pin_mut!(w);
    for (&(d, _), s) in chunk.iter().zip(signed) {
        let from = Provenance {
            device: &devices[d].id,
            boot: 1,
            received_at: s.received_at,
            uplink_digest: &s.digest,
        };
        for r in &s.readings {
            write_reading(w.as_mut(), &from, r).await?;
        }
    }
    w.finish().await?;
    tx.commit().await?;
    Ok(())
}

/// CPU of the children this process has waited for (pg_dump, pg_restore).
fn children_cpu() -> Duration {
    cpu::waited_children()
}

pub async fn run(args: RestoreBenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (readings, devices, cases) =
        if args.quick { (20_000, 20, 20) } else { (args.readings, args.devices, args.cases) };
    let per_uplink = args.per_uplink.max(1);
    let uplinks_per_device = (readings / u64::from(devices) / u64::from(per_uplink)).max(1) as u32;
    let plan = Plan { devices, uplinks_per_device, readings_per_uplink: per_uplink, cases };
    let pg = tokio::task::spawn_blocking(move || {
        if args.non_durable {
            PrivatePostgres::temporary()
        } else {
            PrivatePostgres::temporary_durable()
        }
    })
    .await??;
    let durability = if pg.is_durable() { "durable=on (fsync on)" } else { "durable=off" };
    let postmaster = pg.postmaster_pid().unwrap_or(0);
    let url = pg.url();
    let mut db = dampwatch_store::connect(&url).await?;
    dampwatch_store::migrate(&mut db).await?;

    writeln!(
        out,
        "seeding {} readings: {} devices × {} uplinks of {} readings, each uplink signed (Ed25519); {} open cases; {durability}",
        plan.readings(),
        plan.devices,
        plan.uplinks_per_device,
        plan.readings_per_uplink,
        plan.cases
    )?;
    out.flush()?;
    let started = Instant::now();
    let audit_signer = dampwatch_audit::CheckpointSigner::from_seed("audit-key-1", &[42; 32])?;
    let seeded = seed(&mut db, plan, Utc::now()).await?;
    dampwatch_audit::checkpoint(&db, &audit_signer).await?;
    writeln!(
        out,
        "seeded {} uplinks, {} readings, {} cases, {} audit entries in {:.0} s",
        seeded.uplinks,
        seeded.readings,
        seeded.cases,
        seeded.audit_entries,
        started.elapsed().as_secs_f64()
    )?;
    drop(db);

    let dir = tempfile::tempdir()?;
    let key_file = dir.path().join("backup-key.txt");
    let recipient = dampwatch_backup::key::generate(&key_file)?;
    let backup_file = dir.path().join("dampwatch.backup");
    let quiet = |_: u64| {};

    let (cpu0, pg0) = (children_cpu(), cpu::postgres(postmaster));
    let backup = dampwatch_backup::backup(
        &dampwatch_backup::BackupOptions {
            database_url: url.clone(),
            recipients: vec![recipient],
            out: backup_file.clone(),
            compression: 6,
        },
        &quiet,
    )
    .await?;
    let (cpu1, pg1) = (children_cpu(), cpu::postgres(postmaster));
    writeln!(
        out,
        "backup: {:.1} s, {:.0} MiB encrypted (gzip level 6); pg_dump CPU {:.1} s, PostgreSQL CPU {:.1} s",
        backup.elapsed.as_secs_f64(),
        backup.bytes as f64 / 1048576.0,
        (cpu1 - cpu0).as_secs_f64(),
        (pg1 - pg0).as_secs_f64()
    )?;

    let maintenance = dampwatch_store::connect(&pg.url_for("postgres")).await?;
    let dropped = Instant::now();
    maintenance.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", dampwatch_pg::DATABASE)).await?;
    writeln!(out, "dropped the database in {:.1} s", dropped.elapsed().as_secs_f64())?;

    let (cpu2, pg2) = (children_cpu(), cpu::postgres(postmaster));
    let restored = dampwatch_backup::restore(
        &dampwatch_backup::RestoreOptions {
            backup: backup_file,
            identities: dampwatch_backup::key::load_identities(&key_file)?,
            database_url: url.clone(),
        },
        &quiet,
    )
    .await?;
    let (cpu3, pg3) = (children_cpu(), cpu::postgres(postmaster));
    writeln!(
        out,
        "restore (recovery time: decrypt, pg_restore in one transaction, row counts checked, ANALYZE): {:.1} s; \
         pg_restore CPU {:.1} s, PostgreSQL CPU {:.1} s",
        restored.elapsed.as_secs_f64(),
        (cpu3 - cpu2).as_secs_f64(),
        (pg3 - pg2).as_secs_f64()
    )?;

    let db = dampwatch_store::connect(&url).await?;
    let report = dampwatch_backup::verify(&db, &[audit_signer.public_key()]).await?;
    writeln!(out, "verification:\n{report}")?;
    anyhow::ensure!(report.is_intact(), "the restored database does not verify");
    anyhow::ensure!(
        report.uplinks == seeded.uplinks,
        "{} uplinks verified of {}",
        report.uplinks,
        seeded.uplinks
    );
    writeln!(
        out,
        "summary: {} readings ({} per uplink), {durability}, 1 run: backup {:.0} s, restore {:.0} s, verify {:.0} s",
        seeded.readings,
        plan.readings_per_uplink,
        backup.elapsed.as_secs_f64(),
        restored.elapsed.as_secs_f64(),
        report.elapsed.as_secs_f64()
    )?;
    Ok(())
}
