//! A time-series chart drawn on the server as inline SVG: no script, nothing fetched, so the
//! page's Content-Security-Policy holds and the chart prints and reads without a browser's
//! help.
//!
//! What it draws: the series' mean per column of pixels as a line, and the lowest and highest
//! value of the column as a band behind it (a year of hourly means is thousands of points: a
//! column shows the day's spread rather than a smear); a line where the data has a gap longer
//! than the hazard engine's `max_gap` is broken, since a gap is no data, never a flat
//! reading. Thresholds are dashed lines, each labelled with its severity and rule in words;
//! alert windows are hatched bands with their alert named, so nothing is told by colour alone.
//! Every chart carries a title and a description for assistive technology, and the page prints
//! the same facts as text under it ([`Chart::summary`]). Colours meet WCAG 2.2 AA contrast on
//! white (lines 3:1 or more, text 4.5:1 or more); only the band, which the text repeats, is
//! paler.

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::London;
use maud::{html, Markup, PreEscaped};

use super::layout::when;

/// Drawing size in SVG units (it scales to the page's width).
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;
/// Pixels per column of the line and band.
const COLUMN: f64 = 2.0;

/// The series line and its band.
const LINE: &str = "#0b3d5c";
const BAND: &str = "#b8d0e2";
/// Text and grid.
const TEXT: &str = "#1b1b1b";
const GRID: &str = "#d4d4d4";
/// Amber and red thresholds (6.4:1 and 7.7:1 on white).
const AMBER: &str = "#7a4a00";
const RED: &str = "#a4001d";
/// Alert windows: a pale fill, hatched and edged in a dark amber.
const WINDOW_FILL: &str = "#fff1dc";

/// A level a rule raises past, drawn as a dashed line.
#[derive(Debug, Clone)]
pub struct Threshold {
    pub value: f64,
    /// Severity and rule in words, e.g. "Amber: above 70 % for 24h (damp.room_rh_sustained)".
    pub label: String,
    pub red: bool,
}

/// A stretch of time an alert was open, shaded.
#[derive(Debug, Clone)]
pub struct Window {
    pub from: DateTime<Utc>,
    /// `None`: still open.
    pub to: Option<DateTime<Utc>>,
    /// e.g. "Alert 12: damp and mould growth (amber)".
    pub label: String,
}

/// One chart: a series over `[from, to)`.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique on the page: the prefix of the chart's element ids.
    pub id: &'static str,
    pub title: &'static str,
    /// Printed after values, e.g. " °C"; empty for the mould index.
    pub unit: &'static str,
    pub decimals: usize,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// In time order.
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// A longer gap between points is no data: the line breaks.
    pub max_gap: TimeDelta,
    /// The scale always includes this range (e.g. 0 to 1 for the mould index).
    pub floor: Option<(f64, f64)>,
    pub thresholds: Vec<Threshold>,
    pub windows: Vec<Window>,
}

/// The lowest, highest and latest points of a series.
struct Extremes {
    min: (DateTime<Utc>, f64),
    max: (DateTime<Utc>, f64),
    latest: (DateTime<Utc>, f64),
}

fn extremes(points: &[(DateTime<Utc>, f64)]) -> Option<Extremes> {
    let first = *points.first()?;
    let mut e = Extremes { min: first, max: first, latest: *points.last()? };
    for p in points {
        if p.1 < e.min.1 {
            e.min = *p;
        }
        if p.1 > e.max.1 {
            e.max = *p;
        }
    }
    e.latest = *points.last()?;
    Some(e)
}

/// One column's values.
#[derive(Clone, Copy)]
struct Column {
    min: f64,
    max: f64,
    sum: f64,
    n: u32,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

impl Chart {
    fn value(&self, v: f64) -> String {
        format!("{v:.prec$}{}", self.unit, prec = self.decimals)
    }

    fn plot_width(&self) -> f64 {
        WIDTH - LEFT - RIGHT
    }

