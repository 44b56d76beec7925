//! An outbox row as an e-mail: subject, plain text and HTML (multipart/alternative) with the
//! alert's explanation, its duty (a legal clock or advice) and a link to the case on the
//! dashboard (`{public_url}/cases/{id}`). Rendered from the row's stored body alone, so every
//! attempt of a row sends the same message, under the same Message-ID and date.
//!
//! The HTML is built with `maud`, which escapes every value it inserts.

use std::time::SystemTime;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use maud::{html, Markup};
use serde_json::Value;

/// What an e-mail says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The Message-ID of an outbox row: its stored key at the From address's domain.
pub fn message_id(message_key: &str, domain: &str) -> String {
    format!("<dampwatch.{message_key}@{domain}>")
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("")
}

/// The hazard as people read it (`damp_and_mould_growth` → "Damp and mould growth").
fn hazard_words(slug: &str) -> String {
    let words = slug.replace('_', " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// Where the alert is: the room's name and the home's address or reference.
fn place(alert: &Value) -> String {
    let room = &alert["room"];
    let name = s(room, &["room_name"]);
    let home = [s(room, &["dwelling_address"]), s(room, &["dwelling_reference"]), s(room, &["key"])]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or("");
    match (name.is_empty(), home.is_empty()) {
        (false, false) => format!("{name}, {home}"),
        (false, true) => name.to_owned(),
        _ => home.to_owned(),
    }
}

fn duty_words(duty: &str) -> &'static str {
    if duty == "legal_clock" {
        "Legal clock: this is evidence of a potential hazard under the home's law, and a response deadline runs."
    } else {
        "Advisory: no legal clock runs on this alert."
    }
}

fn event_words(event_type: &str) -> &'static str {
    match event_type {
        "alert.raised" => "New alert",
        "alert.reopened" => "Alert back",
        "alert.updated" => "Alert updated",
        "alert.cleared" => "Alert cleared",
        "case.updated" => "Case updated",
        _ => "Update",
    }
}

/// The case's page on the dashboard.
pub fn case_link(public_base: &str, case_id: i64) -> String {
    format!("{public_base}/cases/{case_id}")
}

