//! The floors under the collector's numbers, measured on the same uplinks and rows: how fast
//! `ring` alone verifies the signatures (one core), and how fast PostgreSQL alone takes the
//! rows by binary COPY into a table shaped like `readings`.

use super::replay::Presigned;
use chrono::{TimeZone, Utc};
use dampwatch_collector::check_uplink;
use dampwatch_proto::v1::SignedUplink;
use dampwatch_store::{write_reading, DeviceEntry, Provenance, READING_COLUMNS};
use futures_util::pin_mut;
use prost::Message;
use std::time::Instant;
use tokio_postgres::binary_copy::BinaryCopyInWriter;

/// Signature verifications per second on this thread.
pub fn ring_verifications_per_second(uplinks: &[Presigned]) -> anyhow::Result<f64> {
    let envelopes: Vec<(&str, &[u8; 32], SignedUplink)> = uplinks
        .iter()
        .map(|u| Ok((u.device.as_str(), &u.public_key, SignedUplink::decode(u.bytes.as_slice())?)))
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    for (device, key, env) in &envelopes {
        dampwatch_proto::verify_uplink(device, key.as_slice(), &env.payload, &env.signature)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(envelopes.len() as f64 / started.elapsed().as_secs_f64())
}

/// Rows per second of one binary COPY of the uplinks' readings into a scratch copy of
/// `readings` (same columns and primary key), committed.
pub async fn copy_rows_per_second(
    db: &mut tokio_postgres::Client,
    uplinks: &[Presigned],
) -> anyhow::Result<f64> {
    let now = Utc::now();
    let mut rows = Vec::new();
    for u in uplinks {
        let entry = DeviceEntry {
            landlord: super::world::LANDLORD.into(),
            key_id: 1,
            public_key: u.public_key.to_vec(),
            active: true,
            provisioned_at: Utc.timestamp_opt(0, 0).single().unwrap_or(now),
        };
        let checked = check_uplink(&u.topic, &u.bytes, now, chrono::Duration::hours(1), |_| Some(&entry))
            .map_err(|r| anyhow::anyhow!("{}: {}", r.reason, r.detail))?;
        rows.push(checked);
    }
    db.batch_execute(
        "DROP TABLE IF EXISTS bench_copy_floor; CREATE TABLE bench_copy_floor (LIKE readings INCLUDING ALL)",
    )
    .await?;
    let digest = vec![0u8; 32];
    let started = Instant::now();
    let tx = db.transaction().await?;
    let sink = tx.copy_in("COPY bench_copy_floor FROM STDIN BINARY").await?;
    let w = BinaryCopyInWriter::new(sink, READING_COLUMNS);
    pin_mut!(w);
    let mut n = 0u64;
    for u in &rows {
        let from = Provenance { device: &u.device, boot: u.boot, received_at: now, uplink_digest: &digest };
        for r in &u.readings {
            write_reading(w.as_mut(), &from, r).await?;
            n += 1;
        }
    }
    w.finish().await?;
    tx.commit().await?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    db.batch_execute("DROP TABLE bench_copy_floor").await?;
    Ok(rate)
}