    fn plot_height() -> f64 {
        HEIGHT - TOP - BOTTOM
    }

    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.to - self.from).num_seconds().max(1) as f64;
        let at = (t - self.from).num_seconds() as f64;
        LEFT + (at / span).clamp(0.0, 1.0) * self.plot_width()
    }

    /// The value range of the scale: the data, the thresholds and the floor, padded.
    fn scale(&self) -> (f64, f64) {
        let values = self.points.iter().map(|p| p.1).chain(self.thresholds.iter().map(|t| t.value));
        let (mut lo, mut hi) =
            values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if let Some((a, b)) = self.floor {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        if !lo.is_finite() || !hi.is_finite() {
            return (0.0, 1.0);
        }
        if hi - lo < 1e-9 {
            return (lo - 1.0, hi + 1.0);
        }
        let pad = (hi - lo) * 0.06;
        let floor_lo = self.floor.map(|(a, _)| a);
        // A scale that starts at a natural zero (the mould index) stays there.
        let lo = if floor_lo.is_some_and(|a| a <= lo) { lo } else { lo - pad };
        (lo, hi + pad)
    }

    fn y(&self, v: f64, (lo, hi): (f64, f64)) -> f64 {
        TOP + (1.0 - (v - lo) / (hi - lo)) * Self::plot_height()
    }

    fn columns(&self) -> Vec<Option<Column>> {
        let n = (self.plot_width() / COLUMN).ceil() as usize;
        let mut columns: Vec<Option<Column>> = vec![None; n];
        for &(t, v) in &self.points {
            let i = (((self.x(t) - LEFT) / COLUMN) as usize).min(n - 1);
            let c = columns[i].get_or_insert(Column { min: v, max: v, sum: 0.0, n: 0, first: t, last: t });
            c.min = c.min.min(v);
            c.max = c.max.max(v);
            c.sum += v;
            c.n += 1;
            c.last = t;
        }
        columns
    }

    /// Runs of columns joined without a gap longer than `max_gap`: (column index, column).
    fn runs(&self) -> Vec<Vec<(usize, Column)>> {
        let mut runs: Vec<Vec<(usize, Column)>> = Vec::new();
        let mut previous: Option<Column> = None;
        for (i, c) in self.columns().into_iter().enumerate() {
            let Some(c) = c else { continue };
            let joined = previous.is_some_and(|p| c.first - p.last <= self.max_gap);
            match runs.last_mut() {
                Some(run) if joined => run.push((i, c)),
                _ => runs.push(vec![(i, c)]),
            }
            previous = Some(c);
        }
        runs
    }

    fn paths(&self, scale: (f64, f64)) -> (String, String) {
        let (mut line, mut band) = (String::new(), String::new());
        for run in self.runs() {
            let x = |i: usize| LEFT + (i as f64 + 0.5) * COLUMN;
            for (k, (i, c)) in run.iter().enumerate() {
                let mean = c.sum / f64::from(c.n);
                line.push_str(&format!(
                    "{}{:.1} {:.1}",
                    if k == 0 { "M" } else { "L" },
                    x(*i),
                    self.y(mean, scale)
                ));
            }
            if run.len() == 1 {
                // A lone column still shows: a short tick.
                let (i, c) = run[0];
                let mean = c.sum / f64::from(c.n);
                line.push_str(&format!("L{:.1} {:.1}", x(i) + COLUMN, self.y(mean, scale)));
            }
            for (k, (i, c)) in run.iter().enumerate() {
                band.push_str(&format!(
                    "{}{:.1} {:.1}",
                    if k == 0 { "M" } else { "L" },
                    x(*i),
                    self.y(c.max, scale)
                ));
            }
            for (i, c) in run.iter().rev() {
                band.push_str(&format!("L{:.1} {:.1}", x(*i), self.y(c.min, scale)));
            }
            band.push('Z');
        }
        (line, band)
    }

    /// Value ticks: about five round numbers across the scale.
    fn value_ticks((lo, hi): (f64, f64)) -> Vec<f64> {
        let raw = (hi - lo) / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step =
            [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
        let mut v = (lo / step).ceil() * step;
        let mut ticks = Vec::new();
        while v <= hi + 1e-9 {
            ticks.push(v);
            v += step;
        }
        ticks
    }

    /// Time ticks at UK midnights: daily over a week, weekly over a month, monthly over a year.
    fn time_ticks(&self) -> Vec<(DateTime<Utc>, String)> {
        let days = (self.to - self.from).num_days();
        let local = self.from.with_timezone(&London).date_naive();
        let mut ticks = Vec::new();
        let mut day = local;
        while let Some(at) =
            London.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()).earliest()
        {
            let at = at.with_timezone(&Utc);
            if at >= self.to {
                break;
            }
            let take = match days {
                0..=10 => true,
                11..=62 => day.weekday() == chrono::Weekday::Mon,
                _ => day.day() == 1,
            };
            // A label too close to the right edge would be cut off.
            if take && at >= self.from && self.x(at) < WIDTH - RIGHT - 24.0 {
                let label = match (days > 62, day.month()) {
                    (true, 1) => day.format("%b %Y"),
                    (true, _) => day.format("%b"),
                    (false, _) => day.format("%a %-d %b"),
                };
                ticks.push((at, label.to_string()));
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        ticks
    }

    /// What the chart shows, in one sentence (its SVG description).
    pub fn description(&self) -> String {
        match extremes(&self.points) {
            None => format!("{}: no readings from {} to {}.", self.title, when(self.from), when(self.to)),
            Some(e) => format!(
                "{} from {} to {}: lowest {}, highest {}, latest {} ({}). {} threshold line(s), {} alert window(s).",
                self.title,
                when(self.from),
                when(self.to),
                self.value(e.min.1),
                self.value(e.max.1),
                self.value(e.latest.1),
                when(e.latest.0),
                self.thresholds.len(),
                self.windows.len()
            ),
        }
    }

    /// The same facts as text, for everyone.
    pub fn summary(&self) -> Markup {
        html! {
            @match extremes(&self.points) {
                None => p { "No readings in this period." },
                Some(e) => ul.chart-summary {
                    li { "Lowest " strong { (self.value(e.min.1)) } " (" (when(e.min.0)) ")" }
                    li { "Highest " strong { (self.value(e.max.1)) } " (" (when(e.max.0)) ")" }
                    li { "Latest " strong { (self.value(e.latest.1)) } " (" (when(e.latest.0)) ")" }
                }
            }
            @if !self.thresholds.is_empty() {
                p { "Thresholds (dashed lines): "
                    @for (i, t) in self.thresholds.iter().enumerate() {
                        @if i > 0 { "; " }
                        (t.label)
                    }
                    "." }
            }
        }
    }

    /// The chart as inline SVG.
    pub fn svg(&self) -> Markup {
        let scale = self.scale();
        let (line, band) = self.paths(scale);
        let (bottom, right) = (TOP + Self::plot_height(), WIDTH - RIGHT);
        let title_id = format!("{}-title", self.id);
        let desc_id = format!("{}-desc", self.id);
        let hatch = format!("{}-hatch", self.id);
        html! {
            svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (WIDTH) " " (HEIGHT)}
                role="img" aria-labelledby={(title_id) " " (desc_id)} font-family="system-ui, sans-serif" font-size="12" {
                title id=(title_id) { (self.title) }
                desc id=(desc_id) { (self.description()) }
                defs {
                    pattern id=(hatch) width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)" {
                        rect width="8" height="8" fill=(WINDOW_FILL) {}
                        line x1="0" y1="0" x2="0" y2="8" stroke=(AMBER) stroke-width="1.5" stroke-opacity="0.45" {}
                    }
                }
                @for w in &self.windows {
                    @let x0 = self.x(w.from.max(self.from));
                    @let x1 = self.x(w.to.unwrap_or(self.to).min(self.to)).max(x0 + 1.0);
                    g.alert-window {
                        title { (w.label) ", " (when(w.from)) " to " (w.to.map_or("now (still open)".to_owned(), when)) }
                        rect x=(fmt(x0)) y=(fmt(TOP)) width=(fmt(x1 - x0)) height=(fmt(Self::plot_height()))
                            fill={"url(#" (hatch) ")"} stroke=(AMBER) stroke-width="1" {}
                        // Named inside the band, or to its left when it ends at the right edge.
                        @let near_end = x0 > LEFT + self.plot_width() * 0.85;
                        text x=(fmt(if near_end { x0 - 3.0 } else { x0 + 3.0 })) y=(fmt(TOP + 12.0))
                            text-anchor=(if near_end { "end" } else { "start" }) fill=(TEXT)
                            stroke="#fff" stroke-width="3" paint-order="stroke" {
                            (w.label.split(':').next().unwrap_or("Alert"))
                        }
                    }
                }
                @for v in Self::value_ticks(scale) {
                    @let y = self.y(v, scale);
                    line x1=(fmt(LEFT)) x2=(fmt(right)) y1=(fmt(y)) y2=(fmt(y)) stroke=(GRID) stroke-width="1" {}
                    text x=(fmt(LEFT - 6.0)) y=(fmt(y + 4.0)) text-anchor="end" fill=(TEXT) {
                        (format!("{v:.prec$}", prec = self.decimals.min(1)))
                    }
                }
                @for (t, label) in self.time_ticks() {
                    @let x = self.x(t);
                    line x1=(fmt(x)) x2=(fmt(x)) y1=(fmt(bottom)) y2=(fmt(bottom + 5.0)) stroke=(TEXT) stroke-width="1" {}
                    text x=(fmt(x)) y=(fmt(bottom + 18.0)) text-anchor="middle" fill=(TEXT) { (label) }
                }
                path.band d=(band) fill=(BAND) stroke="none" {}
                path.series d=(line) fill="none" stroke=(LINE) stroke-width="1.6" stroke-linejoin="round" {}
                @for t in &self.thresholds {
                    @let y = self.y(t.value, scale);
                    @let colour = if t.red { RED } else { AMBER };
                    g.threshold {
                        line x1=(fmt(LEFT)) x2=(fmt(right)) y1=(fmt(y)) y2=(fmt(y)) stroke=(colour)
                            stroke-width="2" stroke-dasharray=(if t.red { "2 3" } else { "8 4" }) {}
                        text x=(fmt(right - 4.0)) y=(fmt(y - 4.0)) text-anchor="end" fill=(colour)
                            stroke="#fff" stroke-width="3" paint-order="stroke" {
                            (self.value(t.value)) " · " (t.label.split(':').next().unwrap_or(""))
                        }
                    }
                }
                line x1=(fmt(LEFT)) x2=(fmt(LEFT)) y1=(fmt(TOP)) y2=(fmt(bottom)) stroke=(TEXT) stroke-width="1" {}
                line x1=(fmt(LEFT)) x2=(fmt(right)) y1=(fmt(bottom)) y2=(fmt(bottom)) stroke=(TEXT) stroke-width="1" {}
                @if self.points.is_empty() {
                    text x=(fmt(LEFT + self.plot_width() / 2.0)) y=(fmt(TOP + Self::plot_height() / 2.0))
                        text-anchor="middle" fill=(TEXT) { "No readings in this period" }
                }
            }
        }
    }
}

