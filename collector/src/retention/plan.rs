//! The dry run: what a retention round would delete now, per class and table, what a legal
//! hold keeps, and which classes this release keeps whatever their age, with the reason.

use std::fmt;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::policy::{Class, Keep, Policy};
use super::{audit_cut, cutoff, period, targets};
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
const CASES_KEPT: &str = "kept: a closed case's hash-chained log is deleted only with its chain's \
     anchor kept, which this release does not do";
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
    let mut lines = Vec::new();
    for target in targets::all(layout) {
        let (keep, configured) = period(policy, cfg, target.class, now);
        let cut = cutoff(keep, now);
        let held_applies = version.rule(target.class).held;
        let (delete, held) = match cut {
            None => (0, 0),
            Some(c) => {
                let sql = format!(
                    "SELECT (SELECT count(*) FROM {t} WHERE {d}), (SELECT count(*) FROM {t} WHERE {h})",
                    t = target.table,
                    d = target.condition(held_applies, false),
                    h = target.condition(held_applies, true),
                );
                let row = client.query_one(&sql, &[&c]).await?;
                (row.get(0), row.get(1))
            }
        };
        lines.push(Line {
            class: target.class,
            table: target.table,
            keep,
            configured,
            cutoff: cut,
            delete,
            held,
            kept: 0,
            note: None,
        });
    }
    let (keep, configured) = period(policy, cfg, Class::AuditLogs, now);
    let cut = cutoff(keep, now);
    let (delete, kept) = match cut {
        None => (0, 0),
        Some(c) => audit_cut::plan(client, c).await?,
    };
    let note = (kept > 0).then_some(AUDIT_KEPT);
    lines.push(Line {
        class: Class::AuditLogs,
        table: audit_cut::TABLE,
        keep,
        configured,
        cutoff: cut,
        delete,
        held: 0,
        kept,
        note,
    });
    // Classes this release does not delete: counted, so the plan says what their period covers.
    let kept_classes: Vec<(Class, &'static str, &'static str, &'static str)> = {
        let mut k = vec![(Class::ClosedCases, "cases", "state = 'closed' AND updated_at < $1", CASES_KEPT)];
        if layout == Layout::Timescale {
            k.push((Class::HourlyRollups, "readings_hourly", "hour < $1", ROLLUPS_KEPT));
        }
        k
    };
    for (class, table, condition, note) in kept_classes {
        let (keep, configured) = period(policy, cfg, class, now);
        let cut = cutoff(keep, now);
        let kept = match cut {
            None => 0,
            Some(c) => client
                .query_one(&format!("SELECT count(*) FROM {table} WHERE {condition}"), &[&c])
                .await?
                .get(0),
        };
        lines.push(Line {
            class,
            table,
            keep,
            configured,
            cutoff: cut,
            delete: 0,
            held: 0,
            kept,
            note: Some(note),
        });
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
