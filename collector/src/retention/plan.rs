//! The dry run: what a retention round would delete now, per class and table, what a legal
//! hold keeps, and which classes this release keeps whatever their age, with the reason.

use std::fmt;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::policy::{Class, Keep, Policy};
use super::{audit_cut, case_cut, cutoff, period, targets};
use crate::config::Retention;
use crate::db::Layout;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub class: Class,
    pub table: &'static str,
    pub keep: Keep,
    /// The period comes from the configuration, not the policy.
    pub configured: bool,
    pub cutoff: Option<DateTime<Utc>>,
    /// Rows a round would delete.
    pub delete: i64,
    /// Rows past the period that a legal hold keeps.
    pub held: i64,
    /// Rows past the period kept for another reason (this release does not delete the class).
    pub kept: i64,
    pub note: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub at: DateTime<Utc>,
    pub version: String,
    pub lines: Vec<Line>,
}

impl Plan {
    /// Rows a round would delete from `table`.
    pub fn delete_from(&self, table: &str) -> i64 {
        self.lines.iter().filter(|l| l.table == table).map(|l| l.delete).sum()
    }

    pub fn held_in(&self, table: &str) -> i64 {
        self.lines.iter().filter(|l| l.table == table).map(|l| l.held).sum()
    }
}

/// Why old rows of a class are kept.
const AUDIT_KEPT: &str = "the audit log is cut only at a signed checkpoint: older entries after the \
     newest checkpoint older than the period wait for the next one";
const ROLLUPS_KEPT: &str = "kept: TimescaleDB's hourly aggregate loses only whole chunks, which \
     cannot spare a held home";

/// What a round would do at `now`, reading the database and deleting nothing.
pub async fn plan(
    client: &impl GenericClient,
    layout: Layout,
    policy: &Policy,
    cfg: &Retention,
    now: DateTime<Utc>,
) -> Result<Plan, tokio_postgres::Error> {
    let version = policy.in_force(now.date_naive());
    // A line with the class's period and cutoff and nothing counted yet.
    let line = |class: Class, table: &'static str| {
        let (keep, configured) = period(policy, cfg, class, now);
        Line {
            class,
            table,
            keep,
            configured,
            cutoff: cutoff(keep, now),
            delete: 0,
            held: 0,
            kept: 0,
            note: None,
        }
    };
    let mut lines = Vec::new();
    for target in targets::all(layout) {
        let mut l = line(target.class, target.table);
        if let Some(c) = l.cutoff {
            let held_applies = version.rule(target.class).held;
            let sql = format!(
                "SELECT (SELECT count(*) FROM {t} WHERE {d}), (SELECT count(*) FROM {t} WHERE {h})",
                t = target.table,
                d = target.condition(held_applies, false),
                h = target.condition(held_applies, true),
            );
            let row = client.query_one(&sql, &[&c]).await?;
            (l.delete, l.held) = (row.get(0), row.get(1));
        }
        lines.push(l);
    }
    let mut audit = line(Class::AuditLogs, audit_cut::TABLE);
    if let Some(c) = audit.cutoff {
        (audit.delete, audit.kept) = audit_cut::plan(client, c).await?;
        audit.note = (audit.kept > 0).then_some(AUDIT_KEPT);
    }
    lines.push(audit);
    let mut cases = line(Class::ClosedCases, case_cut::TABLE);
    if let Some(c) = cases.cutoff {
        (cases.delete, cases.held) = case_cut::plan(client, c).await?;
    }
    lines.push(cases);
    // Under TimescaleDB the hourly aggregate is not trimmed: counted, so the plan says what its
    // period covers.
    if layout == Layout::Timescale {
        let mut rollups = line(Class::HourlyRollups, "readings_hourly");
        if let Some(c) = rollups.cutoff {
            rollups.kept =
                client.query_one("SELECT count(*) FROM readings_hourly WHERE hour < $1", &[&c]).await?.get(0);
        }
        rollups.note = Some(ROLLUPS_KEPT);
        lines.push(rollups);
    }
    Ok(Plan { at: now, version: version.id.clone(), lines })
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "retention plan at {} under policy {} (dry run: nothing deleted)",
            self.at.to_rfc3339(),
            self.version
        )?;
        writeln!(
            f,
            "{:<18} {:<24} {:>10} {:>12} {:>10} {:>10}  note",
            "class", "table", "keep", "delete", "held", "kept"
        )?;
        for l in &self.lines {
            let keep = if l.configured { format!("{}*", l.keep) } else { l.keep.to_string() };
            writeln!(
                f,
                "{:<18} {:<24} {:>10} {:>12} {:>10} {:>10}  {}",
                l.class.name(),
                l.table,
                keep,
                l.delete,
                l.held,
                l.kept,
                l.note.unwrap_or("")
            )?;
        }
        write!(f, "* set in [retention], not the policy; held: a home with an open case or legal hold")
    }
}
