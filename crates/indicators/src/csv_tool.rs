//! `dampwatch mould`: the mould index of a data logger's export, for surveyors without sensors.
//!
//! Input: CSV with a header naming a time column, a temperature column (°C) and a relative
//! humidity column (%). Two layouts are accepted as they are:
//! - `time,temperature,rh` with RFC 3339 times (`2025-01-10T08:00:00Z`);
//! - the TRH logger export `t_UTC+2,T,RH` with `YYYY-MM-DD HH:MM:SS` times whose UTC offset is
//!   in the column name (`t_UTC+N`, `t_UTC-N`, `t_UTC+HH:MM`, or `t_UTC`).
//!
//! Each reading's conditions are held until the next reading for at most `max_gap`; a longer
//! interval is a gap over which the index is frozen. `max_gap` is `--max-gap` when given;
//! otherwise the engine's default (2 h), lengthened to 1.5 sampling intervals when the file
//! comes from a regular logger that samples more coarsely (most row intervals within a tenth
//! of their median), so a logger that records every 6 hours is not read as missing data.
//!
//! Output: the same rows and cells with `dew_point` (°C, 2 decimals) and `mould_index`
//! (3 decimals) appended, then what the index could and could not see:
//!
//! ```text
//! sampling: interval=6h regular_share=1.000 used=yes max_gap=9h (1.5 x interval)
//! coverage: hours_with_data=1440.0 hours_as_gaps=0.0 with_data_pct=100.0 gaps=0 longest_gap_h=0.0
//! max_mould_index=0.966 final_mould_index=0.966
//! ```
//!
//! With gaps, the coverage line ends with the longest one
//! (`longest_gap_h=72.0 (from 2025-01-10T04:00:00Z to 2025-01-13T04:00:00Z)`), and when more
//! than a tenth of the period was no data a `warning:` line follows it (the command also
//! prints it on standard error). The last line is always
//! `max_mould_index=X final_mould_index=Y`.
//!
//! Bad data stops the run with an error naming the line, because a surveyor's report must not
//! rest on silently dropped rows. The one exception is an empty or NaN temperature or humidity
//! cell (a logger's way of saying "no sample"): that row is written back with empty results,
//! counted in [`Summary`], and its time is a gap for the model.

use std::io::{Read, Write};

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, TimeZone, Utc};

use crate::alert::stamp;
use crate::config::EngineConfig;
use crate::coverage::Coverage;
use crate::material::MaterialClass;
use crate::mould::MouldTimeline;
use crate::psychrometrics::dew_point_c;
use crate::sampling::{SamplingInterval, HOLD_MARGIN};

/// Options of `dampwatch mould`.
#[derive(Debug, Clone, clap::Args)]
pub struct MouldArgs {
    /// Material class of the surface the conditions apply to.
    #[arg(long, value_enum, default_value_t = MaterialClass::Sensitive)]
    pub class: MaterialClass,
    /// Longest interval between readings over which the earlier reading's conditions are held
    /// (e.g. `6h`, `90m`); a longer one is a gap, over which the index is frozen. Default: 2h,
    /// or 1.5 sampling intervals for a regular logger that samples more coarsely.
    #[arg(long, value_name = "DURATION", value_parser = parse_max_gap)]
    pub max_gap: Option<TimeDelta>,
}

impl MouldArgs {
    /// The defaults for `class`: the hold limit follows the file.
    pub fn new(class: MaterialClass) -> Self {
        MouldArgs { class, max_gap: None }
    }
}

/// `--max-gap`: the duration syntax of the engine configuration's `max_gap`, longer than zero.
pub fn parse_max_gap(text: &str) -> Result<TimeDelta, String> {
    let std = humantime_serde::re::humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as 6h or 90m ({e})"))?;
    if std.is_zero() {
        return Err(format!("{text:?} is zero; a reading must hold for some time"));
    }
    TimeDelta::from_std(std).map_err(|_| format!("{text:?} is too long"))
}

/// Where the hold limit of a run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxGapBasis {
    /// `--max-gap`.
    Given,
    /// 1.5 intervals of a regular logger, longer than the default.
    SamplingInterval,
    /// The engine's default `max_gap`.
    Default,
}

