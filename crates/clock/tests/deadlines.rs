//! Deadlines across weekends, Easter, Christmas substitutes, clock changes and late-night
//! triggers.

mod support;

use chrono::{DateTime, Duration, Utc};
use dampwatch_clock::calendar::{AddedDay, CalendarOverrides};
use dampwatch_clock::deadline::{CountedFrom, StepDeadline};
use dampwatch_clock::law::{Basis, Trigger};
use dampwatch_clock::london::{format_local, local_date, parse_instant};
use dampwatch_clock::{
    compute_deadline, deadlines_for_track, AwaabRules, Calendar, Deadline, Due, StepName, Track, Triggers,
};
use support::{calendar, d, rules, utc};

fn deadline_with(
    step: StepName,
    aware: DateTime<Utc>,
    concluded: Option<DateTime<Utc>>,
    calendar: &Calendar,
    rules: &AwaabRules,
) -> Deadline {
    let rule = rules.step(step).expect("step in rules");
    let triggers = Triggers { awareness: aware, investigation_concluded: concluded };
    compute_deadline(rule, &triggers, calendar, rules).expect("computes").expect("trigger present")
}

fn deadline(step: StepName, aware: DateTime<Utc>, concluded: Option<DateTime<Utc>>) -> Deadline {
    deadline_with(step, aware, concluded, &calendar(), &rules())
}

/// A local Europe/London time as a person would type it.
fn london(text: &str) -> DateTime<Utc> {
    parse_instant(text).expect("valid London time")
}

#[test]
fn investigation_of_a_significant_hazard_skips_two_weekends() {
    // Aware Friday 6 November 2026: counting starts Saturday; Mon 9–Fri 13 and Mon 16–Fri 20.
    let dl = deadline(StepName::Investigate, london("2026-11-06T10:00"), None);
    assert_eq!(dl.due, Due::Date(d(2026, 11, 20)));
    assert_eq!(dl.basis, Basis::WorkingDays);
    assert_eq!(dl.amount, 10);
    assert_eq!(dl.ends_at, utc("2026-11-21T00:00:00Z"), "due by the end of the London day");
    assert!(dl.bank_holidays_skipped.is_empty());
}

#[test]
fn easter_good_friday_and_monday_are_not_counted() {
    // Aware Thursday 2 April 2026; Good Friday 3 and Easter Monday 6 April skipped.
    let dl = deadline(StepName::Investigate, london("2026-04-02T09:00"), None);
    assert_eq!(dl.due, Due::Date(d(2026, 4, 20)));
    assert_eq!(dl.bank_holidays_skipped, vec![d(2026, 4, 3), d(2026, 4, 6)]);
    // 2027: Easter is in March (Good Friday 26, Easter Monday 29).
    let concluded = london("2027-03-25T16:00");
    let dl = deadline(StepName::WrittenSummary, concluded, Some(concluded));
    assert_eq!(dl.due, Due::Date(d(2027, 4, 1)), "Tue 30, Wed 31, Thu 1");
}

#[test]
fn christmas_2026_boxing_day_substitute_on_monday_28() {
    // Investigation concluded Wed 23 Dec 2026: Thu 24 (1), [Fri 25], [Mon 28], Tue 29 (2), Wed 30 (3).
    let concluded = london("2026-12-23T15:00");
    let dl = deadline(StepName::WrittenSummary, utc("2026-12-10T09:00:00Z"), Some(concluded));
    assert_eq!(dl.due, Due::Date(d(2026, 12, 30)));
    assert_eq!(dl.bank_holidays_skipped, vec![d(2026, 12, 25), d(2026, 12, 28)]);
    assert_eq!(dl.counted_from.event, Trigger::InvestigationConcluded);
    assert_eq!(dl.counted_from.at, concluded);
}

#[test]
fn christmas_2027_on_saturday_and_new_year_2028_on_saturday() {
    // Concluded Fri 24 Dec 2027: [Mon 27], [Tue 28], Wed 29 (1), Thu 30 (2), Fri 31 (3),
    // [Mon 3 Jan 2028, New Year substitute], Tue 4 (4), Wed 5 (5).
    let concluded = london("2027-12-24T11:00");
    let summary = deadline(StepName::WrittenSummary, concluded, Some(concluded));
    assert_eq!(summary.due, Due::Date(d(2027, 12, 31)));
    let safety = deadline(StepName::SafetyWork, concluded, Some(concluded));
    assert_eq!(safety.due, Due::Date(d(2028, 1, 5)));
    assert_eq!(safety.bank_holidays_skipped, vec![d(2027, 12, 27), d(2027, 12, 28), d(2028, 1, 3)]);
}

