//! `dampwatch clock deadlines`: every Awaab's Law step deadline for a given awareness time,
//! printed so a housing officer can check each date by hand.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::deadline::{deadlines_for_track, Deadline, Due, StepDeadline, Triggers};
use crate::hazard::Hazard;
use crate::law::{AwaabRules, Basis, StepCondition, StepName, Track, Trigger};
use crate::london::{format_date, format_local, format_utc, local_date, parse_instant};

/// Commands under `dampwatch clock`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClockCommand {
    /// Print every Awaab's Law step deadline for a potential hazard.
    Deadlines(DeadlinesArgs),
}

/// Run a `dampwatch clock` command, writing its output to `out`.
pub fn run(command: ClockCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        ClockCommand::Deadlines(args) => run_deadlines(args, out),
    }
}

/// Arguments of `dampwatch clock deadlines`.
///
/// TIME is RFC 3339 with an offset (2026-11-20T23:30:00Z, 2026-06-05T23:30:00+01:00) or a
/// local time YYYY-MM-DDTHH:MM taken as Europe/London time.
#[derive(Debug, Clone, clap::Args)]
pub struct DeadlinesArgs {
    /// When the landlord became aware of the potential hazard. TIME: RFC 3339 with an offset,
    /// or YYYY-MM-DDTHH:MM interpreted as Europe/London local time.
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub aware: DateTime<Utc>,

    /// Which deadlines apply, as decided at triage.
    #[arg(long, value_enum)]
    pub track: Track,

    /// When the investigation concluded (starts the summary, safety-work and preventative
    /// clocks). Same TIME forms as --aware.
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub investigation_concluded: Option<DateTime<Utc>>,

    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,

    /// A gov.uk bank-holidays.json to use for the years it covers (the built-in calendar is
    /// used for other years).
    #[arg(long, value_name = "FILE")]
    pub bank_holidays: Option<PathBuf>,
}

/// The JSON document `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    track: Track,
    aware: DateTime<Utc>,
    investigation_concluded: Option<DateTime<Utc>>,
    calendar_version: &'a str,
    rules_version: &'a str,
    rules_title: &'a str,
    /// HHSRS hazards Awaab's Law covers on this track for this awareness date.
    hazards_in_scope: Vec<Hazard>,
    steps: &'a [StepDeadline],
}