/// What a run found; the caller reports skipped rows and the gap warning on standard error.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub class: MaterialClass,
    /// Data rows read (header excluded), skipped ones included.
    pub rows: u64,
    /// Rows skipped for an empty or NaN value.
    pub skipped_rows: u64,
    /// Line numbers of the first skipped rows (at most [`SKIPPED_LINES_KEPT`]).
    pub skipped_lines: Vec<u64>,
    pub first_time: Option<DateTime<Utc>>,
    pub last_time: Option<DateTime<Utc>>,
    pub max_mould_index: f64,
    pub final_mould_index: f64,
    /// The logger's interval, from the times of all rows (`None` with fewer than two rows).
    pub sampling: Option<SamplingInterval>,
    /// The hold limit in force and where it came from.
    pub max_gap: TimeDelta,
    pub max_gap_basis: MaxGapBasis,
    /// Time integrated and time treated as no data, from the first reading with values to the
    /// last.
    pub coverage: Coverage,
}

/// How many skipped line numbers a [`Summary`] lists.
pub const SKIPPED_LINES_KEPT: usize = 20;

impl Summary {
    /// A line for standard error when rows were skipped.
    pub fn skipped_report(&self) -> Option<String> {
        if self.skipped_rows == 0 {
            return None;
        }
        let lines: Vec<String> = self.skipped_lines.iter().map(u64::to_string).collect();
        let more = if self.skipped_rows as usize > self.skipped_lines.len() { ", ..." } else { "" };
        Some(format!(
            "skipped {} of {} rows with an empty or NaN value (lines {}{more}); their time counts as a gap",
            self.skipped_rows,
            self.rows,
            lines.join(", ")
        ))
    }

    /// `sampling: interval=… regular_share=… used=yes|no … max_gap=… (…)`.
    pub fn sampling_line(&self) -> String {
        let basis = match self.max_gap_basis {
            MaxGapBasis::Given => "--max-gap".to_owned(),
            MaxGapBasis::SamplingInterval => format!("{HOLD_MARGIN} x interval"),
            MaxGapBasis::Default => "default".to_owned(),
        };
        let max_gap = format!("max_gap={} ({basis})", duration(self.max_gap));
        let Some(sampling) = self.sampling else {
            return format!("sampling: interval=unknown used=no (fewer than two rows) {max_gap}");
        };
        let used = if !sampling.is_regular() {
            "used=no (irregular)"
        } else if self.max_gap_basis == MaxGapBasis::Given {
            "used=no (--max-gap given)"
        } else {
            "used=yes"
        };
        format!(
            "sampling: interval={} regular_share={:.3} {used} {max_gap}",
            duration(sampling.interval),
            sampling.regular_share
        )
    }

    /// `coverage: hours_with_data=… hours_as_gaps=… with_data_pct=… gaps=N longest_gap_h=…`,
    /// ending with `(from … to …)` when there was a gap.
    pub fn coverage_line(&self) -> String {
        let c = &self.coverage;
        let with_data_pct = if c.period_hours() > 0.0 { 100.0 * (1.0 - c.share_as_gaps()) } else { 0.0 };
        let mut line = format!(
            "coverage: hours_with_data={:.1} hours_as_gaps={:.1} with_data_pct={with_data_pct:.1} gaps={} longest_gap_h={:.1}",
            c.hours_with_data,
            c.hours_as_gaps,
            c.gaps,
            c.longest_gap.map_or(0.0, |g| g.hours()),
        );
        if let Some(gap) = c.longest_gap {
            line.push_str(&format!(" (from {} to {})", stamp(gap.start), stamp(gap.end)));
        }
        line
    }

    /// A `warning:` line when more than a tenth of the period was treated as no data.
    pub fn gap_warning(&self) -> Option<String> {
        let c = &self.coverage;
        if !c.needs_warning() {
            return None;
        }
        Some(format!(
            "warning: {:.1}% of the period ({:.1} of {:.1} h) was treated as no data, in {} gap(s) longer \
             than max_gap={}; the mould index did not change over those hours",
            100.0 * c.share_as_gaps(),
            c.hours_as_gaps,
            c.period_hours(),
            c.gaps,
            duration(self.max_gap),
        ))
    }
}

