//! `dampwatch clock deadlines`: text and JSON output, and clear errors on bad input.

mod support;

use clap::Parser;
use dampwatch_clock::cli::{run_deadlines, DeadlinesArgs};
use support::GOVUK_FIXTURE;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: DeadlinesArgs,
}

fn parse(argv: &[&str]) -> Result<DeadlinesArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("deadlines").chain(argv.iter().copied())).map(|c| c.args)
}

fn run(argv: &[&str]) -> anyhow::Result<String> {
    let args = parse(argv)?;
    let mut out = Vec::new();
    run_deadlines(args, &mut out)?;
    Ok(String::from_utf8(out)?)
}

/// The first line of a step's block in the text output.
fn step_line<'a>(text: &'a str, step: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(step))
        .unwrap_or_else(|| panic!("{step} in:\n{text}"))
}

#[test]
fn significant_track_text_shows_each_date_and_how_it_was_counted() {
    // 23:30 BST on Friday 5 June 2026, given as London local time.
    let text = run(&["--aware", "2026-06-05T23:30", "--track", "significant"]).expect("runs");
    assert!(
        text.contains("aware:                   2026-06-05T22:30:00Z (Fri 5 Jun 2026 23:30 BST)"),
        "{text}"
    );
    assert!(text.contains("calendar:                ew-2026-11"), "{text}");
    assert!(text.contains("rules:                   awaab-2026-11"), "{text}");
    assert!(
        text.contains("hazards in scope:        1 of 29 HHSRS hazards (damp_and_mould_growth)"),
        "{text}"
    );
    // Mon 8 … Fri 12, Mon 15 … Fri 19.
    assert_eq!(step_line(&text, "investigate"), "investigate            2026-06-19  (Fri 19 Jun 2026)");
    assert!(
        text.contains("10 working days counted from the day after awareness on Fri 5 Jun 2026"),
        "{text}"
    );
    for waiting in ["written_summary", "safety_work", "preventative_start", "preventative_backstop"] {
        assert!(step_line(&text, waiting).ends_with("needs --investigation-concluded"), "{waiting}:\n{text}");
    }
    assert!(!text.contains("emergency_investigate"), "{text}");
}

#[test]
fn emergency_track_text_gives_utc_instants() {
    let text = run(&["--aware", "2026-03-28T12:00:00Z", "--track", "emergency"]).expect("runs");
    assert_eq!(
        step_line(&text, "emergency_investigate"),
        "emergency_investigate  2026-03-29T12:00:00Z  (Sun 29 Mar 2026 13:00 BST)"
    );
    assert!(
        step_line(&text, "emergency_make_safe").starts_with("emergency_make_safe    2026-03-29T12:00:00Z")
    );
    assert!(text.contains("24 hours elapsed from awareness at 2026-03-28T12:00:00Z"), "{text}");
    assert!(text.contains("28 of 29 HHSRS hazards (all except crowding_and_space)"), "{text}");
    assert!(
        text.contains("the clock from the investigation concluding also runs once it is known"),
        "{text}"
    );
    assert!(step_line(&text, "written_summary").ends_with("needs --investigation-concluded"));
    assert!(!text.contains("\nsafety_work"), "safety_work is a significant-track step:\n{text}");
}

#[test]
fn with_the_investigation_concluded_every_step_has_a_date() {
    let text = run(&[
        "--aware",
        "2026-12-01T09:00:00Z",
        "--track",
        "significant",
        "--investigation-concluded",
        "2026-12-23T15:00:00Z",
    ])
    .expect("runs");
    assert!(step_line(&text, "written_summary").starts_with("written_summary        2026-12-30"), "{text}");
    assert!(step_line(&text, "safety_work").starts_with("safety_work            2027-01-04"), "{text}");
    assert!(
        step_line(&text, "preventative_backstop").starts_with("preventative_backstop  2027-03-17"),
        "{text}"
    );
    assert!(
        text.contains("bank holidays skipped: Fri 25 Dec 2026, Mon 28 Dec 2026, Fri 1 Jan 2027"),
        "{text}"
    );
    assert!(text.contains("applies only if beginning preventative work"), "{text}");
}

