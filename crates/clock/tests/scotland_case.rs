//! Scottish cases: their own steps (investigate, written summary, safety work commenced), the
//! `unable_to_comply` notice shown on its step, events stored as JSON like the others; and
//! homes with no statutory clock (Wales, Scotland before its regulations).

mod support;

use chrono::{DateTime, Utc};
use dampwatch_clock::case::{EventKind, InvestigationOutcome, TriageCategory};
use dampwatch_clock::{
    AwarenessPolicy, Case, CaseEvent, CaseState, CaseView, Due, ExpectedCompliance, Hazard, NoClockReason,
    StepName, StepStatus, Tenancy, Track, TransitionError,
};
use support::{clock, d, utc, SCOTLAND_PRIVATE, SCOTLAND_SOCIAL, WALES_SOCIAL};

/// Thursday 26 November 2026, 09:00 GMT.
const NOTICED: &str = "2026-11-26T09:00:00Z";

fn scottish_case() -> Case {
    Case::open_in(SCOTLAND_PRIVATE, Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection)
}

fn apply(case: &mut Case, at: &str, event: CaseEvent) {
    case.apply(utc(at), &event).unwrap_or_else(|e| panic!("{event:?} at {at}: {e}"));
}

fn view_at(case: &Case, now: &str) -> CaseView {
    clock().view(case, utc(now)).expect("view")
}

fn due(view: &CaseView, step: StepName) -> Due {
    let s = view.step(step).unwrap_or_else(|| panic!("{step} listed"));
    s.deadline.as_ref().map(|d| d.due).unwrap_or_else(|| panic!("{step} has a deadline"))
}

fn triage(category: TriageCategory) -> CaseEvent {
    CaseEvent::TriageDecided { category, hazard: None }
}

fn unable(step: StepName, expected: ExpectedCompliance) -> CaseEvent {
    CaseEvent::UnableToComply { step, reason: "the neighbour's roof must be repaired first".into(), expected }
}

#[test]
fn a_scottish_case_from_notification_to_closure() {
    let mut case = scottish_case();
    assert_eq!(case.tenancy(), SCOTLAND_PRIVATE);
    // An urgent triage still runs on the Scottish timetable.
    apply(&mut case, "2026-11-26T10:00:00Z", triage(TriageCategory::Emergency));
    let v = view_at(&case, "2026-11-26T11:00:00Z");
    assert_eq!(v.tenancy, SCOTLAND_PRIVATE);
    assert_eq!(v.law.as_deref(), Some("scotland-private-rented"));
    assert_eq!(v.no_clock, None);
    assert_eq!(v.track, Some(Track::Significant));
    assert_eq!(v.calendar_version, "sc-2026-12");
    assert_eq!(v.rules_version, "scotland-prs-2026-12");
    let names: Vec<&str> = v.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ["investigate", "written_summary", "safety_work_commenced"]);
    // Fri 27 (1), [Mon 30 St Andrew's Day], Tue 1 Dec (2) ... Fri 11 (10).
    assert_eq!(due(&v, StepName::Investigate), Due::Date(d(2026, 12, 11)));

    // Completed Wednesday 9 December: summary Thu 10 (1), Fri 11 (2), Mon 14 (3); safety work
    // commenced Thu 10 (1), Fri 11 (2), Mon 14 (3), Tue 15 (4), Wed 16 (5).
    apply(
        &mut case,
        "2026-12-09T14:00:00Z",
        CaseEvent::InvestigationConcluded { outcome: InvestigationOutcome::HazardFound },
    );
    assert_eq!(case.state(), CaseState::WorkRequired);
    assert_eq!(
        case.allowed_events(),
        [
            EventKind::WrittenSummarySent,
            EventKind::SafetyWorkCommenced,
            EventKind::SafetyWorkDone,
            EventKind::UnableToComply,
            EventKind::Stop,
            EventKind::AccessAttempt,
            EventKind::AlternativeAccommodationOffered,
            EventKind::AlternativeAccommodationProvided,
        ]
    );
    let v = view_at(&case, "2026-12-10T09:00:00Z");
    assert_eq!(due(&v, StepName::WrittenSummary), Due::Date(d(2026, 12, 14)));
    assert_eq!(due(&v, StepName::SafetyWorkCommenced), Due::Date(d(2026, 12, 16)));

    // All the work is done within the summary's period: Scotland still owes the summary.
    apply(&mut case, "2026-12-10T09:00:00Z", CaseEvent::SafetyWorkCommenced);
    apply(&mut case, "2026-12-10T16:00:00Z", CaseEvent::SafetyWorkDone);
    let v = view_at(&case, "2026-12-11T09:00:00Z");
    assert_eq!(
        v.step(StepName::SafetyWorkCommenced).expect("listed").status,
        StepStatus::Met { at: utc("2026-12-10T09:00:00Z"), on_time: true }
    );
    assert_eq!(v.step(StepName::WrittenSummary).expect("listed").status, StepStatus::OnTrack);
    let err = case.apply(utc("2026-12-11T09:00:00Z"), &CaseEvent::SafetyWorkCommenced).unwrap_err();
    assert!(matches!(err, TransitionError::AlreadyRecorded { .. }), "{err}");
    apply(&mut case, "2026-12-11T10:00:00Z", CaseEvent::WrittenSummarySent);
    apply(&mut case, "2026-12-11T11:00:00Z", CaseEvent::Closed);
    assert_eq!(case.state(), CaseState::Closed);
    // Scotland's regulations owe no alternative accommodation from a step's expiry.
    assert_eq!(view_at(&case, "2027-01-01T00:00:00Z").alternative_accommodation.needed_from, None);
}

