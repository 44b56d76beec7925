//! Retention: each class of data is deleted once older than the period the retention policy in
//! force gives it (`collector/data/retention.toml`, versioned, each period with its basis and
//! primary source; `[retention]` may override a period), except what a legal hold keeps: the
//! evidence of a home with an open case or an open hold (migration 0440).
//!
//! The job deletes in chunks of `chunk_rows` (one short statement each), so it never holds
//! locks long or competes with ingest for long. With several collectors, a session advisory
//! lock lets one of them do a round at a time. [`plan`] is the dry run: what a round would
//! delete now, and what it keeps and why, without deleting anything.
//!
//! The audit log is cut only at a signed checkpoint ([`audit_cut`]), so what is left still
//! verifies offline; a closed case goes whole, its chain's head anchored in the audit log
//! first ([`case_cut`]).
//!
//! TimescaleDB: whole-chunk retention cannot spare a held home's rows, so the job deletes
//! rows there too (and removes the chunk policies earlier releases set); the hourly continuous
//! aggregate is not trimmed (it can only lose whole chunks), which the plan says.

mod audit_cut;
mod case_cut;
pub mod plan;
pub mod policy;
mod targets;

use crate::config::Retention;
use crate::db::Layout;
use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use policy::{Class, Keep, Policy};
use std::sync::Arc;
use std::time::Duration;
use targets::Target;
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
    pub fn deleted_from(&self, table: &str) -> u64 {
        self.deleted.iter().filter(|(t, _)| *t == table).map(|(_, n)| n).sum()
    }
}

/// The period of `class` on `now`: the configured override, else the policy's.
pub fn period(policy: &Policy, cfg: &Retention, class: Class, now: DateTime<Utc>) -> (Keep, bool) {
    let configured = match class {
        Class::Readings => cfg.readings,
        Class::HourlyRollups => cfg.rollups,
        Class::RejectedMessages => cfg.quarantine,
        Class::ClosedCases => cfg.closed_cases,
        _ => None,
    };
    match configured {
        Some(d) => (Keep::from_config(d), true),
        None => (policy.in_force(now.date_naive()).rule(class).keep, false),
    }
}

/// The instant before which `keep` lets rows go, if any.
fn cutoff(keep: Keep, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match keep {
        Keep::Forever => None,
        Keep::For(d) => chrono::Duration::from_std(d).ok().and_then(|k| now.checked_sub_signed(k)),
    }
}

/// One round of deletions, as of `now`.
pub async fn run_once(
    client: &Client,
    layout: Layout,
    policy: &Policy,
    cfg: &Retention,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<Report, tokio_postgres::Error> {
    let locked: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY]).await?.get(0);
    if !locked {
        return Ok(Report::default());
    }
    let result = delete_all(client, layout, policy, cfg, now, stop).await;
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
    let report = result?;
    unlocked?;
    Ok(report)
}

async fn delete_all(
    client: &Client,
    layout: Layout,
    policy: &Policy,
    cfg: &Retention,
    now: DateTime<Utc>,
    stop: &CancellationToken,
) -> Result<Report, tokio_postgres::Error> {
    let mut report = Report { deleted: Vec::new(), ran: true };
    let version = policy.in_force(now.date_naive());
    for target in targets::all(layout) {
        let (keep, _) = period(policy, cfg, target.class, now);
        let Some(cutoff) = cutoff(keep, now) else { continue };
        let held = version.rule(target.class).held;
        let total = delete(client, &target, held, cutoff, cfg.chunk_rows, stop).await?;
        report.deleted.push((target.table, total));
    }
    let (keep, _) = period(policy, cfg, Class::AuditLogs, now);
    if let Some(cutoff) = cutoff(keep, now) {
        let total = audit_cut::cut(client, cutoff, cfg.chunk_rows, stop).await?;
        report.deleted.push((audit_cut::TABLE, total));
    }
    let (keep, _) = period(policy, cfg, Class::ClosedCases, now);
    if let Some(cutoff) = cutoff(keep, now) {
        let total = case_cut::cut(client, cutoff, stop).await?;
        report.deleted.push((case_cut::TABLE, total));
    }
    Ok(report)
}

async fn delete(
    client: &Client,
    target: &Target,
    held: bool,
    cutoff: DateTime<Utc>,
    chunk_rows: i64,
    stop: &CancellationToken,
) -> Result<u64, tokio_postgres::Error> {
    // Table, column and conditions come from the list in `targets`, never from input.
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY (ARRAY(
             SELECT ctid FROM {table} WHERE {condition} LIMIT $2))",
        table = target.table,
        condition = target.condition(held, false),
    );
    let statement = &client.prepare(&sql).await?;
    in_chunks(stop, || async move {
        let n = client.execute(statement, &[&cutoff, &chunk_rows]).await?;
        Ok((n, n >= chunk_rows as u64))
    })
    .await
}

/// Runs `chunk` (one short statement) again and again until it says it was the last or `stop`
/// is asked, pausing between chunks so that ingest has the server. A chunk returns the rows it
/// removed and whether more may be left. Returns the rows removed in all.
async fn in_chunks<F, Fut>(stop: &CancellationToken, mut chunk: F) -> Result<u64, tokio_postgres::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(u64, bool), tokio_postgres::Error>>,
{
    let mut total = 0u64;
    loop {
        let (n, more) = chunk().await?;
        total += n;
        if !more || stop.is_cancelled() {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The dry run on the database `url` names, as of `now`.
pub async fn plan_for(
    url: &str,
    cfg: &Retention,
    now: DateTime<Utc>,
) -> Result<plan::Plan, tokio_postgres::Error> {
    let session = crate::db::open(url).await?;
    plan::plan(&session.client, session.layout, &Policy::builtin(), cfg, now).await
}

/// One round now on the database `url` names (as the collector's job does every interval).
pub async fn run_now(url: &str, cfg: &Retention) -> Result<Report, tokio_postgres::Error> {
    let session = crate::db::open(url).await?;
    run_once(&session.client, session.layout, &Policy::builtin(), cfg, Utc::now(), &CancellationToken::new())
        .await
}

/// Removes the whole-chunk retention policies earlier releases set on TimescaleDB: they cannot
/// spare a held home's rows, so the job deletes rows instead.
pub async fn remove_timescale_policies(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    for relation in ["readings", "readings_hourly"] {
        tx.execute("SELECT remove_retention_policy($1::regclass, if_exists => true)", &[&relation]).await?;
    }
    tx.commit().await
}

/// Runs a round every `cfg.interval` until `stop`, on its own connection.
pub async fn run(db_url: String, cfg: Retention, metrics: Arc<Metrics>, stop: CancellationToken) {
    let policy = Policy::builtin();
    let mut policies_applied = false;
    loop {
        match crate::db::open(&db_url).await {
            Ok(mut session) => {
                if session.layout == Layout::Timescale && !policies_applied {
                    match remove_timescale_policies(&mut session.client).await {
                        Ok(()) => policies_applied = true,
                        Err(e) => {
                            tracing::warn!(error = %crate::db::describe(&e), "cannot remove the TimescaleDB retention policies")
                        }
                    }
                }
                match run_once(&session.client, session.layout, &policy, &cfg, Utc::now(), &stop).await {
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
