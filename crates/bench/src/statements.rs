//! Where PostgreSQL's time goes: the statements `pg_stat_statements` counted over each of the
//! benchmark's runs (`dampwatch bench ingest --statements`), heaviest first, per committed
//! uplink, so a change to the SQL can be judged by the figure it moves, and the vacuums and
//! analyses PostgreSQL ran on the tables meanwhile, whose work no statement counts.

use std::io::Write;

/// Statements shown.
const TOP: i64 = 15;
/// Characters of each statement's text shown (whitespace collapsed).
const TEXT: usize = 110;

/// Forgets what was counted so far (the set-up's statements).
pub async fn reset(db: &tokio_postgres::Client) -> anyhow::Result<()> {
    db.batch_execute("SELECT pg_stat_statements_reset()").await?;
    Ok(())
}

/// The heaviest statements since [`reset`].
pub async fn heaviest(db: &tokio_postgres::Client) -> anyhow::Result<Vec<tokio_postgres::Row>> {
    Ok(db
        .query(
            "SELECT calls, total_exec_time, rows, query,
                    sum(total_exec_time) OVER () AS all_time,
                    jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time AS jit
             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY total_exec_time DESC LIMIT $1",
            &[&TOP],
        )
        .await?)
}

/// Writes the heaviest statements (`rows`, from [`heaviest`]) of run `run`: calls and
/// execution time in all and per committed uplink, rows, and the statement.
pub fn report(
    rows: Vec<tokio_postgres::Row>,
    run: usize,
    uplinks: u64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let per = uplinks.max(1) as f64;
    writeln!(
        out,
        "\nPostgreSQL statements by execution time over run {run} ({uplinks} uplinks committed; \
         execution only: parsing, planning, WAL flushes at commit and idle time are not in it)"
    )?;
    writeln!(
        out,
        "| share | ms | µs per uplink | µs per call | calls per uplink | rows per call | of which JIT, ms | statement |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---|")?;
    for r in rows {
        let (calls, ms, n, query, all, jit): (i64, f64, i64, String, f64, f64) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
        let text: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
        let text: String = text.chars().take(TEXT).collect();
        writeln!(
            out,
            "| {:.1}% | {:.0} | {:.1} | {:.0} | {:.3} | {:.1} | {:.0} | `{}` |",
            100.0 * ms / all.max(f64::MIN_POSITIVE),
            ms,
            1000.0 * ms / per,
            1000.0 * ms / (calls.max(1) as f64),
            calls as f64 / per,
            n as f64 / (calls.max(1) as f64),
            jit,
            text.replace('|', "\\|").replace('`', "'"),
        )?;
    }
    Ok(())
}

/// How many times each table was vacuumed and analysed so far (manually or by autovacuum).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance(Vec<(String, i64, i64)>);

/// The tables' vacuum and analyse counts now.
pub async fn maintenance(db: &tokio_postgres::Client) -> anyhow::Result<Maintenance> {
    let rows = db
        .query(
            "SELECT relname::text, vacuum_count + autovacuum_count, analyze_count + autoanalyze_count
             FROM pg_stat_user_tables ORDER BY relname",
            &[],
        )
        .await?;
    Ok(Maintenance(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()))
}

/// Writes which tables were vacuumed or analysed between `before` and `after`, and any vacuum
/// still running.
pub async fn report_maintenance(
    db: &tokio_postgres::Client,
    before: &Maintenance,
    after: &Maintenance,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut done = Vec::new();
    for (table, vacuums, analyses) in &after.0 {
        let (v0, a0) = before.0.iter().find(|(t, _, _)| t == table).map_or((0, 0), |(_, v, a)| (*v, *a));
        if vacuums > &v0 || analyses > &a0 {
            done.push(format!("{table} vacuumed {}, analysed {}", vacuums - v0, analyses - a0));
        }
    }
    let running: Vec<String> = db
        .query(
            // A TOAST table is named by the table it belongs to.
            "SELECT coalesce(o.relname::text || ' TOAST', c.relname::text) || ' (' || p.phase || ', ' ||
                    round(100.0 * p.heap_blks_scanned / greatest(p.heap_blks_total, 1)) || '% scanned)'
             FROM pg_stat_progress_vacuum p JOIN pg_class c ON c.oid = p.relid
             LEFT JOIN pg_class o ON o.reltoastrelid = p.relid
             ORDER BY c.relname",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let done = if done.is_empty() { "none".to_owned() } else { done.join("; ") };
    let running = if running.is_empty() { "none".to_owned() } else { running.join("; ") };
    writeln!(out, "vacuums and analyses during the run: {done}; still running at its end: {running}")?;
    Ok(())
}
