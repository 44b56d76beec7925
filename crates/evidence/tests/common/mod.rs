//! Test support: one private PostgreSQL cluster per test binary and a migrated database per
//! test; a PKI made by `dampwatch-pki` with a device issued by it; and a realistic case: a
//! damp bedroom whose sensor signed its readings with the wire's signing message, stored as
//! the collector stores them (the uplink once, each reading pointing at it), opened as a case
//! by the hazard worker's own case functions, then triaged and investigated by people.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use dampwatch_alerts::cases::{self, CasePolicy, NewCase};
use dampwatch_alerts::room::RoomRef;
use dampwatch_clock::case::{InvestigationOutcome, TriageCategory};
use dampwatch_clock::{AwarenessPolicy, CaseEvent, Clock, ClockConfig, Hazard};
use dampwatch_evidence::{Pack, PackSigner};
use dampwatch_pg::PrivatePostgres;
use dampwatch_privacy::case_texts::{self, KeyAccess, OpenedText};
use dampwatch_privacy::SecretsKey;
use dampwatch_proto::v1::{Reading, Uplink};
use dampwatch_store::registry::{self, NewDevice};
use prost::Message as _;
use ring::signature::Ed25519KeyPair;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OnceCell};
use tokio_postgres::{Client, NoTls};

pub const LANDLORD: &str = "north-homes";
pub const DEVICE: &str = "bedroom-1";

static CLUSTER: OnceCell<PrivatePostgres> = OnceCell::const_new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);
/// Roles are per cluster (migrations create them): one migration at a time.
static MIGRATING: Mutex<()> = Mutex::const_new(());

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A fresh, migrated database.
pub async fn database() -> Client {
    let pg = CLUSTER
        .get_or_init(|| async {
            tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
                .await
                .expect("join")
        })
        .await;
    let name = format!("evidence_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
    connect(&pg.url())
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let mut db = connect(&pg.url_for(&name)).await;
    let _one_at_a_time = MIGRATING.lock().await;
    dampwatch_store::migrate(&mut db).await.expect("migrate");
    db
}

/// A case with everything an evidence pack holds.
pub struct Scenario {
    pub db: Client,
    pub pki: tempfile::TempDir,
    pub case_id: i64,
    /// The moment the pack is made.
    pub now: DateTime<Utc>,
    pub uplinks: usize,
    pub readings: usize,
    /// What the officer wrote at triage, as the API stores it: sealed under the landlord's case
    /// text key, the event's evidence holding its reference and digest. Opened for the pack.
    pub texts: std::collections::BTreeMap<i64, OpenedText>,
}

impl Scenario {
    pub fn pki_dir(&self) -> &Path {
        self.pki.path()
    }

    pub fn audit_public_key(&self) -> PathBuf {
        self.pki.path().join("audit/key-1.pub")
    }

    pub fn trusted(&self) -> [u8; 32] {
        dampwatch_audit::load_public_key(&self.audit_public_key()).expect("audit public key")
    }

    pub fn signer(&self) -> PackSigner {
        PackSigner::load(self.pki_dir()).expect("audit key")
    }

    pub fn options(&self) -> dampwatch_evidence::ExportOptions {
        dampwatch_evidence::ExportOptions {
            now: Some(self.now),
            texts: self.texts.clone(),
            ..Default::default()
        }
    }

    /// The sealed pack, as bytes and as read back.
    pub async fn export(&self) -> (Vec<u8>, Pack) {
        let mut bytes = Vec::new();
        dampwatch_evidence::export_case_with(
            &self.db,
            self.pki_dir(),
            self.case_id,
            &self.options(),
            &mut bytes,
        )
        .await
        .expect("export");
        let pack = Pack::read(bytes.as_slice()).expect("readable");
        (bytes, pack)
    }
}

/// Signs `uplink` as the device does: Ed25519 over the wire's signing message.
pub fn sign(key: &Ed25519KeyPair, uplink: &Uplink) -> (Vec<u8>, Vec<u8>) {
    let payload = uplink.encode_to_vec();
    let mut buf = vec![0u8; dampwatch_wire::signing::signing_message_len(&uplink.device_id, payload.len())];
    let n = dampwatch_wire::signing::signing_message(&uplink.device_id, &payload, &mut buf).expect("message");
    let signature = key.sign(&buf[..n]).as_ref().to_vec();
    (payload, signature)
}

/// Stores a signed uplink and its readings as the collector does.
async fn store(
    db: &Client,
    uplink: &Uplink,
    payload: &[u8],
    signature: &[u8],
    received_at: DateTime<Utc>,
    provisioned_at: DateTime<Utc>,
) {
    let digest = Sha256::digest(payload).to_vec();
    db.execute(
        "INSERT INTO uplinks (digest, device_id, key_id, payload, signature, received_at) VALUES ($1, $2, 1, $3, $4, $5)",
        &[&digest, &uplink.device_id, &payload, &signature, &received_at],
    )
    .await
    .expect("uplink");
    for r in &uplink.readings {
        let device_time = DateTime::from_timestamp_millis(r.time_ms as i64).expect("time");
        let corrected = device_time < provisioned_at;
        let mut status = r.status as i32;
        if corrected {
            status |= dampwatch_wire::reading::status::TIME_CORRECTED as i32;
        }
        let sampled_at = if corrected { received_at } else { device_time };
        db.execute(
            "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
                 temperature_centi_c, rh_centi_pct, surface_temperature_centi_c, co2_ppm, battery_mv, status, uplink_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &uplink.device_id,
                &i64::from(uplink.boot),
                &i64::from(r.seq),
                &sampled_at,
                &device_time,
                &corrected,
                &received_at,
                &Some(r.temperature_centi_c),
                &Some(r.rh_centi_pct as i32),
                &r.surface_temperature_centi_c,
                &r.co2_ppm.map(|v| v as i32),
                &Some(r.battery_mv as i32),
                &status,
                &digest,
            ],
        )
        .await
        .expect("reading");
    }
}