#[test]
fn json_output_is_a_document_with_every_step() {
    let text = run(&[
        "--aware",
        "2026-11-20T22:00:00Z",
        "--track",
        "emergency",
        "--investigation-concluded",
        "2026-11-21T01:00:00Z",
        "--json",
    ])
    .expect("runs");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["track"], "emergency");
    assert_eq!(doc["aware"], "2026-11-20T22:00:00Z");
    assert_eq!(doc["calendar_version"], "ew-2026-11");
    assert_eq!(doc["rules_version"], "awaab-2026-11");
    assert_eq!(doc["hazards_in_scope"].as_array().map(Vec::len), Some(28));
    let steps = doc["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "emergency_investigate",
            "emergency_make_safe",
            "written_summary",
            "preventative_start",
            "preventative_backstop"
        ]
    );
    assert_eq!(steps[0]["due"], "2026-11-21T22:00:00Z");
    assert_eq!(steps[0]["basis"], "elapsed_hours");
    assert_eq!(steps[0]["counted_from"]["event"], "awareness");
    assert_eq!(steps[1]["other_clocks"][0]["due"], "2026-11-22T01:00:00Z");
    assert_eq!(steps[2]["due"], "2026-11-25");
    assert_eq!(steps[2]["counted_from"]["local_day"], "2026-11-21");
    assert_eq!(steps[2]["calendar_version"], "ew-2026-11");
}

#[test]
fn json_marks_steps_waiting_for_the_investigation() {
    let text = run(&["--aware", "2026-11-20T22:00:00Z", "--track", "significant", "--json"]).expect("runs");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["investigation_concluded"], serde_json::Value::Null);
    assert_eq!(doc["steps"][1]["kind"], "awaiting_trigger");
    assert_eq!(doc["steps"][1]["trigger"], "investigation_concluded");
}

#[test]
fn a_govuk_file_can_supply_the_bank_holidays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bank-holidays.json");
    // Without Easter Monday 2026 the count no longer skips it.
    let mut doc: serde_json::Value = serde_json::from_str(GOVUK_FIXTURE).expect("json");
    doc["england-and-wales"]["events"].as_array_mut().expect("events").retain(|e| e["date"] != "2026-04-06");
    std::fs::write(&path, serde_json::to_string(&doc).expect("json")).expect("write fixture");
    let path = path.to_str().expect("utf-8 path");
    let with_file = run(&["--aware", "2026-04-02T09:00", "--track", "significant", "--bank-holidays", path])
        .expect("runs");
    let built_in = run(&["--aware", "2026-04-02T09:00", "--track", "significant"]).expect("runs");
    assert!(step_line(&built_in, "investigate").contains("2026-04-20"), "{built_in}");
    assert!(step_line(&with_file, "investigate").contains("2026-04-17"), "{with_file}");
    assert!(with_file.contains("calendar:                ew-2026-11+govuk:"), "{with_file}");
}

#[test]
fn bad_input_gives_a_clear_error() {
    let err = parse(&["--aware", "next tuesday", "--track", "significant"]).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("RFC 3339"), "{err}");
    let err = parse(&["--aware", "2026-10-25T01:30", "--track", "significant"]).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("happens twice"), "{err}");
    let err = parse(&["--aware", "2026-11-20T10:00", "--track", "urgent"]).map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("emergency"), "{err}");

    let err = run(&[
        "--aware",
        "2026-11-20T10:00",
        "--track",
        "significant",
        "--investigation-concluded",
        "2026-11-19T10:00",
    ])
    .unwrap_err();
    assert!(err.to_string().contains("is before --aware"), "{err}");

    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.json");
    let err = run(&[
        "--aware",
        "2026-11-20T10:00",
        "--track",
        "significant",
        "--bank-holidays",
        missing.to_str().expect("utf-8"),
    ])
    .unwrap_err();
    assert!(format!("{err:#}").contains("missing.json"), "{err:#}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"scotland": {"division": "scotland", "events": []}}"#).expect("write");
    let err = run(&[
        "--aware",
        "2026-11-20T10:00",
        "--track",
        "significant",
        "--bank-holidays",
        bad.to_str().expect("utf-8"),
    ])
    .unwrap_err();
    assert!(format!("{err:#}").contains("england-and-wales"), "{err:#}");
}

