//! `dampwatch clock deadlines`: every statutory step deadline for a given awareness time, under
//! the law of the home's jurisdiction and tenure, printed so a housing officer can check each
//! date by hand; or, when no statutory clock runs, why.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::deadline::{deadlines_for_track, Deadline, Due, StepDeadline, Triggers};
use crate::hazard::Hazard;
use crate::jurisdiction::{Jurisdiction, Tenancy, Tenure};
use crate::law::{
    Applicability, AwaabRules, Basis, LawBook, NoClock, StepCondition, StepName, Track, Trigger,
    WorkingDayDefinition,
};
use crate::london::{format_date, format_local, format_utc, local_date, parse_instant};

/// Commands under `dampwatch clock`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClockCommand {
    /// Print every statutory step deadline for a potential hazard.
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

    /// Which deadlines apply, as decided at triage. Needed in England; Scotland's regulations
    /// have one timetable for all damp and mould, which an urgent case runs on too.
    #[arg(long, value_enum)]
    pub track: Option<Track>,

    /// Where the home is: its law and bank-holiday calendar.
    #[arg(long, value_enum, default_value_t = Jurisdiction::England)]
    pub jurisdiction: Jurisdiction,

    /// How the home is let.
    #[arg(long, value_enum, default_value_t = Tenure::Social)]
    pub tenure: Tenure,

    /// When the investigation concluded (starts the summary, safety-work and preventative
    /// clocks). Same TIME forms as --aware.
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub investigation_concluded: Option<DateTime<Utc>>,

    /// Print a JSON document instead of text.
    #[arg(long)]
    pub json: bool,

    /// A gov.uk bank-holidays.json to use for the years it covers (its entry for the law's
    /// calendar division is read; the built-in calendar is used for other years).
    #[arg(long, value_name = "FILE")]
    pub bank_holidays: Option<PathBuf>,
}

/// The JSON document `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    track: Option<Track>,
    aware: DateTime<Utc>,
    investigation_concluded: Option<DateTime<Utc>>,
    jurisdiction: Jurisdiction,
    tenure: Tenure,
    /// The law's id, when a law covers the home.
    law: Option<&'a str>,
    calendar_version: Option<&'a str>,
    rules_version: Option<&'a str>,
    rules_title: Option<&'a str>,
    working_day: Option<&'a WorkingDayDefinition>,
    /// HHSRS hazards the law covers on this track for this awareness date.
    hazards_in_scope: Vec<Hazard>,
    /// Why no statutory clock runs, when none does.
    #[serde(skip_serializing_if = "Option::is_none")]
    no_clock: Option<&'a NoClock>,
    steps: &'a [StepDeadline],
}

