//! `summary.html`: the pack for people: the case, a chart of the readings, every event with
//! its hash, every deadline with how it was counted, the devices and every reading. Static
//! HTML without scripts or external resources, rendered only from the pack's own data files
//! (so a verifier with the same renderer re-renders it and compares byte for byte).

use std::fmt::Write as _;

use crate::chart;
use crate::contents::Contents;
use crate::manifest::Manifest;
use crate::timestamp;

/// Text made safe for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Hundredths as a decimal: `2137` → `21.37`, `-5` → `-0.05`.
pub fn centi(value: i32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let a = value.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

fn row(out: &mut String, cells: &[String]) {
    out.push_str("<tr>");
    for c in cells {
        let _ = write!(out, "<td>{}</td>", escape(c));
    }
    out.push_str("</tr>\n");
}

fn head(out: &mut String, cells: &[&str]) {
    out.push_str("<thead><tr>");
    for c in cells {
        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(c));
    }
    out.push_str("</tr></thead>\n");
}

/// The summary of `contents`, as sealed under `manifest`.
pub fn render(contents: &Contents, manifest: &Manifest) -> String {
    let case = &contents.case;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n<title>Evidence pack: case {id}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:75em}}table{{border-collapse:collapse;margin-bottom:2em}}\
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}code{{word-break:break-all}}</style>\n\
         </head>\n<body>\n<h1>Evidence pack: case {id}</h1>\n",
        id = case.id
    );
    out.push_str(
        "<p>Made by Dampwatch. Every file of this pack is listed with its SHA-256 in <code>manifest.json</code>, \
         which the platform signed (<code>seal.json</code>). Check it offline with <code>dampwatch evidence verify</code> \
         or the independent script in the project's documentation.</p>\n<h2>The case</h2>\n<table>\n",
    );
    let place = [case.dwelling_reference.clone(), case.room_name.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let facts: [(&str, String); 13] = [
        ("Landlord", case.landlord_id.clone()),
        ("Home and room", if place.is_empty() { case.room_key.clone() } else { place }),
        ("Address", opt(case.address.clone())),
        ("Hazard", case.hazard.clone()),
        ("Jurisdiction and tenure", format!("{}, {}", case.jurisdiction, case.tenure)),
        ("Potential issue recorded", timestamp::format(case.opened_at)),
        ("Landlord aware (clock start)", opt(case.awareness.map(timestamp::format))),
        ("Awareness policy", case.awareness_policy.clone()),
        ("Condition began (alert)", opt(case.alert_since.map(timestamp::format))),
        ("State", case.state.clone()),
        ("Track", opt(case.track.clone())),
        (
            "Readings window",
            format!(
                "{} to {}",
                timestamp::format(manifest.window.from),
                timestamp::format(manifest.window.to)
            ),
        ),
        ("Pack made", timestamp::format(manifest.created_at)),
    ];
    for (name, value) in facts {
        let _ = writeln!(out, "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", escape(name), escape(&value));
    }
    out.push_str("</table>\n<h2>Readings</h2>\n");
    let devices: Vec<String> = contents.devices.iter().map(|d| d.id.clone()).collect();
    let window = (manifest.window.from, manifest.window.to);
    out.push_str(&chart::panel(
        "Air temperature",
        "°C",
        &contents.readings,
        &devices,
        window,
        case.opened_at,
        |r| r.temperature_centi_c,
    ));
    out.push_str(&chart::panel(
        "Relative humidity",
        "%",
        &contents.readings,
        &devices,
        window,
        case.opened_at,
        |r| r.rh_centi_pct,
    ));

    out.push_str("<h2>Case events</h2>\n<table>\n");
    head(&mut out, &["seq", "occurred", "recorded", "kind", "actor", "what", "evidence", "hash"]);
    for e in &contents.events {
        row(
            &mut out,
            &[
                e.seq.to_string(),
                timestamp::format(e.occurred_at),
                timestamp::format(e.recorded_at),
                e.kind.clone(),
                e.actor.clone(),
                e.event.clone(),
                e.shown_evidence(),
                hex::encode(e.hash),
            ],
        );
    }
    out.push_str("</table>\n<h2>Deadlines</h2>\n<table>\n");
    head(
        &mut out,
        &[
            "track",
            "step",
            "provisional",
            "due",
            "counted from",
            "period",
            "status (when computed)",
            "law",
            "calendar",
            "source",
        ],
    );
    for d in &contents.deadlines {
        row(
            &mut out,
            &[
                d.track.clone(),
                d.step.clone(),
                if d.provisional { "yes".into() } else { "no".into() },
                d.due.clone(),
                format!("{} at {}", d.counted_from_event, timestamp::format(d.counted_from)),
                format!("{} {}", d.amount, d.basis),
                format!("{} ({})", d.status, timestamp::format(d.computed_at)),
                d.rules_version.clone(),
                d.calendar_version.clone(),
                d.source.clone(),
            ],
        );
    }
    out.push_str("</table>\n<h2>Devices</h2>\n<table>\n");
    head(&mut out, &["device", "signing key (Ed25519)", "key valid from", "until", "certificate serial"]);
    for d in &contents.devices {
        row(
            &mut out,
            &[
                d.id.clone(),
                hex::encode(d.signing_public_key),
                timestamp::format(d.provisioned_at),
                opt(d.revoked_at.map(timestamp::format)),
                opt(d.cert_serial.clone()),
            ],
        );
    }
    let _ = writeln!(
        out,
        "</table>\n<h2>Every reading ({})</h2>\n<p>Values in °C, % RH and ppm as the device signed them; \
         “—” where the sensor gave none or the value was outside its range.</p>\n<table>",
        contents.readings.len()
    );
    head(
        &mut out,
        &["sampled", "device", "boot", "seq", "temperature", "RH", "surface", "CO2", "status", "uplink"],
    );
    for r in &contents.readings {
        row(
            &mut out,
            &[
                format!(
                    "{}{}",
                    timestamp::format(r.sampled_at),
                    if r.time_corrected { " (corrected)" } else { "" }
                ),
                r.device_id.clone(),
                r.boot.to_string(),
                r.seq.to_string(),
                opt(r.temperature_centi_c.map(centi)),
                opt(r.rh_centi_pct.map(centi)),
                opt(r.surface_temperature_centi_c.map(centi)),
                opt(r.co2_ppm),
                format!("{:#x}", r.status),
                hex::encode(&r.uplink_digest[..6]),
            ],
        );
    }
    out.push_str("</table>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundredths_read_as_decimals() {
        assert_eq!(centi(2137), "21.37");
        assert_eq!(centi(-5), "-0.05");
        assert_eq!(centi(-1250), "-12.50");
        assert_eq!(centi(0), "0.00");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }
}
