//! Which law's clock runs for a home: by jurisdiction, tenure and the awareness date; and the
//! answers that are no clock at all (Wales, a law without a date, a date before the law).

mod support;

use std::collections::BTreeMap;

use dampwatch_clock::law::Phase;
use dampwatch_clock::{
    Applicability, Clock, ClockConfig, Hazard, Jurisdiction, LawBook, NoClockReason, RulesOverrides, Scope,
    Tenancy, Tenure, Track,
};
use support::{clock, d, ENGLAND_PRIVATE, SCOTLAND_PRIVATE, SCOTLAND_SOCIAL, WALES_SOCIAL};

fn book() -> LawBook {
    LawBook::embedded().expect("embedded laws")
}

fn no_clock(answer: Applicability<'_>) -> dampwatch_clock::NoClock {
    match answer {
        Applicability::NoClock(no_clock) => no_clock,
        Applicability::Clock(law) => panic!("expected no clock, got {}", law.id()),
    }
}

fn law_id(answer: Applicability<'_>) -> String {
    match answer {
        Applicability::Clock(law) => law.id().to_owned(),
        Applicability::NoClock(no_clock) => panic!("expected a clock: {}", no_clock.reason),
    }
}

#[test]
fn each_home_gets_the_law_of_its_jurisdiction_and_tenure() {
    let book = book();
    let day = d(2026, 11, 26);
    assert_eq!(law_id(book.applicable(Tenancy::ENGLAND_SOCIAL, day)), "england-social");
    assert_eq!(law_id(book.applicable(SCOTLAND_PRIVATE, day)), "scotland-private-rented");
    assert_eq!(law_id(book.applicable(SCOTLAND_SOCIAL, day)), "scotland-social");
    for law in book.laws() {
        assert!(!law.version().is_empty() && !law.title().is_empty(), "{}", law.id());
        assert!(law.source().starts_with("https://www.legislation.gov.uk/"), "{}", law.id());
        assert!(!law.working_day().source.is_empty(), "{}", law.id());
        for phase in law.phases() {
            assert!(!phase.source.is_empty(), "{} {}", law.id(), phase.id);
        }
    }
}

#[test]
fn wales_has_no_clock_and_says_so() {
    let answer = no_clock(book().applicable(WALES_SOCIAL, d(2026, 11, 26)));
    assert_eq!(answer.why, NoClockReason::NoLaw);
    assert_eq!(answer.law, None);
    assert!(answer.reason.contains("social homes in Wales"), "{}", answer.reason);
    let private = no_clock(
        book().applicable(Tenancy::new(Jurisdiction::Wales, Tenure::PrivateRented), d(2026, 11, 26)),
    );
    assert!(private.reason.contains("private rented homes in Wales"), "{}", private.reason);
}

#[test]
fn england_private_rented_has_no_clock_until_a_date_is_configured() {
    let answer = no_clock(book().applicable(ENGLAND_PRIVATE, d(2030, 1, 1)));
    assert_eq!(answer.why, NoClockReason::DateNotSet);
    assert_eq!(answer.law.as_deref(), Some("england-private-rented"));
    assert!(answer.reason.contains("[laws.england-private-rented.phase_effective]"), "{}", answer.reason);

    let configured = book()
        .with_overrides(&BTreeMap::from([(
            "england-private-rented".to_owned(),
            RulesOverrides { phase_effective: [("in_force".to_owned(), d(2027, 10, 1))].into() },
        )]))
        .expect("known law and phase");
    let before = no_clock(configured.applicable(ENGLAND_PRIVATE, d(2027, 9, 30)));
    assert_eq!(before.why, NoClockReason::BeforeDateOfEffect);
    assert!(before.reason.contains("2027-10-01 (configured)"), "{}", before.reason);
    match configured.applicable(ENGLAND_PRIVATE, d(2027, 10, 1)) {
        Applicability::Clock(law) => assert_eq!(law.version(), "england-prs-2026-12+in_force@2027-10-01"),
        Applicability::NoClock(n) => panic!("configured law should apply: {}", n.reason),
    }
}

#[test]
fn scotland_has_no_clock_before_6_october_2026() {
    for tenancy in [SCOTLAND_PRIVATE, SCOTLAND_SOCIAL] {
        let answer = no_clock(book().applicable(tenancy, d(2026, 10, 5)));
        assert_eq!(answer.why, NoClockReason::BeforeDateOfEffect);
        assert!(answer.reason.contains("takes effect on 2026-10-06"), "{}", answer.reason);
        assert!(answer.reason.contains("Mon 5 Oct 2026"), "{}", answer.reason);
        assert!(matches!(book().applicable(tenancy, d(2026, 10, 6)), Applicability::Clock(_)));
    }
}

