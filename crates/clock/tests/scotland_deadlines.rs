//! Scottish deadlines over Scottish bank holidays (St Andrew's Day, 2 January, the first
//! Monday of August), and an English and a Scottish home notified on the same day getting
//! different dates. Every expected date is counted by hand in the comment beside it:
//! counting begins with the day after the trigger's Europe/London date; `[...]` marks a day
//! not counted.

mod support;

use chrono::{DateTime, NaiveDate, Utc};
use dampwatch_clock::deadline::StepDeadline;
use dampwatch_clock::london::parse_instant;
use dampwatch_clock::{Deadline, Due, StepName, Tenancy, TenancyDeadlines, Track, Triggers};
use support::{clock, d, SCOTLAND_PRIVATE, SCOTLAND_SOCIAL};

/// A local Europe/London time as a person would type it.
fn london(text: &str) -> DateTime<Utc> {
    parse_instant(text).expect("valid London time")
}

/// Every computed step of a home's law, by name.
fn deadlines(tenancy: Tenancy, aware: &str, concluded: Option<&str>) -> Vec<Deadline> {
    let triggers = Triggers { awareness: london(aware), investigation_concluded: concluded.map(london) };
    match clock().deadlines_in(tenancy, Track::Significant, &triggers).expect("computes") {
        TenancyDeadlines::Runs { steps, .. } => steps
            .into_iter()
            .filter_map(|s| match s {
                StepDeadline::Computed(deadline) => Some(deadline),
                StepDeadline::AwaitingTrigger { .. } => None,
            })
            .collect(),
        TenancyDeadlines::None(no_clock) => panic!("{tenancy}: no clock: {}", no_clock.reason),
    }
}

fn step(deadlines: &[Deadline], name: StepName) -> &Deadline {
    deadlines.iter().find(|d| d.step == name).unwrap_or_else(|| panic!("{name} computed"))
}

fn due(deadlines: &[Deadline], name: StepName) -> NaiveDate {
    match step(deadlines, name).due {
        Due::Date(date) => date,
        Due::Instant(t) => panic!("{name} is a working-day step, due {t}"),
    }
}

#[test]
fn the_investigation_skips_st_andrews_day() {
    // Aware Thursday 26 November 2026; 30 November 2026 is a Monday, so St Andrew's Day is
    // that Monday: Fri 27 (1), [Sat 28], [Sun 29], [Mon 30 St Andrew's Day], Tue 1 Dec (2),
    // Wed 2 (3), Thu 3 (4), Fri 4 (5), Mon 7 (6), Tue 8 (7), Wed 9 (8), Thu 10 (9), Fri 11 (10).
    for tenancy in [SCOTLAND_PRIVATE, SCOTLAND_SOCIAL] {
        let steps = deadlines(tenancy, "2026-11-26T10:00", None);
        assert_eq!(due(&steps, StepName::Investigate), d(2026, 12, 11), "{tenancy}");
        let investigate = step(&steps, StepName::Investigate);
        assert_eq!(investigate.bank_holidays_skipped, vec![d(2026, 11, 30)]);
        assert_eq!(investigate.calendar_version, "sc-2026-12");
        assert_eq!(investigate.amount, 10);
        assert!(
            investigate.source.contains("10 working days beginning with the day after"),
            "{}",
            investigate.source
        );
    }
    let private = deadlines(SCOTLAND_PRIVATE, "2026-11-26T10:00", None);
    assert_eq!(step(&private, StepName::Investigate).rules_version, "scotland-prs-2026-12");
    assert!(step(&private, StepName::Investigate).source.contains("s.14(6)"));
    let social = deadlines(SCOTLAND_SOCIAL, "2026-11-26T10:00", None);
    assert_eq!(step(&social, StepName::Investigate).rules_version, "scotland-social-2026-12");
}

#[test]
fn an_english_and_a_scottish_home_notified_the_same_day_get_different_dates() {
    // England & Wales has no St Andrew's Day: Fri 27 (1), Mon 30 (2), Tue 1 Dec (3), Wed 2 (4),
    // Thu 3 (5), Fri 4 (6), Mon 7 (7), Tue 8 (8), Wed 9 (9), Thu 10 (10).
    let england = deadlines(Tenancy::ENGLAND_SOCIAL, "2026-11-26T10:00", None);
    let scotland = deadlines(SCOTLAND_PRIVATE, "2026-11-26T10:00", None);
    assert_eq!(due(&england, StepName::Investigate), d(2026, 12, 10));
    assert_eq!(due(&scotland, StepName::Investigate), d(2026, 12, 11));
    assert!(step(&england, StepName::Investigate).bank_holidays_skipped.is_empty());
    assert_eq!(step(&england, StepName::Investigate).calendar_version, "ew-2026-11");
}