#[test]
fn a_time_before_the_law_says_nothing_was_covered() {
    let text = run(&["--aware", "2025-06-02T09:00", "--track", "significant"]).expect("runs");
    assert!(
        text.contains("none: Awaab's Law did not cover the significant track on Mon 2 Jun 2025"),
        "{text}"
    );
}

#[test]
fn help_says_how_local_times_are_read() {
    let help = parse(&["--help"]).map(|_| ()).unwrap_err().to_string();
    assert!(help.contains("Europe/London"), "{help}");
}

#[test]
fn scottish_text_names_the_scottish_steps_calendar_working_days_and_holidays() {
    // Aware Thursday 26 November 2026: Fri 27 (1), [Mon 30 St Andrew's Day], Tue 1 Dec (2) ...
    // Fri 11 (10).
    let text =
        run(&["--jurisdiction", "scotland", "--tenure", "private-rented", "--aware", "2026-11-26T10:00"])
            .expect("runs");
    assert!(
        text.starts_with(
            "Deadlines under the Investigation and Commencement of Repair (Scotland) Regulations 2026: \
             private rented home in Scotland"
        ),
        "{text}"
    );
    assert!(text.contains("calendar:                sc-2026-12 (Scotland)"), "{text}");
    assert!(
        text.contains("rules:                   scotland-prs-2026-12 (Housing (Scotland) Act 2006"),
        "{text}"
    );
    assert!(
        text.contains(
            "working day:             Any day other than a Saturday, a Sunday or a bank holiday in Scotland"
        ),
        "{text}"
    );
    assert!(text.contains("(UNVERIFIED)"), "{text}");
    assert!(
        text.contains("steps:                   investigate, written_summary, safety_work_commenced"),
        "{text}"
    );
    assert!(text.contains("Saturdays, Sundays and bank holidays in Scotland"), "{text}");
    assert_eq!(step_line(&text, "investigate"), "investigate            2026-12-11  (Fri 11 Dec 2026)");
    assert!(text.contains("bank holidays skipped: Mon 30 Nov 2026"), "{text}");
    assert!(step_line(&text, "safety_work_commenced").ends_with("needs --investigation-concluded"), "{text}");
    assert!(text.contains("unable to comply: Housing (Scotland) Act 2006 s.14(9)"), "{text}");
    assert!(!text.contains("preventative"), "no English steps in Scotland:\n{text}");
}

#[test]
fn scottish_steps_after_the_investigation_skip_new_year_and_the_2_january_substitute() {
    // Completed Wednesday 30 December 2026: Thu 31 (1), [Fri 1 Jan], [Mon 4 Jan], Tue 5 (2), Wed 6 (3);
    // commenced within Thu 31 (1), Tue 5 (2), Wed 6 (3), Thu 7 (4), Fri 8 (5).
    let text = run(&[
        "--jurisdiction",
        "scotland",
        "--tenure",
        "social",
        "--aware",
        "2026-12-24T10:00",
        "--investigation-concluded",
        "2026-12-30T15:00",
    ])
    .expect("runs");
    assert!(step_line(&text, "written_summary").starts_with("written_summary        2027-01-06"), "{text}");
    assert!(
        step_line(&text, "safety_work_commenced").starts_with("safety_work_commenced  2027-01-08"),
        "{text}"
    );
    assert!(text.contains("bank holidays skipped: Fri 1 Jan 2027, Mon 4 Jan 2027"), "{text}");
    assert!(text.contains("rules:                   scotland-social-2026-12"), "{text}");
}