/// What the command found: the law and its calendar, or none, and the deadlines.
struct Found<'a> {
    tenancy: Tenancy,
    law: Option<(&'a AwaabRules, Calendar)>,
    track: Option<Track>,
    no_clock: Option<NoClock>,
    steps: Vec<StepDeadline>,
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
    let book = LawBook::embedded().context("loading the built-in laws")?;
    let tenancy = Tenancy::new(args.jurisdiction, args.tenure);
    let triggers = Triggers { awareness: args.aware, investigation_concluded: args.investigation_concluded };
    let found = match book.law(tenancy) {
        None => Found {
            tenancy,
            law: None,
            track: args.track,
            no_clock: Some(LawBook::no_law(tenancy)),
            steps: Vec::new(),
        },
        Some(law) => {
            let track = track_under(law, args.track)?;
            let calendar = calendar_for(law, &args)?;
            let (no_clock, steps) = match book.applicable(tenancy, local_date(args.aware)) {
                Applicability::NoClock(no_clock) => (Some(no_clock), Vec::new()),
                Applicability::Clock(_) => (None, deadlines_for_track(track, &triggers, &calendar, law)?),
            };
            Found { tenancy, law: Some((law, calendar)), track: Some(track), no_clock, steps }
        }
    };

    if args.json {
        let law = found.law.as_ref();
        let report = Report {
            track: found.track,
            aware: args.aware,
            investigation_concluded: args.investigation_concluded,
            jurisdiction: tenancy.jurisdiction,
            tenure: tenancy.tenure,
            law: law.map(|(l, _)| l.id()),
            calendar_version: law.map(|(_, c)| c.version()),
            rules_version: law.map(|(l, _)| l.version()),
            rules_title: law.map(|(l, _)| l.title()),
            working_day: law.map(|(l, _)| l.working_day()),
            hazards_in_scope: match (law, found.track) {
                (Some((l, _)), Some(track)) => {
                    l.hazards_in_scope(track, local_date(args.aware)).into_iter().collect()
                }
                _ => Vec::new(),
            },
            no_clock: found.no_clock.as_ref(),
            steps: &found.steps,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    write_text(&found, &triggers, out)
}

/// The track the case runs on under `law`: the one given (as the law maps it), or the law's
/// one timetable when it has no emergency/significant distinction.
fn track_under(law: &AwaabRules, given: Option<Track>) -> anyhow::Result<Track> {
    match given {
        Some(track) => Ok(law.track_for(track)),
        None if law.track_for(Track::Emergency) == law.track_for(Track::Significant) => {
            Ok(law.track_for(Track::Significant))
        }
        None => bail!(
            "--track is needed for {} homes in {}: emergency or significant, as decided at triage",
            law.tenancy().tenure.title(),
            law.tenancy().jurisdiction.title()
        ),
    }
}

/// The built-in calendar of the law's working days, with a gov.uk file if one was given.
fn calendar_for(law: &AwaabRules, args: &DeadlinesArgs) -> anyhow::Result<Calendar> {
    let division = &law.working_day().calendar;
    let mut calendar =
        Calendar::embedded(division).with_context(|| format!("loading the built-in {division} calendar"))?;
    if let Some(path) = &args.bank_holidays {
        let json = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        calendar =
            calendar.with_govuk_import(&json).with_context(|| format!("importing {}", path.display()))?;
    }
    Ok(calendar)
}

/// The name of a gov.uk division, for people.
fn division_title(division: &str) -> &str {
    match division {
        "england-and-wales" => "England & Wales",
        "scotland" => "Scotland",
        other => other,
    }
}

/// `The Investigation ...` from `the Investigation ...`.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn write_text(found: &Found<'_>, triggers: &Triggers, out: &mut dyn Write) -> anyhow::Result<()> {
    let instant = |t: DateTime<Utc>| format!("{} ({})", format_utc(t), format_local(t));
    let tenancy = found.tenancy;
    let Some((rules, calendar)) = &found.law else {
        writeln!(out, "No statutory response clock")?;
        writeln!(
            out,
            "  home:                    {} ({})",
            tenancy.jurisdiction.title(),
            tenancy.tenure.title()
        )?;
        writeln!(out, "  aware:                   {}", instant(triggers.awareness))?;
        if let Some(no_clock) = &found.no_clock {
            writeln!(out, "  why:                     {}", no_clock.reason)?;
        }
        return Ok(());
    };
    let track = found.track.unwrap_or(Track::Significant);
    let england_social = tenancy == Tenancy::ENGLAND_SOCIAL;
    if england_social {
        writeln!(out, "Awaab's Law deadlines, {track} track")?;
    } else {
        writeln!(
            out,
            "Deadlines under {}: {} home in {}",
            rules.name(),
            tenancy.tenure.title(),
            tenancy.jurisdiction.title()
        )?;
    }
    writeln!(out, "  aware:                   {}", instant(triggers.awareness))?;
    match triggers.investigation_concluded {
        Some(t) => writeln!(out, "  investigation concluded: {}", instant(t))?,
        None => writeln!(out, "  investigation concluded: not given")?,
    }
    writeln!(
        out,
        "  calendar:                {} ({})",
        calendar.version(),
        division_title(calendar.division())
    )?;
    writeln!(out, "  rules:                   {} ({})", rules.version(), rules.title())?;
    writeln!(out, "  hazards in scope:        {}", scope_summary(rules, track, triggers.awareness))?;
    let bank_holidays = if england_social {
        "bank holidays".to_owned()
    } else {
        let working_day = rules.working_day();
        let label = if working_day.verified { String::new() } else { " (UNVERIFIED)".to_owned() };
        writeln!(out, "  working day:             {}{label}", working_day.definition)?;
        writeln!(out, "                           source: {}", working_day.source)?;
        let steps: Vec<&str> = rules.steps_for(track).map(|s| s.name.as_str()).collect();
        writeln!(out, "  steps:                   {}", steps.join(", "))?;
        format!("bank holidays in {}", division_title(calendar.division()))
    };
    if let Some(no_clock) = &found.no_clock {
        writeln!(out, "No statutory clock: {}", no_clock.reason)?;
        return Ok(());
    }
    writeln!(
        out,
        "Working-day and week deadlines are the last permitted day in Europe/London (due by the end \
         of that day), counted from the day after the trigger's London date; working days exclude \
         Saturdays, Sundays and {bank_holidays}. Hour deadlines are exact elapsed time: a UTC instant, with the London time beside it."
    )?;
    for step in &found.steps {
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
            if let Some(notice) = &rule.unable_to_comply {
                writeln!(out, "    unable to comply: {notice}")?;
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
        return format!(
            "none: {} did not cover the {track} track on {}",
            capitalised(rules.name()),
            format_date(day)
        );
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