#[test]
fn christmas_new_year_and_the_2_january_substitute() {
    // Aware Thursday 24 December 2026. 2027: 1 January is a Friday and 2 January a Saturday,
    // so the 2nd January holiday is Monday 4 January.
    // Scotland: [Fri 25 Christmas], [Sat 26], [Sun 27], [Mon 28 Boxing Day substitute],
    // Tue 29 (1), Wed 30 (2), Thu 31 (3), [Fri 1 Jan], [Sat 2], [Sun 3], [Mon 4 2nd January
    // substitute], Tue 5 (4), Wed 6 (5), Thu 7 (6), Fri 8 (7), Mon 11 (8), Tue 12 (9), Wed 13 (10).
    let scotland = deadlines(SCOTLAND_PRIVATE, "2026-12-24T10:00", None);
    assert_eq!(due(&scotland, StepName::Investigate), d(2027, 1, 13));
    assert_eq!(
        step(&scotland, StepName::Investigate).bank_holidays_skipped,
        vec![d(2026, 12, 25), d(2026, 12, 28), d(2027, 1, 1), d(2027, 1, 4)]
    );
    // England: Monday 4 January is a working day, so one day earlier: ... Mon 4 (4) ... Tue 12 (10).
    let england = deadlines(Tenancy::ENGLAND_SOCIAL, "2026-12-24T10:00", None);
    assert_eq!(due(&england, StepName::Investigate), d(2027, 1, 12));

    // Investigation completed Wednesday 30 December 2026 (Scotland).
    // Written summary, 3 working days: Thu 31 (1), [Fri 1 Jan], [Mon 4 Jan], Tue 5 (2), Wed 6 (3).
    // Safety work commenced, 5 working days: Thu 31 (1), Tue 5 (2), Wed 6 (3), Thu 7 (4), Fri 8 (5).
    let concluded = deadlines(SCOTLAND_PRIVATE, "2026-12-24T10:00", Some("2026-12-30T15:00"));
    assert_eq!(due(&concluded, StepName::WrittenSummary), d(2027, 1, 6));
    assert_eq!(due(&concluded, StepName::SafetyWorkCommenced), d(2027, 1, 8));
    assert_eq!(
        step(&concluded, StepName::SafetyWorkCommenced).bank_holidays_skipped,
        vec![d(2027, 1, 1), d(2027, 1, 4)]
    );
}

#[test]
fn scotlands_summer_bank_holiday_is_the_first_monday_of_august() {
    // The regulations are in force from 6 October 2026, so the first August they meet is 2027:
    // Monday 2 August 2027 is Scotland's summer bank holiday. Investigation completed Thursday
    // 29 July 2027; safety work commenced, 5 working days: Fri 30 Jul (1), [Sat 31], [Sun 1],
    // [Mon 2 Aug], Tue 3 (2), Wed 4 (3), Thu 5 (4), Fri 6 (5).
    let scotland = deadlines(SCOTLAND_SOCIAL, "2027-07-20T09:00", Some("2027-07-29T14:00"));
    assert_eq!(due(&scotland, StepName::SafetyWorkCommenced), d(2027, 8, 6));
    assert_eq!(step(&scotland, StepName::SafetyWorkCommenced).bank_holidays_skipped, vec![d(2027, 8, 2)]);
    // England works on Monday 2 August: Fri 30 (1), Mon 2 (2), Tue 3 (3), Wed 4 (4), Thu 5 (5).
    let england = deadlines(Tenancy::ENGLAND_SOCIAL, "2027-07-20T09:00", Some("2027-07-29T14:00"));
    assert_eq!(due(&england, StepName::SafetyWork), d(2027, 8, 5));

    // And England's late-August holiday (Monday 30 August 2027) is a working day in Scotland.
    // Completed Thursday 26 August 2027; written summary, 3 working days:
    // Scotland: Fri 27 (1), Mon 30 (2), Tue 31 (3). England: Fri 27 (1), [Mon 30], Tue 31 (2), Wed 1 Sep (3).
    let scotland = deadlines(SCOTLAND_PRIVATE, "2027-08-16T09:00", Some("2027-08-26T14:00"));
    assert_eq!(due(&scotland, StepName::WrittenSummary), d(2027, 8, 31));
    let england = deadlines(Tenancy::ENGLAND_SOCIAL, "2027-08-16T09:00", Some("2027-08-26T14:00"));
    assert_eq!(due(&england, StepName::WrittenSummary), d(2027, 9, 1));
}

#[test]
fn the_scottish_steps_are_the_scottish_ones_and_wait_for_the_investigation() {
    let triggers = Triggers { awareness: london("2026-11-26T10:00"), investigation_concluded: None };
    match clock().deadlines_in(SCOTLAND_PRIVATE, Track::Emergency, &triggers).expect("computes") {
        TenancyDeadlines::Runs { track, steps, law, calendar_version, .. } => {
            assert_eq!(law, "scotland-private-rented");
            assert_eq!(calendar_version, "sc-2026-12");
            assert_eq!(track, Track::Significant, "an urgent case runs on the one Scottish timetable");
            let names: Vec<&str> = steps.iter().map(|s| s.step().as_str()).collect();
            assert_eq!(names, ["investigate", "written_summary", "safety_work_commenced"]);
            assert!(matches!(steps[1], StepDeadline::AwaitingTrigger { .. }));
        }
        TenancyDeadlines::None(no_clock) => panic!("{}", no_clock.reason),
    }
}
