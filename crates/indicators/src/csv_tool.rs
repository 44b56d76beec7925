//! `dampwatch mould`: the mould index of a data logger's export, for surveyors without sensors.
//!
//! Input: CSV with a header naming a time column, a temperature column (°C) and a relative
//! humidity column (%). Two layouts are accepted as they are:
//! - `time,temperature,rh` with RFC 3339 times (`2025-01-10T08:00:00Z`);
//! - the TRH logger export `t_UTC+2,T,RH` with `YYYY-MM-DD HH:MM:SS` times whose UTC offset is
//!   in the column name (`t_UTC+N`, `t_UTC-N`, `t_UTC+HH:MM`, or `t_UTC`).
//!
//! Output: the same rows and cells with `dew_point` (°C, 2 decimals) and `mould_index`
//! (3 decimals) appended, then the line `max_mould_index=X final_mould_index=Y`.
//!
//! Bad data stops the run with an error naming the line, because a surveyor's report must not
//! rest on silently dropped rows. The one exception is an empty or NaN temperature or humidity
//! cell (a logger's way of saying "no sample"): that row is written back with empty results,
//! counted in [`Summary`], and its time is a gap for the model.

use std::io::{Read, Write};

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, TimeZone, Utc};

use crate::config::EngineConfig;
use crate::material::MaterialClass;
use crate::mould::MouldTimeline;
use crate::psychrometrics::dew_point_c;

/// Options of `dampwatch mould`.
#[derive(Debug, Clone, clap::Args)]
pub struct MouldArgs {
    /// Material class of the surface the conditions apply to.
    #[arg(long, value_enum, default_value_t = MaterialClass::Sensitive)]
    pub class: MaterialClass,
}

/// What a run found; the caller reports skipped rows on standard error.
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

/// Runs `dampwatch mould` from `input` to `out`.
pub fn run_mould(args: &MouldArgs, input: impl Read, out: &mut dyn Write) -> anyhow::Result<Summary> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let header = reader.headers().context("line 1: cannot read the CSV header")?.clone();
    let columns = find_columns(&header)?;
    let max_hold = TimeDelta::from_std(EngineConfig::default().max_gap).unwrap_or(TimeDelta::hours(2));
    let mut timeline = MouldTimeline::new(args.class, max_hold);
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let mut out_header = header.clone();
    out_header.push_field("dew_point");
    out_header.push_field("mould_index");
    writer.write_record(&out_header).context("writing the header")?;

    let mut summary = Summary {
        class: args.class,
        rows: 0,
        skipped_rows: 0,
        skipped_lines: Vec::new(),
        first_time: None,
        last_time: None,
        max_mould_index: 0.0,
        final_mould_index: 0.0,
    };
    let mut record = csv::StringRecord::new();
    let mut previous: Option<DateTime<Utc>> = None;
    loop {
        let more = reader.read_record(&mut record).map_err(|e| anyhow!("{}", describe_csv_error(&e)))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        summary.rows += 1;
        let cell = |i: usize| record.get(i).unwrap_or("");
        let at = parse_time(cell(columns.time), &columns.format, line)?;
        if let Some(prev) = previous {
            if at <= prev {
                bail!("line {line}: time {} is not after the previous row's ({}); rows must be in time order without repeats", cell(columns.time).trim(), prev.to_rfc3339());
            }
        }
        previous = Some(at);
        summary.first_time.get_or_insert(at);
        summary.last_time = Some(at);
        let temperature = parse_value(cell(columns.temperature), "temperature", TEMPERATURE_RANGE_C, line)?;
        let rh = parse_value(cell(columns.rh), "relative humidity", RH_RANGE_PCT, line)?;
        let mut row = record.clone();
        match (temperature, rh) {
            (Some(t), Some(rh)) => {
                let m = timeline.observe(at, t, rh);
                summary.max_mould_index = summary.max_mould_index.max(m);
                summary.final_mould_index = m;
                row.push_field(&dew_point_c(t, rh).map(|d| format!("{d:.2}")).unwrap_or_default());
                row.push_field(&format!("{m:.3}"));
            }
            _ => {
                summary.skipped_rows += 1;
                if summary.skipped_lines.len() < SKIPPED_LINES_KEPT {
                    summary.skipped_lines.push(line);
                }
                row.push_field("");
                row.push_field("");
            }
        }
        writer.write_record(&row).with_context(|| format!("writing line {line}"))?;
    }
    let out = writer.into_inner().map_err(|e| anyhow!("writing the output: {}", e.error()))?;
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
