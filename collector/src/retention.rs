//! Retention: old readings, their evidence, rollups and quarantined messages (with the
//! per-device hourly counts that also trace the messages past a quarantine quota) are deleted
//! once they are older than configured.
//!
//! Plain PostgreSQL: a job in the collector deletes in chunks of `chunk_rows` (one short
//! statement each, found through the BRIN indexes on arrival time), so it never holds locks
//! long or competes with ingest for long. With several collectors, a session advisory lock lets
//! one of them do a round at a time.
//!
//! TimescaleDB: dropping whole chunks of the `readings` hypertable and of the hourly continuous
//! aggregate is TimescaleDB's own retention policy, set at start from the same configuration;
//! the job still trims the tables that are not hypertables (`uplinks`, `reading_keys`, the
//! quarantine).

use crate::config::Retention;
use crate::db::Layout;
use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

/// Arbitrary constant naming the retention lock.
const LOCK_KEY: i64 = 0x64_77_72_65_74_61_69_6e;

/// Rows deleted by one round, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub deleted: Vec<(&'static str, u64)>,
    /// False when another collector held the lock and this round did nothing.
    pub ran: bool,
}

impl Report {
    #[cfg(test)]
    pub fn deleted_from(&self, table: &str) -> u64 {
        self.deleted.iter().filter(|(t, _)| *t == table).map(|(_, n)| n).sum()
    }
}

/// What to delete: (table, time column, how long rows are kept).
fn targets(cfg: &Retention, layout: Layout) -> Vec<(&'static str, &'static str, Duration)> {
    // The per-device hourly counts are the trace of quarantined messages (those past a quota
    // have no other), so they are kept as long as the quarantine.
    let mut t = vec![
        ("uplinks", "received_at", cfg.readings),
        ("rejected_messages", "received_at", cfg.quarantine),
        ("device_hourly_intake", "hour", cfg.quarantine),
    ];
    match layout {
        Layout::Plain => {
            t.push(("readings", "received_at", cfg.readings));
            t.push(("readings_hourly_totals", "hour", cfg.rollups));
        }
        Layout::Timescale => t.push(("reading_keys", "received_at", cfg.readings)),
    }
    t
}

/// One round of deletions, as of `now`.
pub async fn run_once(
    client: &Client,
    layout: Layout,
    cfg: &Retention,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<Report, tokio_postgres::Error> {
    let locked: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY]).await?.get(0);
    if !locked {
        return Ok(Report::default());
    }
    let result = delete_all(client, layout, cfg, now, stop).await;
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
    let report = result?;
    unlocked?;
    Ok(report)
}

async fn delete_all(
    client: &Client,
    layout: Layout,
    cfg: &Retention,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<Report, tokio_postgres::Error> {
    let mut report = Report { deleted: Vec::new(), ran: true };
    for (table, column, keep) in targets(cfg, layout) {
        if keep.is_zero() {
            continue;
        }
        let Some(cutoff) = chrono::Duration::from_std(keep).ok().and_then(|k| now.checked_sub_signed(k))
        else {
            continue;
        };
        // Table and column names come from the list above, never from input.
        let sql = format!(
            "DELETE FROM {table} WHERE ctid = ANY (ARRAY(
                 SELECT ctid FROM {table} WHERE {column} < $1 LIMIT $2))"
        );
        let statement = client.prepare(&sql).await?;
        let mut total = 0u64;
        loop {
            let n = client.execute(&statement, &[&cutoff, &cfg.chunk_rows]).await?;
            total += n;
            if n < cfg.chunk_rows as u64 || stop.is_cancelled() {
                break;
            }
            // Let ingest have the server between chunks.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        report.deleted.push((table, total));
    }
    Ok(report)
}

/// Sets TimescaleDB's retention policies from the configuration (replacing earlier ones).
pub async fn apply_timescale_policies(
    client: &mut Client,
    cfg: &Retention,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    for (relation, keep) in [("readings", cfg.readings), ("readings_hourly", cfg.rollups)] {
        tx.execute("SELECT remove_retention_policy($1::regclass, if_exists => true)", &[&relation]).await?;
        if !keep.is_zero() {
            let interval = format!("{} seconds", keep.as_secs());
            tx.execute(
                "SELECT add_retention_policy($1::regclass, drop_after => $2::text::interval)",
                &[&relation, &interval],
            )
            .await?;
        }
    }
    tx.commit().await
}

/// Runs a round every `cfg.interval` until `stop`, on its own connection.
pub async fn run(db_url: String, cfg: Retention, metrics: Arc<Metrics>, stop: CancellationToken) {
    let mut policies_applied = false;
    loop {
        match crate::db::open(&db_url).await {
            Ok(mut session) => {
                if session.layout == Layout::Timescale && !policies_applied {
                    match apply_timescale_policies(&mut session.client, &cfg).await {
                        Ok(()) => policies_applied = true,
                        Err(e) => {
                            tracing::warn!(error = %crate::db::describe(&e), "cannot set the TimescaleDB retention policies")
                        }
                    }
                }
                match run_once(&session.client, session.layout, &cfg, Utc::now(), &stop).await {
                    Ok(report) => {
                        for (table, n) in &report.deleted {
                            metrics.retention_deleted(table, *n);
                            if *n > 0 {
                                tracing::info!(table, rows = n, "retention deleted old rows");
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %crate::db::describe(&e), "retention round failed; trying again next round")
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention: database unreachable; trying again next round"),
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.interval) => {}
            _ = stop.cancelled() => return,
        }
    }
}
