//! Where PostgreSQL's time goes: the statements `pg_stat_statements` counted over the
//! benchmark's runs (`dampwatch bench ingest --statements`), heaviest first, per committed
//! uplink, so a change to the SQL can be judged by the figure it moves.

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

/// Writes the heaviest statements since [`reset`]: calls and execution time in all and per
/// committed uplink, rows, and the statement.
pub async fn report(db: &tokio_postgres::Client, uplinks: u64, out: &mut dyn Write) -> anyhow::Result<()> {
    let rows = db
        .query(
            "SELECT calls, total_exec_time, rows, query,
                    sum(total_exec_time) OVER () AS all_time,
                    jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time AS jit
             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY total_exec_time DESC LIMIT $1",
            &[&TOP],
        )
        .await?;
    let per = uplinks.max(1) as f64;
    writeln!(
        out,
        "\nPostgreSQL statements by execution time over all runs ({uplinks} uplinks committed; \
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