/// `6h`, `1h30m`, `15m`: a duration without spaces, so key=value lines split on whitespace.
fn duration(d: TimeDelta) -> String {
    match d.to_std() {
        Ok(std) => humantime_serde::re::humantime::format_duration(std).to_string().replace(' ', ""),
        Err(_) => format!("{}s", d.num_seconds()),
    }
}

enum TimeFormat {
    Rfc3339,
    Local(FixedOffset),
}

struct Columns {
    time: usize,
    temperature: usize,
    rh: usize,
    format: TimeFormat,
}

fn find_columns(header: &csv::StringRecord) -> anyhow::Result<Columns> {
    let names: Vec<String> =
        header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()).collect();
    let position = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let (time, format) = if let Some(i) = position(&["time"]) {
        (i, TimeFormat::Rfc3339)
    } else if let Some(i) = names.iter().position(|n| n.starts_with("t_utc")) {
        (i, TimeFormat::Local(offset_from_name(&names[i])?))
    } else {
        bail!(
            "line 1: no time column; expected `time` (RFC 3339) or `t_UTC+N` (local time at UTC+N), found {:?}",
            header.iter().collect::<Vec<_>>()
        );
    };
    let temperature = position(&["temperature", "t"])
        .ok_or_else(|| anyhow!("line 1: no temperature column; expected `temperature` or `T`"))?;
    let rh = position(&["rh"]).ok_or_else(|| anyhow!("line 1: no humidity column; expected `rh` or `RH`"))?;
    Ok(Columns { time, temperature, rh, format })
}

/// `t_utc+2`, `t_utc-5`, `t_utc+05:30`, `t_utc` → the offset.
fn offset_from_name(name: &str) -> anyhow::Result<FixedOffset> {
    let rest = &name["t_utc".len()..];
    if rest.is_empty() {
        return FixedOffset::east_opt(0).ok_or_else(|| anyhow!("line 1: invalid offset"));
    }
    let bad = || {
        anyhow!(
            "line 1: cannot read a UTC offset from column name {name:?} (expected t_UTC+N or t_UTC+HH:MM)"
        )
    };
    let (sign, digits) = match rest.as_bytes().first() {
        Some(b'+') => (1, &rest[1..]),
        Some(b'-') => (-1, &rest[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().map_err(|_| bad())?, m.parse::<i32>().map_err(|_| bad())?),
        None => (digits.parse::<i32>().map_err(|_| bad())?, 0),
    };
    if !(0..=14).contains(&hours) || !(0..60).contains(&minutes) {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

const LOCAL_FORMATS: [&str; 3] = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"];

fn parse_time(cell: &str, format: &TimeFormat, line: u64) -> anyhow::Result<DateTime<Utc>> {
    let cell = cell.trim();
    match format {
        TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(cell)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| anyhow!("line {line}: time {cell:?} is not RFC 3339 ({e})")),
        TimeFormat::Local(offset) => LOCAL_FORMATS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(cell, f).ok())
            .and_then(|naive| offset.from_local_datetime(&naive).single())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| anyhow!("line {line}: time {cell:?} is not YYYY-MM-DD HH:MM:SS")),
    }
}

/// A value cell: `Ok(None)` for a missing sample, an error for anything else unreadable.
fn parse_value(cell: &str, what: &str, (min, max): (f64, f64), line: u64) -> anyhow::Result<Option<f64>> {
    let cell = cell.trim();
    if cell.is_empty() || ["nan", "na", "null"].contains(&cell.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    let value: f64 = cell.parse().map_err(|_| anyhow!("line {line}: {what} {cell:?} is not a number"))?;
    if !value.is_finite() || value < min || value > max {
        bail!("line {line}: {what} {cell} is outside {min}..={max}");
    }
    Ok(Some(value))
}

const TEMPERATURE_RANGE_C: (f64, f64) = (-60.0, 100.0);
const RH_RANGE_PCT: (f64, f64) = (0.0, 100.0);

/// One data row as read, before the model runs.
struct Row {
    record: csv::StringRecord,
    line: u64,
    at: DateTime<Utc>,
    /// Temperature and humidity, `None` for a missing sample.
    values: Option<(f64, f64)>,
}

/// Reads and checks every row; the model needs the whole file to know the logger's interval.
fn read_rows(reader: &mut csv::Reader<impl Read>, columns: &Columns) -> anyhow::Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| anyhow!("{}", describe_csv_error(&e)))? {
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("");
        let at = parse_time(cell(columns.time), &columns.format, line)?;
        if let Some(prev) = rows.last() {
            if at <= prev.at {
                bail!("line {line}: time {} is not after the previous row's ({}); rows must be in time order without repeats", cell(columns.time).trim(), prev.at.to_rfc3339());
            }
        }
        let temperature = parse_value(cell(columns.temperature), "temperature", TEMPERATURE_RANGE_C, line)?;
        let rh = parse_value(cell(columns.rh), "relative humidity", RH_RANGE_PCT, line)?;
        rows.push(Row { record: record.clone(), line, at, values: temperature.zip(rh) });
    }
    Ok(rows)
}