fn fmt(v: f64) -> PreEscaped<String> {
    PreEscaped(format!("{v:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(DateTime<Utc>, f64)>) -> Chart {
        let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        Chart {
            id: "t",
            title: "Relative humidity",
            unit: " %",
            decimals: 0,
            from,
            to: from + TimeDelta::days(7),
            points,
            max_gap: TimeDelta::hours(2),
            floor: None,
            thresholds: vec![Threshold { value: 70.0, label: "Amber: above 70 %".into(), red: false }],
            windows: vec![],
        }
    }

    #[test]
    fn a_gap_longer_than_max_gap_breaks_the_line() {
        let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let mut points: Vec<_> = (0..24).map(|h| (from + TimeDelta::hours(h), 50.0)).collect();
        points.extend((72..96).map(|h| (from + TimeDelta::hours(h), 60.0)));
        let c = chart(points);
        assert_eq!(c.runs().len(), 2);
        let (line, _) = c.paths(c.scale());
        assert_eq!(line.matches('M').count(), 2, "{line}");
    }

    #[test]
    fn the_scale_holds_the_data_and_the_thresholds() {
        let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let c = chart(vec![(from, 40.0), (from + TimeDelta::hours(1), 50.0)]);
        let (lo, hi) = c.scale();
        assert!(lo < 40.0 && hi > 70.0, "{lo}..{hi}");
        let svg = c.svg().into_string();
        assert!(svg.contains("<title id=\"t-title\">Relative humidity</title>"), "{svg}");
        assert!(svg.contains("stroke-dasharray"), "the threshold is dashed");
        assert!(!svg.contains("style="), "no inline styles: the page's CSP allows none");
    }

    #[test]
    fn summaries_say_lowest_highest_and_latest() {
        let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let c =
            chart(vec![(from, 40.0), (from + TimeDelta::hours(1), 80.0), (from + TimeDelta::hours(2), 60.0)]);
        let text = c.summary().into_string();
        assert!(text.contains("Lowest <strong>40 %</strong>"), "{text}");
        assert!(text.contains("Highest <strong>80 %</strong>"), "{text}");
        assert!(text.contains("Latest <strong>60 %</strong>"), "{text}");
        assert!(chart(vec![]).summary().into_string().contains("No readings"));
    }
}