#[test]
fn scotlands_scope_is_damp_and_mould_only_and_has_no_emergency_track() {
    let book = book();
    let law = book.law(SCOTLAND_PRIVATE).expect("Scotland private rented law");
    let day = d(2026, 11, 26);
    assert_eq!(
        law.hazards_in_scope(Track::Significant, day).into_iter().collect::<Vec<_>>(),
        [Hazard::DampAndMouldGrowth]
    );
    assert!(law.hazards_in_scope(Track::Emergency, day).is_empty());
    match law.scope(Track::Significant, Hazard::ExcessCold, day) {
        Scope::OutOfScope { reason } => assert!(
            reason
                .contains("outside the Investigation and Commencement of Repair (Scotland) Regulations 2026"),
            "{reason}"
        ),
        other => panic!("excess cold is not in Scotland's scope: {other:?}"),
    }
    // An urgent case runs on the one timetable, counted in Scottish working days.
    assert_eq!(law.track_for(Track::Emergency), Track::Significant);
    assert_eq!(law.working_day().calendar, "scotland");
    assert!(!law.working_day().verified, "the definition could not be read in the instrument");
    let steps: Vec<&str> = law.steps_for(Track::Significant).map(|s| s.name.as_str()).collect();
    assert_eq!(steps, ["investigate", "written_summary", "safety_work_commenced"]);
    let with_notice: Vec<&str> =
        law.steps().iter().filter(|s| s.unable_to_comply.is_some()).map(|s| s.name.as_str()).collect();
    assert_eq!(with_notice, ["investigate", "safety_work_commenced"]);
    let in_force: &Phase = law.date_of_effect().expect("a date of effect");
    assert_eq!(in_force.effective, Some(d(2026, 10, 6)));
    assert!(in_force.verified);
}

#[test]
fn excess_cold_is_outside_the_significant_track_before_phase_2_and_inside_from_it() {
    // Unverified phase 2 (30 November 2026): the deadline records the law version it used.
    let clock = clock();
    let significant = |aware: &str| {
        let aware = dampwatch_clock::london::parse_instant(aware).expect("time");
        let triggers = dampwatch_clock::Triggers { awareness: aware, investigation_concluded: None };
        clock.deadlines_in(Tenancy::ENGLAND_SOCIAL, Track::Significant, &triggers).expect("computes")
    };
    let law = &clock.rules;
    match law.scope(Track::Significant, Hazard::ExcessCold, d(2026, 11, 29)) {
        Scope::OutOfScope { reason } => {
            assert!(reason.contains("phase_2 (2026-11-30 (UNVERIFIED))"), "{reason}")
        }
        other => panic!("not yet in scope on 29 Nov 2026: {other:?}"),
    }
    assert_eq!(
        law.scope(Track::Significant, Hazard::ExcessCold, d(2026, 11, 30)),
        Scope::InScope {
            phase: "phase_2".into(),
            effective: "2026-11-30 (UNVERIFIED)".into(),
            verified: false
        }
    );
    match significant("2026-11-30T09:00") {
        dampwatch_clock::TenancyDeadlines::Runs { law, rules_version, steps, .. } => {
            assert_eq!(law, "england-social");
            assert_eq!(rules_version, "awaab-2026-11");
            let dampwatch_clock::deadline::StepDeadline::Computed(first) = &steps[0] else {
                panic!("investigate is computed")
            };
            assert_eq!(first.rules_version, "awaab-2026-11");
        }
        other => panic!("England social runs: {other:?}"),
    }
    // A configured date verifies phase 2 and changes the version deadlines record.
    let config = ClockConfig {
        rules: RulesOverrides { phase_effective: [("phase_2".to_owned(), d(2026, 12, 7))].into() },
        ..ClockConfig::default()
    };
    let configured = Clock::from_config(&config, None).expect("builds");
    assert!(!configured.rules.scope(Track::Significant, Hazard::ExcessCold, d(2026, 12, 4)).applies());
    assert_eq!(
        configured.rules.scope(Track::Significant, Hazard::ExcessCold, d(2026, 12, 7)),
        Scope::InScope {
            phase: "phase_2".into(),
            effective: "2026-12-07 (configured)".into(),
            verified: true
        }
    );
    assert_eq!(configured.rules.version(), "awaab-2026-11+phase_2@2026-12-07");
}

#[test]
fn the_clock_says_no_clock_rather_than_failing() {
    let clock = clock();
    let triggers = dampwatch_clock::Triggers {
        awareness: support::utc("2026-11-26T09:00:00Z"),
        investigation_concluded: None,
    };
    for (tenancy, why) in [(WALES_SOCIAL, NoClockReason::NoLaw), (ENGLAND_PRIVATE, NoClockReason::DateNotSet)]
    {
        match clock.deadlines_in(tenancy, Track::Significant, &triggers).expect("not an error") {
            dampwatch_clock::TenancyDeadlines::None(no_clock) => assert_eq!(no_clock.why, why, "{tenancy}"),
            other => panic!("{tenancy}: {other:?}"),
        }
    }
    let json = serde_json::to_value(clock.deadlines_in(WALES_SOCIAL, Track::Significant, &triggers).unwrap())
        .expect("serializes");
    assert_eq!(json["clock"], "none");
    assert_eq!(json["why"], "no_law");
    assert_eq!(json["tenancy"]["jurisdiction"], "wales");
}