#[test]
fn scottish_json_names_the_law_and_its_working_days() {
    let text =
        run(&["--jurisdiction", "scotland", "--aware", "2026-11-26T10:00", "--track", "emergency", "--json"])
            .expect("runs");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["jurisdiction"], "scotland");
    assert_eq!(doc["tenure"], "social");
    assert_eq!(doc["law"], "scotland-social");
    assert_eq!(doc["track"], "significant", "an urgent case runs on the one Scottish timetable");
    assert_eq!(doc["calendar_version"], "sc-2026-12");
    assert_eq!(doc["working_day"]["calendar"], "scotland");
    assert_eq!(doc["working_day"]["verified"], false);
    assert_eq!(doc["hazards_in_scope"], serde_json::json!(["damp_and_mould_growth"]));
    let names: Vec<&str> =
        doc["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(names, ["investigate", "written_summary", "safety_work_commenced"]);
    assert_eq!(doc["steps"][0]["due"], "2026-12-11");
    assert_eq!(doc["steps"][0]["bank_holidays_skipped"], serde_json::json!(["2026-11-30"]));
    assert!(doc.get("no_clock").is_none());
}

#[test]
fn homes_without_a_clock_say_why_and_succeed() {
    let wales = run(&["--jurisdiction", "wales", "--aware", "2026-11-26T10:00"]).expect("not an error");
    assert!(wales.starts_with("No statutory response clock"), "{wales}");
    assert!(
        wales.contains(
            "why:                     no statutory response clock applies to social homes in Wales"
        ),
        "{wales}"
    );
    let json = run(&["--jurisdiction", "wales", "--aware", "2026-11-26T10:00", "--json"]).expect("runs");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(doc["no_clock"]["why"], "no_law");
    assert_eq!(doc["law"], serde_json::Value::Null);
    assert_eq!(doc["steps"], serde_json::json!([]));

    let private =
        run(&["--tenure", "private-rented", "--aware", "2026-11-26T10:00", "--track", "significant"])
            .expect("not an error");
    assert!(private.contains("No statutory clock: Awaab's Law for privately rented homes"), "{private}");
    assert!(private.contains("has no date of effect yet"), "{private}");
    assert!(!private.contains("\ninvestigate "), "no steps without a clock:\n{private}");

    let early = run(&["--jurisdiction", "scotland", "--aware", "2026-10-05T10:00"]).expect("not an error");
    assert!(
        early.contains(
            "No statutory clock: the Investigation and Commencement of Repair (Scotland) Regulations 2026 \
             takes effect on 2026-10-06; awareness on Mon 5 Oct 2026 is before that"
        ),
        "{early}"
    );
}

#[test]
fn england_still_needs_its_track() {
    let err = run(&["--aware", "2026-11-26T10:00"]).unwrap_err();
    assert!(err.to_string().contains("--track is needed for social homes in England"), "{err}");
}

#[test]
fn a_govuk_file_supplies_scotlands_division_to_a_scottish_home() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bank-holidays.json");
    // Without St Andrew's Day 2026 in the file's scotland division, it is counted.
    let mut doc: serde_json::Value = serde_json::from_str(GOVUK_FIXTURE).expect("json");
    doc["scotland"]["events"].as_array_mut().expect("events").retain(|e| e["date"] != "2026-11-30");
    std::fs::write(&path, serde_json::to_string(&doc).expect("json")).expect("write fixture");
    let path = path.to_str().expect("utf-8 path");
    let text = run(&["--jurisdiction", "scotland", "--aware", "2026-11-26T10:00", "--bank-holidays", path])
        .expect("runs");
    assert!(text.contains("calendar:                sc-2026-12+govuk:"), "{text}");
    assert!(step_line(&text, "investigate").contains("2026-12-10"), "{text}");
}