/// Print every step deadline of the track in `args` to `out`.
pub fn run_deadlines(args: DeadlinesArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(concluded) = args.investigation_concluded {
        if concluded < args.aware {
            bail!(
                "--investigation-concluded ({}) is before --aware ({}); an investigation cannot \
                 conclude before the landlord is aware",
                format_utc(concluded),
                format_utc(args.aware)
            );
        }
    }
    let mut calendar = Calendar::england_and_wales().context("loading the built-in calendar")?;
    if let Some(path) = &args.bank_holidays {
        let json = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        calendar =
            calendar.with_govuk_import(&json).with_context(|| format!("importing {}", path.display()))?;
    }
    let rules = AwaabRules::embedded().context("loading the built-in Awaab's Law rules")?;
    let triggers = Triggers { awareness: args.aware, investigation_concluded: args.investigation_concluded };
    let steps = deadlines_for_track(args.track, &triggers, &calendar, &rules)?;

    if args.json {
        let report = Report {
            track: args.track,
            aware: args.aware,
            investigation_concluded: args.investigation_concluded,
            calendar_version: calendar.version(),
            rules_version: rules.version(),
            rules_title: rules.title(),
            hazards_in_scope: rules
                .hazards_in_scope(args.track, local_date(args.aware))
                .into_iter()
                .collect(),
            steps: &steps,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    write_text(&args, &triggers, &calendar, &rules, &steps, out)
}

fn write_text(
    args: &DeadlinesArgs,
    triggers: &Triggers,
    calendar: &Calendar,
    rules: &AwaabRules,
    steps: &[StepDeadline],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let instant = |t: DateTime<Utc>| format!("{} ({})", format_utc(t), format_local(t));
    writeln!(out, "Awaab's Law deadlines, {} track", args.track)?;
    writeln!(out, "  aware:                   {}", instant(triggers.awareness))?;
    match triggers.investigation_concluded {
        Some(t) => writeln!(out, "  investigation concluded: {}", instant(t))?,
        None => writeln!(out, "  investigation concluded: not given")?,
    }
    writeln!(out, "  calendar:                {} (England & Wales)", calendar.version())?;
    writeln!(out, "  rules:                   {} ({})", rules.version(), rules.title())?;
    writeln!(out, "  hazards in scope:        {}", scope_summary(rules, args.track, triggers.awareness))?;
    writeln!(
        out,
        "Working-day and week deadlines are the last permitted day in Europe/London (due by the end \
         of that day), counted from the day after the trigger's London date; working days exclude \
         Saturdays, Sundays and bank holidays. Hour deadlines are exact elapsed time: a UTC instant, with the London time beside it."
    )?;
    for step in steps {
        writeln!(out)?;
        match step {
            StepDeadline::Computed(deadline) => write_deadline(deadline, out)?,
            StepDeadline::AwaitingTrigger { step, trigger } => {
                writeln!(out, "{:<22} needs --{}", step.as_str(), flag(*trigger))?;
            }
        }
        if let Some(rule) = rules.step(step.step()) {
            if rule.applies_when == Some(StepCondition::PreventativeNotReasonablyPracticable) {
                writeln!(
                    out,
                    "    applies only if beginning preventative work within its period is recorded as \
                     not reasonably practicable"
                )?;
            }
            if let Some(note) = &rule.note {
                writeln!(out, "    note: {note}")?;
            }
            if step.step() == StepName::EmergencyMakeSafe && triggers.investigation_concluded.is_none() {
                writeln!(
                    out,
                    "    the clock from the investigation concluding also runs once it is known \
                     (needs --investigation-concluded)"
                )?;
            }
        }
    }
    Ok(())
}

/// Which hazards the track covers on the awareness date, briefly.
fn scope_summary(rules: &AwaabRules, track: Track, aware: DateTime<Utc>) -> String {
    let day = local_date(aware);
    let covered = rules.hazards_in_scope(track, day);
    let total = Hazard::ALL.len();
    if covered.is_empty() {
        return format!("none: Awaab's Law did not cover the {track} track on {}", format_date(day));
    }
    let names = |hazards: Vec<Hazard>| hazards.iter().map(|h| h.slug()).collect::<Vec<_>>().join(", ");
    if covered.len() * 2 <= total {
        format!("{} of {total} HHSRS hazards ({})", covered.len(), names(covered.into_iter().collect()))
    } else {
        let excluded = Hazard::ALL.iter().copied().filter(|h| !covered.contains(h)).collect();
        format!("{} of {total} HHSRS hazards (all except {})", covered.len(), names(excluded))
    }
}

fn flag(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Awareness => "aware",
        Trigger::InvestigationConcluded => "investigation-concluded",
    }
}

fn event_name(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Awareness => "awareness",
        Trigger::InvestigationConcluded => "investigation concluded",
    }
}

fn write_deadline(deadline: &Deadline, out: &mut dyn Write) -> anyhow::Result<()> {
    match deadline.due {
        Due::Date(day) => {
            writeln!(out, "{:<22} {}  ({})", deadline.step.as_str(), deadline.due, format_date(day))?
        }
        Due::Instant(t) => {
            writeln!(out, "{:<22} {}  ({})", deadline.step.as_str(), deadline.due, format_local(t))?
        }
    }
    let from = &deadline.counted_from;
    match deadline.basis {
        Basis::ElapsedHours => writeln!(
            out,
            "    {} hours elapsed from {} at {} ({})",
            deadline.amount,
            event_name(from.event),
            format_utc(from.at),
            format_local(from.at)
        )?,
        Basis::WorkingDays | Basis::Weeks => writeln!(
            out,
            "    {} {} counted from the day after {} on {} ({})",
            deadline.amount,
            deadline.basis.unit(),
            event_name(from.event),
            format_date(from.local_day),
            format_utc(from.at)
        )?,
    }
    if deadline.basis == Basis::WorkingDays {
        let skipped: Vec<String> = deadline.bank_holidays_skipped.iter().map(|d| format_date(*d)).collect();
        let skipped = if skipped.is_empty() { "none".to_owned() } else { skipped.join(", ") };
        writeln!(out, "    bank holidays skipped: {skipped}")?;
    }
    for other in &deadline.other_clocks {
        writeln!(
            out,
            "    also counted from {} at {}: due {} (later, so the deadline above applies)",
            event_name(other.counted_from.event),
            format_utc(other.counted_from.at),
            other.due
        )?;
    }
    writeln!(out, "    source: {}", deadline.source)?;
    Ok(())
}
