//! Shared fixtures: a private PostgreSQL with the collector's and this crate's schema, a
//! registry (landlords, rooms, devices), readings with their inbox rows written the way the
//! collector writes them, and a landlord's webhook receiver on loopback.
#![allow(dead_code)]

#[allow(unused_imports)]
pub use dampwatch_testkit::eventually;

/// A landlord's webhook receiver (the test kit's) whose every request body is checked against
/// the webhook's published schema (`WebhookEvent` and the API's view types it holds, as the
/// API's OpenAPI document has them): bodies handed to a test by [`Receiver::requests`] are
/// checked then, and whatever else arrived when the receiver is dropped, so no body goes
/// unchecked. A body that does not match fails the test.
pub mod receiver {
    use std::sync::OnceLock;

    pub use dampwatch_testkit::webhook_receiver::Received;

    pub struct Receiver {
        pub url: String,
        inner: dampwatch_testkit::Receiver,
    }

    impl Receiver {
        pub async fn start(fail_first: usize) -> Receiver {
            Receiver::wrap(dampwatch_testkit::Receiver::start(fail_first).await)
        }

        /// A receiver that answers every request with 500 and `body`.
        pub async fn failing_with_body(body: &'static str) -> Receiver {
            Receiver::wrap(dampwatch_testkit::Receiver::failing_with_body(body).await)
        }

        fn wrap(inner: dampwatch_testkit::Receiver) -> Receiver {
            Receiver { url: inner.url.clone(), inner }
        }

        /// Every request so far, each body checked against the schema.
        pub fn requests(&self) -> Vec<Received> {
            let requests = self.inner.requests();
            requests.iter().for_each(check);
            requests
        }
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                self.inner.requests().iter().for_each(check);
            }
        }
    }

    /// Fails unless `request`'s body is a `WebhookEvent` as the schema describes it.
    pub fn check(request: &Received) {
        static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
        let validator = SCHEMA.get_or_init(|| {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&dampwatch_alerts::payload::json_schema())
                .expect("the webhook schema compiles")
        });
        let body: serde_json::Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(e) => panic!("a webhook body is not JSON: {e}: {}", String::from_utf8_lossy(&request.body)),
        };
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|e| format!("{e} (at {})", e.instance_path())).collect();
        assert!(errors.is_empty(), "a webhook body does not match its schema: {}\n{body}", errors.join("; "));
    }
}

/// A webhook body for `landlord` that names no alert or case, for tests of delivery alone.
pub fn bare_body(landlord: &str) -> serde_json::Value {
    serde_json::json!({
        "schema": dampwatch_alerts::payload::PAYLOAD_SCHEMA,
        "type": "alert.raised",
        "event_id": "alert:0:rev:1",
        "occurred_at": "2026-11-24T06:21:53Z",
        "landlord_id": landlord,
        "alert": null,
        "explanation": null,
        "case": null,
        "deadlines": [],
    })
}

/// What a landlord's receiver checks of a recorded request: a v2 signature over timestamp,
/// idempotency key and body, made with `secret` within the replay window of its arrival.
pub trait SignedBy {
    fn verify(&self, secret: &str) -> Result<(), dampwatch_alerts::signature::SignatureError>;

    fn signed_by(&self, secret: &str) -> bool {
        self.verify(secret).is_ok()
    }
}

impl SignedBy for receiver::Received {
    fn verify(&self, secret: &str) -> Result<(), dampwatch_alerts::signature::SignatureError> {
        let header = |name: &str| self.header(name);
        dampwatch_alerts::signature::verify_request(header, &self.body, secret.as_bytes(), self.unix_s)
    }
}

use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_alerts::{AlertsConfig, HazardProcessor};
use dampwatch_pg::PrivatePostgres;
use tokio_postgres::{Client, NoTls};

/// A migrated throw-away database.
pub struct Db {
    pub pg: PrivatePostgres,
    pub url: String,
    pub client: Client,
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

impl Db {
    pub async fn new() -> Db {
        Db::at_version(None).await
    }

    /// A database whose schema stops at `version` (an earlier release's), or is whole.
    pub async fn at_version(version: Option<i32>) -> Db {
        let pg =
            tokio::task::spawn_blocking(PrivatePostgres::temporary).await.expect("join").expect("postgres");
        let url = pg.url();
        let mut client = connect(&url).await;
        match version {
            Some(v) => dampwatch_store::migrate_to(&mut client, v).await.expect("migrate"),
            None => dampwatch_store::migrate(&mut client).await.expect("migrate"),
        };
        Db { pg, url, client }
    }

    pub async fn landlord(&self, id: &str, policy: &str) {
        self.client
            .execute("INSERT INTO landlords (id, name, case_policy) VALUES ($1, $1, $2)", &[&id, &policy])
            .await
            .expect("landlord");
    }

    /// A room in a new dwelling of `landlord`; returns its id.
    pub async fn room(&self, landlord: &str, reference: &str, name: &str) -> i64 {
        let dwelling: i64 = self
            .client
            .query_one(
                "INSERT INTO dwellings (landlord_id, reference) VALUES ($1, $2)
                 ON CONFLICT (landlord_id, reference) DO UPDATE SET address = dwellings.address RETURNING id",
                &[&landlord, &reference],
            )
            .await
            .expect("dwelling")
            .get(0);
        self.client
            .query_one(
                "INSERT INTO rooms (dwelling_id, name) VALUES ($1, $2) RETURNING id",
                &[&dwelling, &name],
            )
            .await
            .expect("room")
            .get(0)
    }