#[test]
fn christmas_2022_on_sunday_boxing_monday_christmas_tuesday() {
    let concluded = london("2022-12-23T11:00");
    let dl = deadline(StepName::PreventativeStart, concluded, Some(concluded));
    // [Mon 26], [Tue 27], Wed 28, Thu 29, Fri 30, [Mon 2 Jan 2023 New Year substitute], Tue 3, Wed 4.
    assert_eq!(dl.due, Due::Date(d(2023, 1, 4)));
    assert_eq!(dl.bank_holidays_skipped, vec![d(2022, 12, 26), d(2022, 12, 27), d(2023, 1, 2)]);
}

#[test]
fn twenty_four_hours_across_the_march_clock_change_is_exactly_24_hours() {
    // Sat 28 March 2026 12:00 GMT; the clocks go forward at 01:00 UTC on Sunday 29.
    let aware = london("2026-03-28T12:00");
    assert_eq!(aware, utc("2026-03-28T12:00:00Z"));
    let dl = deadline(StepName::EmergencyInvestigate, aware, None);
    assert_eq!(dl.due, Due::Instant(utc("2026-03-29T12:00:00Z")));
    assert_eq!(dl.ends_at - aware, Duration::hours(24));
    assert_eq!(dl.basis, Basis::ElapsedHours);
    // The local clock shows an hour later than the trigger's local time.
    assert_eq!(format_local(aware), "Sat 28 Mar 2026 12:00 GMT");
    assert_eq!(format_local(dl.ends_at), "Sun 29 Mar 2026 13:00 BST");
    assert_eq!(dl.due.to_string(), "2026-03-29T12:00:00Z");
}

#[test]
fn twenty_four_hours_across_the_october_clock_change_is_exactly_24_hours() {
    // Sat 24 October 2026 12:00 BST; the clocks go back at 01:00 UTC on Sunday 25.
    let aware = london("2026-10-24T12:00");
    assert_eq!(aware, utc("2026-10-24T11:00:00Z"));
    let dl = deadline(StepName::EmergencyMakeSafe, aware, None);
    assert_eq!(dl.due, Due::Instant(utc("2026-10-25T11:00:00Z")));
    assert_eq!(dl.ends_at - aware, Duration::hours(24));
    assert_eq!(format_local(dl.ends_at), "Sun 25 Oct 2026 11:00 GMT");
}

#[test]
fn a_late_night_trigger_counts_from_its_london_day_not_its_utc_day() {
    // 23:30 BST Friday 5 June 2026 is 22:30 UTC Friday: still Friday in London.
    let friday_night = london("2026-06-05T23:30");
    assert_eq!(local_date(friday_night), d(2026, 6, 5));
    let dl = deadline(StepName::WrittenSummary, friday_night, Some(friday_night));
    assert_eq!(
        dl.counted_from,
        CountedFrom {
            event: Trigger::InvestigationConcluded,
            at: utc("2026-06-05T22:30:00Z"),
            local_day: d(2026, 6, 5)
        }
    );
    assert_eq!(dl.due, Due::Date(d(2026, 6, 10)), "Mon 8, Tue 9, Wed 10");

    // Two triggers on the same UTC date (Thursday 4 June) but different London days.
    let thursday_late = london("2026-06-04T23:30"); // 22:30 UTC Thursday, Thursday in London
    let friday_early = london("2026-06-05T00:30"); // 23:30 UTC Thursday, Friday in London
    assert_eq!(thursday_late.date_naive(), friday_early.date_naive());
    assert_eq!(deadline(StepName::Investigate, thursday_late, None).due, Due::Date(d(2026, 6, 18)));
    assert_eq!(deadline(StepName::Investigate, friday_early, None).due, Due::Date(d(2026, 6, 19)));
    // In summer the London day ends at 23:00 UTC.
    assert_eq!(deadline(StepName::Investigate, thursday_late, None).ends_at, utc("2026-06-18T23:00:00Z"));
}