/// The hold limit: `--max-gap`, else the sampling interval's when it is longer than the default.
fn choose_max_gap(given: Option<TimeDelta>, sampling: Option<&SamplingInterval>) -> (TimeDelta, MaxGapBasis) {
    if let Some(given) = given {
        return (given, MaxGapBasis::Given);
    }
    let default = TimeDelta::from_std(EngineConfig::default().max_gap).unwrap_or(TimeDelta::hours(2));
    match sampling.and_then(|s| s.hold_limit(default)) {
        Some(limit) if limit > default => (limit, MaxGapBasis::SamplingInterval),
        _ => (default, MaxGapBasis::Default),
    }
}

/// Runs `dampwatch mould` from `input` to `out`.
pub fn run_mould(args: &MouldArgs, input: impl Read, out: &mut dyn Write) -> anyhow::Result<Summary> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let header = reader.headers().context("line 1: cannot read the CSV header")?.clone();
    let columns = find_columns(&header)?;
    let rows = read_rows(&mut reader, &columns)?;
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.at).collect();
    let sampling = SamplingInterval::detect(&times);
    let (max_gap, max_gap_basis) = choose_max_gap(args.max_gap, sampling.as_ref());
    let mut timeline = MouldTimeline::new(args.class, max_gap);

    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let mut out_header = header.clone();
    out_header.push_field("dew_point");
    out_header.push_field("mould_index");
    writer.write_record(&out_header).context("writing the header")?;
    let mut summary = Summary {
        class: args.class,
        rows: rows.len() as u64,
        skipped_rows: 0,
        skipped_lines: Vec::new(),
        first_time: times.first().copied(),
        last_time: times.last().copied(),
        max_mould_index: 0.0,
        final_mould_index: 0.0,
        sampling,
        max_gap,
        max_gap_basis,
        coverage: Coverage::default(),
    };
    for Row { mut record, line, at, values } in rows {
        match values {
            Some((t, rh)) => {
                let m = timeline.observe(at, t, rh);
                summary.max_mould_index = summary.max_mould_index.max(m);
                summary.final_mould_index = m;
                record.push_field(&dew_point_c(t, rh).map(|d| format!("{d:.2}")).unwrap_or_default());
                record.push_field(&format!("{m:.3}"));
            }
            None => {
                summary.skipped_rows += 1;
                if summary.skipped_lines.len() < SKIPPED_LINES_KEPT {
                    summary.skipped_lines.push(line);
                }
                record.push_field("");
                record.push_field("");
            }
        }
        writer.write_record(&record).with_context(|| format!("writing line {line}"))?;
    }
    summary.coverage = *timeline.coverage();
    let out = writer.into_inner().map_err(|e| anyhow!("writing the output: {}", e.error()))?;
    writeln!(out, "{}", summary.sampling_line()).context("writing the output")?;
    writeln!(out, "{}", summary.coverage_line()).context("writing the output")?;
    if let Some(warning) = summary.gap_warning() {
        writeln!(out, "{warning}").context("writing the output")?;
    }
    writeln!(
        out,
        "max_mould_index={:.3} final_mould_index={:.3}",
        summary.max_mould_index, summary.final_mould_index
    )
    .context("writing the output")?;
    Ok(summary)
}

fn describe_csv_error(e: &csv::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: {e}", p.line()),
        None => format!("reading CSV: {e}"),
    }
}
