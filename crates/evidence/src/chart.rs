//! The summary's chart: air temperature and relative humidity over the window, one line per
//! device, as inline SVG (no script, no external file), with the moment the case was opened
//! marked. Coordinates are printed with one decimal, so the same data draws the same bytes.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::reading::ReadingRecord;
use crate::summary::{centi, escape};

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 20.0;
/// Colours per device, in device order (repeated beyond the sixth).
const COLOURS: [&str; 6] = ["#b2182b", "#2166ac", "#1b7837", "#762a83", "#e08214", "#4d4d4d"];

/// One panel: `value` picks the quantity (hundredths) from a reading.
pub fn panel(
    title: &str,
    unit: &str,
    readings: &[ReadingRecord],
    devices: &[String],
    window: (DateTime<Utc>, DateTime<Utc>),
    opened_at: DateTime<Utc>,
    value: impl Fn(&ReadingRecord) -> Option<i32>,
) -> String {
    let values: Vec<i32> = readings.iter().filter_map(&value).collect();
    let (Some(&low), Some(&high)) = (values.iter().min(), values.iter().max()) else {
        return format!("<p>No {} readings in the window.</p>\n", escape(&title.to_lowercase()));
    };
    let (low, high) = if low == high { (low - 100, high + 100) } else { (low, high) };
    let span_s = (window.1 - window.0).num_seconds().max(1) as f64;
    let x = |at: DateTime<Utc>| LEFT + (at - window.0).num_seconds() as f64 / span_s * WIDTH;
    let y = |v: i32| TOP + (f64::from(high - v) / f64::from(high - low)) * HEIGHT;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\">\n<title>{t}</title>\n",
        w = WIDTH + LEFT + 20.0,
        h = HEIGHT + TOP + 40.0,
        t = escape(title)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"none\" stroke=\"#999\"/>"
    );
    let _ =
        writeln!(svg, "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{} {unit}</text>", TOP + 10.0, centi(high));
    let _ = writeln!(
        svg,
        "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{} {unit}</text>",
        TOP + HEIGHT,
        centi(low)
    );
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
        TOP + HEIGHT + 16.0,
        escape(&crate::timestamp::format(window.0)[..16])
    );
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
        LEFT + WIDTH,
        TOP + HEIGHT + 16.0,
        escape(&crate::timestamp::format(window.1)[..16])
    );
    if opened_at >= window.0 && opened_at <= window.1 {
        let at = x(opened_at);
        let _ = writeln!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{TOP}\" x2=\"{at:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n<text x=\"{at:.1}\" y=\"{:.1}\" font-size=\"12\">case opened</text>",
            TOP + HEIGHT,
            TOP + HEIGHT + 32.0
        );
    }
    for (i, device) in devices.iter().enumerate() {
        let points: Vec<String> = readings
            .iter()
            .filter(|r| &r.device_id == device)
            .filter_map(|r| value(r).map(|v| format!("{:.1},{:.1}", x(r.sampled_at), y(v))))
            .collect();
        if points.is_empty() {
            continue;
        }
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
            COLOURS[i % COLOURS.len()],
            points.join(" "),
            escape(device)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