    /// A device (provisioned long ago, so no reading time is implausible).
    pub async fn device(&self, id: &str, landlord: &str, room: Option<i64>) {
        self.client
            .execute(
                "INSERT INTO devices (id, landlord_id, room_id, signing_public_key, provisioned_at)
                 VALUES ($1, $2, $3, $4, '2000-01-01T00:00:00Z')",
                &[&id, &landlord, &room, &vec![0u8; 32]],
            )
            .await
            .expect("device");
    }

    pub async fn endpoint(&self, landlord: &str, url: &str, secret: &str) -> i64 {
        self.client
            .query_one(
                "INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ($1, $2, $3) RETURNING id",
                &[&landlord, &url, &secret],
            )
            .await
            .expect("endpoint")
            .get(0)
    }

    /// Stores readings of one device and boot and their inbox row in one transaction, as the
    /// collector does. Sequence numbers continue from the device's highest.
    pub async fn store(&mut self, device: &str, readings: &[Sample]) -> DateTime<Utc> {
        let tx = self.client.transaction().await.expect("begin");
        let next: i64 = tx
            .query_one(
                "SELECT coalesce(max(seq), 0) + 1 FROM readings WHERE device_id = $1 AND boot = 1",
                &[&device],
            )
            .await
            .expect("seq")
            .get(0);
        let n = i64::try_from(readings.len()).expect("len");
        let seqs: Vec<i64> = (next..next + n).collect();
        let times: Vec<DateTime<Utc>> = readings.iter().map(|s| s.at).collect();
        // Stored as the device sends them: hundredths.
        let centi = |v: Option<f32>| v.map(|v| (f64::from(v) * 100.0).round() as i32);
        let temps: Vec<Option<i32>> = readings.iter().map(|s| centi(s.temperature_c)).collect();
        let rhs: Vec<Option<i32>> = readings.iter().map(|s| centi(s.rh_pct)).collect();
        let surfaces: Vec<Option<i32>> = readings.iter().map(|s| centi(s.surface_temperature_c)).collect();
        let status: Vec<i32> = readings.iter().map(|s| s.status).collect();
        tx.execute(
            "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
                 temperature_centi_c, rh_centi_pct, surface_temperature_centi_c, co2_ppm, battery_mv, status,
                 uplink_digest)
             SELECT $1, 1, s, t, t, (st & 65536) <> 0, now(), te, rh, su, NULL, 3000, st, '\\x00'::bytea
             FROM unnest($2::int8[], $3::timestamptz[], $4::int4[], $5::int4[], $6::int4[], $7::int4[])
                  AS u (s, t, te, rh, su, st)",
            &[&device, &seqs, &times, &temps, &rhs, &surfaces, &status],
        )
        .await
        .expect("readings");
        tx.execute(
            "INSERT INTO hazard_inbox (device_id, boot, min_seq, max_seq) VALUES ($1, 1, $2, $3)",
            &[&device, &next, &(next + n - 1)],
        )
        .await
        .expect("inbox");
        tx.commit().await.expect("commit");
        Utc::now()
    }

    /// Processes the whole inbox with `processor`, as the worker would, at `now`.
    pub async fn drain(
        &mut self,
        processor: &HazardProcessor,
        now: DateTime<Utc>,
    ) -> dampwatch_alerts::BatchOutcome {
        let mut total = dampwatch_alerts::BatchOutcome::default();
        let mut prepared = dampwatch_store::Prepared::default();
        loop {
            let o = processor
                .process_inbox(&mut self.client, &mut prepared, 50, now)
                .await
                .expect("process inbox");
            if o.inbox_rows == 0 {
                return total;
            }
            total.merge(&o);
        }
    }

    pub async fn count(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> i64 {
        self.client.query_one(sql, params).await.expect(sql).get(0)
    }
}

/// One reading to store.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub temperature_c: Option<f32>,
    pub rh_pct: Option<f32>,
    pub surface_temperature_c: Option<f32>,
    pub status: i32,
}

impl Sample {
    pub fn air(at: DateTime<Utc>, temperature_c: f32, rh_pct: f32) -> Sample {
        Sample {
            at,
            temperature_c: Some(temperature_c),
            rh_pct: Some(rh_pct),
            surface_temperature_c: None,
            status: 0,
        }
    }
}

/// Readings every `step` from `start` to `end` (inclusive of start, exclusive of end),
/// values from `f(time)`.
pub fn series(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
    f: impl Fn(DateTime<Utc>) -> Sample,
) -> Vec<Sample> {
    let step = chrono::Duration::from_std(step).expect("step");
    let mut out = Vec::new();
    let mut t = start;
    while t < end {
        out.push(f(t));
        t += step;
    }
    out
}

/// A configuration for tests: fast retries and polls.
pub fn fast_config() -> AlertsConfig {
    let mut c = AlertsConfig::default();
    c.worker.poll_interval = Duration::from_millis(100);
    c.webhooks.poll_interval = Duration::from_millis(100);
    c.webhooks.backoff_initial = Duration::from_millis(50);
    c.webhooks.backoff_max = Duration::from_millis(400);
    c.webhooks.request_timeout = Duration::from_secs(5);
    c.webhooks.lease = Duration::from_secs(30);
    // The receivers here are plain http on 127.0.0.1: the development flag.
    c.webhooks.dev_loopback_http = true;
    c
}