#[test]
fn a_trigger_on_a_bank_holiday_counts_from_the_next_working_day() {
    // Aware on Christmas Day 2026 (Friday): Mon 28 is the Boxing Day substitute.
    let dl = deadline(StepName::Investigate, london("2026-12-25T10:00"), None);
    // Tue 29, Wed 30, Thu 31, [Fri 1 Jan], Mon 4 … Fri 8 (8), Mon 11 (9), Tue 12 (10).
    assert_eq!(dl.due, Due::Date(d(2027, 1, 12)));
}

#[test]
fn the_backstop_is_twelve_calendar_weeks() {
    let concluded = london("2026-12-07T14:00");
    let dl = deadline(StepName::PreventativeBackstop, concluded, Some(concluded));
    assert_eq!(dl.basis, Basis::Weeks);
    assert_eq!(dl.amount, 12);
    assert_eq!(dl.due, Due::Date(d(2027, 3, 1)));
    assert_eq!(dl.ends_at, utc("2027-03-02T00:00:00Z"));
}

#[test]
fn emergency_make_safe_runs_both_clocks_and_the_earlier_is_due() {
    let aware = utc("2026-11-09T09:00:00Z");
    let concluded = utc("2026-11-09T15:00:00Z");
    let dl = deadline(StepName::EmergencyMakeSafe, aware, Some(concluded));
    assert_eq!(dl.counted_from.event, Trigger::Awareness);
    assert_eq!(dl.due, Due::Instant(utc("2026-11-10T09:00:00Z")));
    assert_eq!(dl.other_clocks.len(), 1);
    assert_eq!(dl.other_clocks[0].counted_from.event, Trigger::InvestigationConcluded);
    assert_eq!(dl.other_clocks[0].due, Due::Instant(utc("2026-11-10T15:00:00Z")));
}

#[test]
fn every_deadline_records_versions_and_source() {
    let dl = deadline(StepName::Investigate, utc("2026-11-09T09:00:00Z"), None);
    assert_eq!(dl.calendar_version, "ew-2026-11");
    assert_eq!(dl.rules_version, "awaab-2026-11");
    assert!(dl.source.contains("SI 2025/1042"), "{}", dl.source);
    let json = serde_json::to_value(&dl).expect("serializes");
    assert_eq!(json["due"], "2026-11-23");
    assert_eq!(json["counted_from"]["event"], "awareness");
    assert_eq!(json["counted_from"]["at"], "2026-11-09T09:00:00Z");
    let back: Deadline = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, dl);
}

#[test]
fn an_override_moves_the_deadline_and_changes_the_recorded_version() {
    let overrides = CalendarOverrides {
        add: vec![AddedDay { date: d(2026, 11, 16), title: "Proclaimed bank holiday".into() }],
        remove: vec![],
    };
    let calendar = calendar().with_overrides(overrides).expect("valid overrides");
    let dl = deadline_with(StepName::Investigate, london("2026-11-06T10:00"), None, &calendar, &rules());
    assert_eq!(dl.due, Due::Date(d(2026, 11, 23)));
    assert_eq!(dl.bank_holidays_skipped, vec![d(2026, 11, 16)]);
    assert!(dl.calendar_version.starts_with("ew-2026-11+overrides:"), "{}", dl.calendar_version);
}

#[test]
fn a_track_lists_its_steps_and_waits_for_the_investigation() {
    let triggers = Triggers { awareness: utc("2026-11-09T09:00:00Z"), investigation_concluded: None };
    let steps = deadlines_for_track(Track::Significant, &triggers, &calendar(), &rules()).expect("computes");
    let names: Vec<&str> = steps.iter().map(|s| s.step().as_str()).collect();
    assert_eq!(
        names,
        ["investigate", "written_summary", "safety_work", "preventative_start", "preventative_backstop"]
    );
    assert!(matches!(steps[0], StepDeadline::Computed(_)));
    for waiting in &steps[1..] {
        assert!(
            matches!(waiting, StepDeadline::AwaitingTrigger { trigger: Trigger::InvestigationConcluded, .. }),
            "{waiting:?}"
        );
    }
}