#[test]
fn a_notice_of_inability_to_comply_shows_on_its_step_without_moving_the_deadline() {
    let mut case = scottish_case();
    // Under the awareness-at-detection policy the investigation clock runs before triage, so
    // the notice can be given already.
    assert!(case.allowed_events().contains(&EventKind::UnableToComply));
    apply(&mut case, "2026-11-26T10:00:00Z", triage(TriageCategory::Significant));
    // Given Friday 4 December, expecting 5 working days: Mon 7 (1), Tue 8 (2), Wed 9 (3),
    // Thu 10 (4), Fri 11 (5).
    apply(
        &mut case,
        "2026-12-04T12:00:00Z",
        unable(StepName::Investigate, ExpectedCompliance::WorkingDays(5)),
    );
    let v = view_at(&case, "2026-12-14T09:00:00Z");
    let investigate = v.step(StepName::Investigate).expect("listed");
    assert_eq!(investigate.status, StepStatus::Overdue, "the statutory deadline (Fri 11 Dec) still stands");
    let notice = investigate.unable_to_comply.as_ref().expect("the notice is shown");
    assert_eq!(notice.notified_at, utc("2026-12-04T12:00:00Z"));
    assert_eq!(notice.expected, ExpectedCompliance::WorkingDays(5));
    assert_eq!(notice.expected_by, Some(d(2026, 12, 11)));
    assert_eq!(notice.within_period, Some(true));
    assert_eq!(notice.notices, 1);
    assert!(v.step(StepName::WrittenSummary).expect("listed").unable_to_comply.is_none());

    // A later notice revises the expectation; the step shows the latest.
    apply(
        &mut case,
        "2026-12-14T12:00:00Z",
        unable(StepName::Investigate, ExpectedCompliance::By(d(2026, 12, 18))),
    );
    let v = view_at(&case, "2026-12-15T09:00:00Z");
    let notice = v.step(StepName::Investigate).and_then(|s| s.unable_to_comply.as_ref()).expect("notice");
    assert_eq!(notice.expected_by, Some(d(2026, 12, 18)));
    assert_eq!(notice.within_period, Some(false));
    assert_eq!(notice.notices, 2);

    // The summary admits no such notice; the safety work only once it is due.
    let err = case
        .apply(
            utc("2026-12-15T10:00:00Z"),
            &unable(StepName::WrittenSummary, ExpectedCompliance::WorkingDays(1)),
        )
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { event: EventKind::UnableToComply, .. }), "{err}");
    let err = case
        .apply(
            utc("2026-12-15T10:00:00Z"),
            &unable(StepName::SafetyWorkCommenced, ExpectedCompliance::WorkingDays(1)),
        )
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err}");

    apply(
        &mut case,
        "2026-12-16T14:00:00Z",
        CaseEvent::InvestigationConcluded { outcome: InvestigationOutcome::HazardFound },
    );
    // A safety-work notice cannot predate the investigation that made the work due.
    let err = case
        .apply(
            utc("2026-12-16T13:00:00Z"),
            &unable(StepName::SafetyWorkCommenced, ExpectedCompliance::WorkingDays(10)),
        )
        .unwrap_err();
    assert!(matches!(err, TransitionError::TooEarly { .. }), "{err}");
    apply(
        &mut case,
        "2026-12-17T09:00:00Z",
        unable(StepName::SafetyWorkCommenced, ExpectedCompliance::WorkingDays(10)),
    );
    let v = view_at(&case, "2026-12-17T10:00:00Z");
    let work = v.step(StepName::SafetyWorkCommenced).expect("listed");
    // Expected within 10 Scottish working days of Thursday 17 December: Fri 18 (1), Mon 21 (2),
    // Tue 22 (3), Wed 23 (4), Thu 24 (5), [Fri 25], [Mon 28], Tue 29 (6), Wed 30 (7), Thu 31 (8),
    // [Fri 1 Jan], [Mon 4 Jan], Tue 5 (9), Wed 6 (10).
    assert_eq!(work.unable_to_comply.as_ref().and_then(|n| n.expected_by), Some(d(2027, 1, 6)));
    // The investigation's notice stays on its own step.
    assert_eq!(
        v.step(StepName::Investigate).and_then(|s| s.unable_to_comply.as_ref()).map(|n| n.notices),
        Some(2)
    );
    // Closing needs the work done.
    let err = case.apply(utc("2026-12-18T09:00:00Z"), &CaseEvent::Closed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the case cannot be closed yet: record safety_work_done first (or a stop event)"
    );
}