/// The deadlines of an event's case that still run, as (step, due, status).
fn open_deadlines(payload: &Value) -> Vec<(String, String, String)> {
    payload["deadlines"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter(|d| {
                    matches!(s(d, &["status"]), "on_track" | "due_soon" | "overdue" | "awaiting_trigger")
                })
                .map(|d| {
                    (
                        s(d, &["step"]).replace('_', " "),
                        s(d, &["due"]).to_owned(),
                        s(d, &["status"]).replace('_', " "),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The e-mail of one event (an alert's or a case's).
pub fn event_email(event_type: &str, payload: &Value, case_id: Option<i64>, public_base: &str) -> Rendered {
    let alert = &payload["alert"];
    let hazard =
        hazard_words(if alert.is_null() { s(payload, &["case", "hazard"]) } else { s(alert, &["hazard"]) });
    let where_ = if alert.is_null() { place(&payload["case"]) } else { place(alert) };
    let duty = if alert.is_null() { "legal_clock" } else { s(alert, &["duty"]) };
    let severity = s(alert, &["severity"]);
    let summary = s(payload, &["explanation", "summary"]);
    let case_status = s(payload, &["case", "status"]).replace('_', " ");
    let link = case_id.map(|id| case_link(public_base, id));
    let deadlines = open_deadlines(payload);
    let clock_mark = if duty == "legal_clock" { " (legal clock)" } else { "" };
    let subject = format!("{}: {hazard} in {where_}{clock_mark}", event_words(event_type));

    let mut text = format!("{}: {hazard}\nWhere: {where_}\n", event_words(event_type));
    if !severity.is_empty() {
        text.push_str(&format!("Severity: {severity}\n"));
    }
    text.push_str(&format!("{}\n", duty_words(duty)));
    if !summary.is_empty() {
        text.push_str(&format!("\nWhy: {summary}\n"));
    }
    if let Some(id) = case_id {
        text.push_str(&format!("\nCase {id}"));
        if !case_status.is_empty() {
            text.push_str(&format!(" ({case_status})"));
        }
        text.push('\n');
    }
    if !deadlines.is_empty() {
        text.push_str("Deadlines:\n");
        for (step, due, status) in &deadlines {
            text.push_str(&format!("  - {step}: by {due} ({status})\n"));
        }
    }
    if let Some(link) = &link {
        text.push_str(&format!("\nOpen the case: {link}\n"));
    }
    text.push_str(FOOTER_TEXT);

    let body: Markup = html! {
        h1 { (event_words(event_type)) ": " (hazard) }
        p { "Where: " (where_) }
        @if !severity.is_empty() { p { "Severity: " (severity) } }
        p { strong { (duty_words(duty)) } }
        @if !summary.is_empty() { p { "Why: " (summary) } }
        @if let Some(id) = case_id {
            p { "Case " (id) @if !case_status.is_empty() { " (" (case_status) ")" } }
        }
        @if !deadlines.is_empty() {
            table {
                tr { th { "Step" } th { "Due" } th { "Status" } }
                @for (step, due, status) in &deadlines { tr { td { (step) } td { (due) } td { (status) } } }
            }
        }
        @if let Some(link) = &link { p { a href=(link) { "Open the case" } } }
    };
    Rendered { subject, text, html: page(&body) }
}

/// The day's digest: advisory alerts (and other alert changes) since the last one, and the
/// deadlines due within the next two working days.
pub fn digest_email(payload: &Value, public_base: &str) -> Rendered {
    let date = s(payload, &["date"]);
    let items = payload["items"].as_array().cloned().unwrap_or_default();
    let deadlines = payload["deadlines"].as_array().cloned().unwrap_or_default();
    let subject = format!(
        "Daily digest {date}: {} alert update{}, {} deadline{} due soon",
        items.len(),
        if items.len() == 1 { "" } else { "s" },
        deadlines.len(),
        if deadlines.len() == 1 { "" } else { "s" }
    );
    let alert_line = |item: &Value| {
        let alert = &item["alert"];
        (
            event_words(s(item, &["type"])),
            hazard_words(s(alert, &["hazard"])),
            place(alert),
            s(alert, &["duty"]).to_owned(),
            s(item, &["explanation", "summary"]).to_owned(),
            alert["case_id"].as_i64().map(|id| case_link(public_base, id)),
        )
    };
    let deadline_line = |d: &Value| {
        let id = d["case_id"].as_i64().unwrap_or(0);
        (
            id,
            s(d, &["step"]).replace('_', " "),
            s(d, &["due"]).to_owned(),
            s(d, &["status"]).replace('_', " "),
            hazard_words(s(d, &["hazard"])),
            case_link(public_base, id),
        )
    };
    let mut text = format!("Dampwatch daily digest for {date}\n");
    text.push_str(&format!("\nDeadlines due within the next two working days ({}):\n", deadlines.len()));
    if deadlines.is_empty() {
        text.push_str("  none\n");
    }
    for d in &deadlines {
        let (id, step, due, status, hazard, link) = deadline_line(d);
        text.push_str(&format!("  - Case {id} ({hazard}): {step} by {due} ({status})\n    {link}\n"));
    }
    text.push_str(&format!("\nAlert updates since the last digest ({}):\n", items.len()));
    if items.is_empty() {
        text.push_str("  none\n");
    }
    for item in &items {
        let (what, hazard, where_, duty, summary, link) = alert_line(item);
        text.push_str(&format!("  - {what}: {hazard} in {where_}\n    {}\n", duty_words(&duty)));
        if !summary.is_empty() {
            text.push_str(&format!("    Why: {summary}\n"));
        }
        if let Some(link) = link {
            text.push_str(&format!("    {link}\n"));
        }
    }
    text.push_str(FOOTER_TEXT);
    let body = html! {
        h1 { "Daily digest for " (date) }
        h2 { "Deadlines due within the next two working days (" (deadlines.len()) ")" }
        @if deadlines.is_empty() { p { "None." } }
        ul {
            @for d in &deadlines {
                @let (id, step, due, status, hazard, link) = deadline_line(d);
                li { a href=(link) { "Case " (id) } " (" (hazard) "): " (step) " by " (due) " (" (status) ")" }
            }
        }
        h2 { "Alert updates since the last digest (" (items.len()) ")" }
        @if items.is_empty() { p { "None." } }
        ul {
            @for item in &items {
                @let (what, hazard, where_, duty, summary, link) = alert_line(item);
                li {
                    (what) ": " (hazard) " in " (where_) ". " (duty_words(&duty))
                    @if !summary.is_empty() { " Why: " (summary) }
                    @if let Some(link) = link { " " a href=(link) { "Open the case" } }
                }
            }
        }
    };
    Rendered { subject, text, html: page(&body) }
}

const FOOTER_TEXT: &str =
    "\n--\nYou receive this because of your Dampwatch notification settings (GET/PUT /v1/me/notifications).\n";

fn page(body: &Markup) -> String {
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Dampwatch" } }
            body {
                (body)
                hr;
                p { small { "You receive this because of your Dampwatch notification settings." } }
            }
        }
    }
    .into_string()
}

/// The e-mail as a MIME message: multipart/alternative with the plain text first.
pub fn build(
    from: &Mailbox,
    to: &str,
    message_id: String,
    date: SystemTime,
    rendered: &Rendered,
) -> Result<Message, String> {
    let to: Mailbox = to.parse().map_err(|e| format!("recipient address: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(rendered.subject.clone())
        .message_id(Some(message_id))
        .date(date)
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(rendered.text.clone()))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(rendered.html.clone())),
        )
        .map_err(|e| format!("message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_email_links_to_the_case_and_escapes_html() {
        let payload = json!({
            "alert": {"hazard": "damp_and_mould_growth", "severity": "red", "duty": "legal_clock",
                      "room": {"key": "k", "room_name": "Bedroom <2>", "dwelling_address": "1 High St & Co"}},
            "explanation": {"summary": "Surface RH above 80% for 3 days <script>"},
            "case": {"id": 7, "status": "awaiting_triage"},
            "deadlines": [{"step": "investigate", "due": "2026-12-10", "status": "on_track"}],
        });
        let r = event_email("alert.raised", &payload, Some(7), "https://dw.example");
        assert!(
            r.subject.contains("Damp and mould growth") && r.subject.contains("legal clock"),
            "{}",
            r.subject
        );
        assert!(r.text.contains("https://dw.example/cases/7"));
        assert!(r.text.contains("Legal clock"));
        assert!(r.html.contains("href=\"https://dw.example/cases/7\""));
        assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("1 High St &amp; Co"));
    }

    #[test]
    fn a_message_is_multipart_alternative_with_the_given_id() {
        let r = Rendered { subject: "s".into(), text: "t".into(), html: "<p>h</p>".into() };
        let from: Mailbox = "Dampwatch <alerts@dw.example>".parse().expect("from");
        let m = build(
            &from,
            "officer@example.org",
            "<dampwatch.k@dw.example>".into(),
            SystemTime::UNIX_EPOCH,
            &r,
        )
        .expect("message");
        let wire = String::from_utf8(m.formatted()).expect("utf-8");
        assert!(wire.contains("Message-ID: <dampwatch.k@dw.example>"), "{wire}");
        assert!(wire.contains("multipart/alternative"));
        assert!(wire.contains("text/plain") && wire.contains("text/html"));
    }
}
