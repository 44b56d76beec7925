//! Measures the latency from the commit of the reading that crosses a threshold to the
//! landlord's webhook request, over many rooms, with the real worker, PostgreSQL and an HTTP
//! receiver on loopback. Prints p50/p90/p99/max.
//!
//! ```text
//! cargo run -p dampwatch-alerts --example webhook_latency -- [ROOMS] [SPACING_MS]
//! ```
//!
//! Each room first gets 5 h 50 min of readings at 14 °C (below the 16 °C cold rule, which
//! needs 6 h), processed before measuring. Then each room gets one more reading, committed
//! `SPACING_MS` apart, that completes the 6 h and raises the alert; the clock runs from that
//! commit returning to the receiver getting the `alert.raised` request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use dampwatch_alerts::AlertsConfig;
use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;

type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

async fn receive(State(arrivals): State<Arrivals>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return StatusCode::BAD_REQUEST };
    if json["type"] == "alert.raised" {
        if let Some(room) = json["alert"]["room_id"].as_i64() {
            if let Ok(mut a) = arrivals.lock() {
                a.entry(room).or_insert(at);
            }
        }
    }
    StatusCode::OK
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn store(
    client: &mut Client,
    device: &str,
    first_seq: i64,
    temps: &[(DateTime<Utc>, f32)],
) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    let n = i64::try_from(temps.len())?;
    let seqs: Vec<i64> = (first_seq..first_seq + n).collect();
    let times: Vec<DateTime<Utc>> = temps.iter().map(|t| t.0).collect();
    let values: Vec<f32> = temps.iter().map(|t| t.1).collect();
    tx.execute(
        "INSERT INTO readings (device_id, boot, seq, sampled_at, device_time, time_corrected, received_at,
             temperature_c, rh_pct, status, uplink_digest)
         SELECT $1, 1, s, t, t, false, now(), v, 50, 0, '\\x00'::bytea
         FROM unnest($2::int8[], $3::timestamptz[], $4::real[]) AS u (s, t, v)",
        &[&device, &seqs, &times, &values],
    )
    .await?;
    tx.execute(
        "INSERT INTO hazard_inbox (device_id, boot, min_seq, max_seq) VALUES ($1, 1, $2, $3)",
        &[&device, &first_seq, &(first_seq + n - 1)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let rooms: usize = args.next().map_or(Ok(200), |a| a.parse())?;
    let spacing = Duration::from_millis(args.next().map_or(Ok(5), |a| a.parse())?);

    let pg = tokio::task::spawn_blocking(dampwatch_pg::PrivatePostgres::temporary).await??;
    let url = pg.url();
    let mut db = connect(&url).await?;
    dampwatch_collector::migrate::migrate_all(
        &mut db,
        &[dampwatch_collector::migrate::MIGRATIONS, dampwatch_alerts::MIGRATIONS],
    )
    .await?;

    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    let app = Router::new().route("/hook", post(receive)).with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    db.batch_execute("INSERT INTO landlords (id) VALUES ('bench')").await?;
    db.execute(
        "INSERT INTO webhook_endpoints (landlord_id, url, secret) VALUES ('bench', $1, 'bench-secret-0123456789')",
        &[&hook],
    )
    .await?;
    let mut room_of = Vec::new();
    for i in 0..rooms {
        let dwelling: i64 = db
            .query_one(
                "INSERT INTO dwellings (landlord_id, reference) VALUES ('bench', $1) RETURNING id",
                &[&format!("h{i}")],
            )
            .await?
            .get(0);
        let room: i64 = db
            .query_one(
                "INSERT INTO rooms (dwelling_id, name) VALUES ($1, 'lounge') RETURNING id",
                &[&dwelling],
            )
            .await?
            .get(0);
        db.execute(
            "INSERT INTO devices (id, landlord_id, room_id, signing_public_key, provisioned_at)
             VALUES ($1, 'bench', $2, $3, '2000-01-01T00:00:00Z')",
            &[&format!("d{i}"), &room, &vec![0u8; 32]],
        )
        .await?;
        room_of.push(room);
    }

    let mut config = AlertsConfig::default();
    // Cases are opened at detection (the default policy), so each alert also writes a case,
    // its detection event and its deadlines before the webhook is queued.
    config.worker.poll_interval = Duration::from_secs(1);
    let stop = CancellationToken::new();
    let worker = dampwatch_alerts::start(&url, config, stop.clone()).await?;

    let crossing_at = Utc::now();
    let history: Vec<(DateTime<Utc>, f32)> =
        (1..=36).rev().map(|k| (crossing_at - chrono::Duration::minutes(10 * k), 14.0)).collect();
    for i in 0..rooms {
        store(&mut db, &format!("d{i}"), 1, &history).await?;
    }
    // Wait for the history to be folded in (no alert yet: 5 h 50 min is short of 6 h).
    loop {
        let left: i64 = db.query_one("SELECT count(*) FROM hazard_inbox", &[]).await?.get(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early: i64 = db.query_one("SELECT count(*) FROM alerts", &[]).await?.get(0);
    anyhow::ensure!(early == 0, "the history alone raised {early} alerts");

    let mut committed = HashMap::new();
    let started = Instant::now();
    for (i, room) in room_of.iter().enumerate() {
        store(&mut db, &format!("d{i}"), 37, &[(crossing_at, 14.0)]).await?;
        committed.insert(*room, Instant::now());
        tokio::time::sleep(spacing).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().map(|a| a.len()).unwrap_or(0) < rooms && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let state_bytes: f64 = db
        .query_one("SELECT avg(octet_length(state::text))::float8 FROM room_hazard_state", &[])
        .await?
        .get(0);
    stop.cancel();
    worker.join().await?;

    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut latencies: Vec<Duration> = committed
        .iter()
        .filter_map(|(room, c)| arrivals.get(room).map(|a| a.saturating_duration_since(*c)))
        .collect();
    latencies.sort();
    anyhow::ensure!(!latencies.is_empty(), "no webhook arrived");
    println!(
        "rooms={rooms} spacing={spacing:?} received={}/{rooms} in {elapsed:.2?} (room state {state_bytes:.0} bytes)\n\
         commit->webhook latency: p50={:.1?} p90={:.1?} p99={:.1?} max={:.1?}",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies[latencies.len() - 1],
    );
    Ok(())
}