#[test]
fn english_cases_accept_no_scottish_events() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    assert_eq!(case.tenancy(), Tenancy::ENGLAND_SOCIAL);
    apply(&mut case, "2026-11-26T10:00:00Z", triage(TriageCategory::Significant));
    let err = case
        .apply(
            utc("2026-11-27T10:00:00Z"),
            &unable(StepName::Investigate, ExpectedCompliance::WorkingDays(5)),
        )
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err}");
    apply(
        &mut case,
        "2026-12-01T10:00:00Z",
        CaseEvent::InvestigationConcluded { outcome: InvestigationOutcome::HazardFound },
    );
    let err = case.apply(utc("2026-12-02T10:00:00Z"), &CaseEvent::SafetyWorkCommenced).unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err}");
    let v = view_at(&case, "2026-12-02T10:00:00Z");
    assert_eq!(v.law.as_deref(), Some("england-social"));
    assert_eq!(v.tenancy, Tenancy::ENGLAND_SOCIAL);
}

#[test]
fn a_scottish_case_replays_from_its_stored_events() {
    let stored: Vec<(DateTime<Utc>, CaseEvent)> = [
        ("2026-11-26T10:00:00Z", r#"{"type":"triage_decided","category":"significant"}"#),
        (
            "2026-12-04T12:00:00Z",
            r#"{"type":"unable_to_comply","step":"investigate","reason":"no access","expected":{"working_days":5}}"#,
        ),
        ("2026-12-09T14:00:00Z", r#"{"type":"investigation_concluded","outcome":"hazard_found"}"#),
        ("2026-12-10T09:00:00Z", r#"{"type":"safety_work_commenced"}"#),
    ]
    .into_iter()
    .map(|(at, json)| (utc(at), serde_json::from_str(json).expect("stored event")))
    .collect();
    let replayed = Case::replay_in(
        SCOTLAND_SOCIAL,
        Hazard::DampAndMouldGrowth,
        utc(NOTICED),
        AwarenessPolicy::AtDetection,
        stored.iter().map(|(at, e)| (*at, e)),
    )
    .expect("valid history");
    assert_eq!(replayed.unable_to_comply_notices().len(), 1);
    assert_eq!(replayed.safety_work_commenced(), Some(utc("2026-12-10T09:00:00Z")));
    let v = view_at(&replayed, "2026-12-10T10:00:00Z");
    assert_eq!(v.law.as_deref(), Some("scotland-social"));
    // The view serialises with the notice on its step, and reads back.
    let json = serde_json::to_value(&v).expect("serializes");
    assert_eq!(json["tenancy"]["jurisdiction"], "scotland");
    assert_eq!(json["steps"][0]["unable_to_comply"]["expected"]["working_days"], 5);
    assert_eq!(json["steps"][0]["unable_to_comply"]["expected_by"], "2026-12-11");
    let back: CaseView = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, v);
}

#[test]
fn a_welsh_case_is_recorded_with_no_clock() {
    let mut case =
        Case::open_in(WALES_SOCIAL, Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-26T10:00:00Z", triage(TriageCategory::Significant));
    let v = view_at(&case, "2026-11-27T10:00:00Z");
    assert!(v.steps.is_empty());
    assert_eq!(v.law, None);
    let no_clock = v.no_clock.as_ref().expect("says why");
    assert_eq!(no_clock.why, NoClockReason::NoLaw);
    assert!(no_clock.reason.contains("Wales"), "{}", no_clock.reason);
    assert_eq!(v.triage.status, StepStatus::Met { at: utc("2026-11-26T10:00:00Z"), on_time: true });
}

#[test]
fn a_scottish_case_before_6_october_2026_has_no_clock() {
    let mut case = Case::open_in(
        SCOTLAND_PRIVATE,
        Hazard::DampAndMouldGrowth,
        utc("2026-10-05T09:00:00Z"),
        AwarenessPolicy::AtDetection,
    );
    apply(&mut case, "2026-10-05T10:00:00Z", triage(TriageCategory::Significant));
    let v = view_at(&case, "2026-10-06T10:00:00Z");
    assert_eq!(v.no_clock.as_ref().map(|n| n.why), Some(NoClockReason::BeforeDateOfEffect));
    for step in &v.steps {
        assert!(
            matches!(&step.status, StepStatus::NotRequired { reason } if reason.contains("2026-10-06")),
            "{step:?}"
        );
        assert!(step.deadline.is_none());
    }
}