/// Three days of a damp bedroom (every 30 minutes, four readings an uplink, one reading taken
/// before the device's clock was set), a case opened on detection, triaged significant and
/// investigated with a hazard found.
pub async fn damp_bedroom() -> Scenario {
    let db = database().await;
    let pki = tempfile::tempdir().expect("temp dir");
    dampwatch_pki::init(pki.path(), dampwatch_pki::InitOptions::default()).expect("pki init");
    // The device's bundle is the device's: outside the PKI, gone once its seed is read.
    let bundles = tempfile::tempdir().expect("temp dir");
    let issued = dampwatch_pki::issue_device(
        pki.path(),
        bundles.path(),
        LANDLORD,
        DEVICE,
        dampwatch_pki::IssueOptions::default(),
    )
    .expect("issue");
    let seed = issued.bundle.signing_seed().expect("seed");
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("key");

    let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now");
    let installed = now - Duration::days(10);
    registry::add_device(
        &db,
        &NewDevice {
            id: DEVICE,
            landlord: LANDLORD,
            public_key: &issued.signing_public_key,
            key_id: 1,
            cert_serial: Some(issued.serial.to_string()),
            provisioned_at: Some(installed),
        },
    )
    .await
    .expect("register");
    let placed =
        registry::place_device(&db, DEVICE, "12-acacia", "Front bedroom", Some("12 Acacia Avenue, Leeds"))
            .await
            .expect("place");

    // The backlog reaches the collector after the certificate was issued, as a device's
    // queued readings do once it is online.
    let start = now - Duration::days(3);
    let (mut uplinks, mut readings) = (0, 0);
    let mut seq = 0u32;
    for batch in 0..36 {
        let mut batch_readings = Vec::new();
        for i in 0..4 {
            seq += 1;
            let at = start + Duration::minutes(30 * (batch * 4 + i));
            let clock_unset = batch == 0 && i == 0;
            batch_readings.push(Reading {
                seq,
                time_ms: if clock_unset { 5_000 } else { at.timestamp_millis() as u64 },
                temperature_centi_c: 1650 + (seq as i32 % 7) * 10,
                rh_centi_pct: 8200 + (seq % 11) * 25,
                surface_temperature_centi_c: Some(1210 + (seq as i32 % 5) * 10),
                co2_ppm: None,
                battery_mv: 3010,
                status: if clock_unset { dampwatch_wire::reading::status::CLOCK_UNSET } else { 0 },
            });
        }
        let uplink = Uplink {
            device_id: DEVICE.into(),
            boot: 3,
            readings: batch_readings,
            floor_seq: seq - 3,
            dropped: None,
        };
        let (payload, signature) = sign(&key, &uplink);
        let received_at = now - Duration::seconds(120 - batch);
        store(&db, &uplink, &payload, &signature, received_at, installed).await;
        uplinks += 1;
        readings += 4;
    }

    let clock = Clock::from_config(&ClockConfig::default(), None).expect("clock");
    let detected = start + Duration::hours(30);
    let room = RoomRef::Room(placed.room_id);
    let mut db = db;
    let tx = db.transaction().await.expect("tx");
    let case_id = cases::open_case(
        &tx,
        &clock,
        &NewCase {
            landlord_id: LANDLORD,
            room: &room,
            hazard: Hazard::DampAndMouldGrowth,
            noticed_at: detected,
            awareness_policy: AwarenessPolicy::AtDetection,
            case_policy: CasePolicy::OpenOnDetection,
            alert_id: None,
            actor: "system:hazard-engine",
            kind: cases::POTENTIAL_ISSUE_DETECTED,
            record: json!({"type": cases::POTENTIAL_ISSUE_DETECTED, "source": "sensor_alert", "indicator": "damp_and_mould_growth"}),
            evidence: json!({"readings": {"rh_pct_over_70_hours": 30}}),
        },
        detected,
    )
    .await
    .expect("open case");
    let triaged = detected + Duration::hours(3);
    let secrets_dir = tempfile::tempdir().expect("temp dir");
    let secrets = SecretsKey::open_or_create(&secrets_dir.path().join("sealing.key")).expect("secrets key");
    let note = json!({"note": "Mould behind the wardrobe — photographed, “black spots”", "photos": 3});
    let evidence =
        case_texts::seal_evidence(&tx, &secrets, KeyAccess::Operator, LANDLORD, case_id, note, &[])
            .await
            .expect("seal the note");
    cases::append_event(
        &tx,
        &clock,
        case_id,
        None,
        "user:4",
        triaged,
        &CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None },
        &evidence,
        triaged,
    )
    .await
    .expect("triage");
    let concluded = detected + Duration::hours(40);
    cases::append_event(
        &tx,
        &clock,
        case_id,
        None,
        "user:4",
        concluded,
        &CaseEvent::InvestigationConcluded { outcome: InvestigationOutcome::HazardFound },
        &json!({"surveyor": "Zoë Hélène", "readings_ok": true, "rh": 85.50}),
        concluded,
    )
    .await
    .expect("investigation");
    tx.commit().await.expect("commit");
    let texts = case_texts::open_case(&db, &secrets, case_id)
        .await
        .expect("open the notes")
        .into_iter()
        .map(|(id, text)| (id, text.expect("opens")))
        .collect();
    Scenario { db, pki, case_id, now, uplinks, readings, texts }
}
