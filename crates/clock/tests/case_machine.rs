//! The case state machine: valid paths, refused transitions, and step statuses over time.

mod support;

use chrono::{DateTime, Utc};
use dampwatch_clock::case::{
    AccessOutcome, CaseView, EventKind, InvestigationOutcome, StepView, StopReason, TriageCategory,
};
use dampwatch_clock::{
    AwarenessPolicy, Case, CaseEvent, CaseState, Due, Hazard, StatusPolicy, StepName, StepStatus, Track,
    TransitionError,
};
use support::{calendar, d, rules, utc};

const NOTICED: &str = "2026-11-02T09:00:00Z"; // Monday, GMT

fn triage(category: TriageCategory) -> CaseEvent {
    CaseEvent::TriageDecided { category, hazard: None }
}

fn concluded(outcome: InvestigationOutcome) -> CaseEvent {
    CaseEvent::InvestigationConcluded { outcome }
}

fn apply(case: &mut Case, at: &str, event: CaseEvent) {
    case.apply(utc(at), &event).unwrap_or_else(|e| panic!("{event:?} at {at}: {e}"));
}

fn view_at(case: &Case, now: &str) -> CaseView {
    case.view(utc(now), &calendar(), &rules(), &StatusPolicy::default()).expect("view")
}

fn step(view: &CaseView, name: StepName) -> &StepView {
    view.step(name).unwrap_or_else(|| panic!("{name} in view"))
}

fn due(view: &CaseView, name: StepName) -> Due {
    step(view, name).deadline.as_ref().map(|d| d.due).unwrap_or_else(|| panic!("{name} has a deadline"))
}

/// Significant damp case, triaged at 11:00 and found a hazard on Wed 11 Nov 2026 14:00.
fn significant_case_with_hazard() -> Case {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    apply(&mut case, "2026-11-11T14:00:00Z", concluded(InvestigationOutcome::HazardFound));
    case
}

#[test]
fn a_significant_case_from_detection_to_closure() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    assert_eq!(case.state(), CaseState::AwaitingTriage);
    assert_eq!(case.awareness(), Some(utc(NOTICED)), "the conservative policy starts the clock at detection");
    let v = view_at(&case, "2026-11-02T10:00:00Z");
    assert!(v.steps.is_empty(), "no track before triage");
    assert_eq!(v.triage.due, utc("2026-11-02T13:00:00Z"));
    assert_eq!(v.triage.status, StepStatus::OnTrack);

    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    assert_eq!(case.state(), CaseState::Investigating);
    assert_eq!(case.track(), Some(Track::Significant));
    let v = view_at(&case, "2026-11-03T09:00:00Z");
    assert_eq!(v.triage.status, StepStatus::Met { at: utc("2026-11-02T11:00:00Z"), on_time: true });
    // Tue 3 … Fri 6, Mon 9 … Fri 13, Mon 16: counted from the detection day.
    assert_eq!(due(&v, StepName::Investigate), Due::Date(d(2026, 11, 16)));
    assert_eq!(step(&v, StepName::Investigate).status, StepStatus::OnTrack);
    assert_eq!(
        step(&v, StepName::SafetyWork).status,
        StepStatus::AwaitingTrigger { trigger: dampwatch_clock::law::Trigger::InvestigationConcluded }
    );
    assert!(matches!(step(&v, StepName::PreventativeBackstop).status, StepStatus::AwaitingTrigger { .. }));

    apply(&mut case, "2026-11-11T14:00:00Z", concluded(InvestigationOutcome::HazardFound));
    assert_eq!(case.state(), CaseState::WorkRequired);
    let v = view_at(&case, "2026-11-12T09:00:00Z");
    assert_eq!(
        step(&v, StepName::Investigate).status,
        StepStatus::Met { at: utc("2026-11-11T14:00:00Z"), on_time: true }
    );
    assert_eq!(due(&v, StepName::WrittenSummary), Due::Date(d(2026, 11, 16)));
    assert_eq!(due(&v, StepName::SafetyWork), Due::Date(d(2026, 11, 18)));
    assert_eq!(due(&v, StepName::PreventativeStart), Due::Date(d(2026, 11, 18)));
    assert!(matches!(step(&v, StepName::PreventativeBackstop).status, StepStatus::NotRequired { .. }));

    apply(&mut case, "2026-11-13T10:00:00Z", CaseEvent::WrittenSummarySent);
    apply(&mut case, "2026-11-17T08:00:00Z", CaseEvent::PreventativeWorkStarted);
    // Safety work a day late: overdue first, then met late, and alternative accommodation
    // was owed from the end of the period.
    let v = view_at(&case, "2026-11-19T09:00:00Z");
    assert_eq!(step(&v, StepName::SafetyWork).status, StepStatus::Overdue);
    assert_eq!(v.alternative_accommodation.needed_from, Some(utc("2026-11-19T00:00:00Z")));
    apply(&mut case, "2026-11-19T09:00:00Z", CaseEvent::AlternativeAccommodationOffered);
    apply(&mut case, "2026-11-19T16:00:00Z", CaseEvent::SafetyWorkDone);
    apply(&mut case, "2026-12-01T12:00:00Z", CaseEvent::PreventativeWorkCompleted);
    apply(&mut case, "2026-12-02T12:00:00Z", CaseEvent::Closed);
    assert_eq!(case.state(), CaseState::Closed);

    let v = view_at(&case, "2027-06-01T00:00:00Z");
    assert_eq!(v.evaluated_at, utc("2026-12-02T12:00:00Z"), "a closed case is evaluated as at closure");
    assert_eq!(
        step(&v, StepName::WrittenSummary).status,
        StepStatus::Met { at: utc("2026-11-13T10:00:00Z"), on_time: true }
    );
    assert_eq!(
        step(&v, StepName::SafetyWork).status,
        StepStatus::Met { at: utc("2026-11-19T16:00:00Z"), on_time: false }
    );
    assert_eq!(
        step(&v, StepName::PreventativeStart).status,
        StepStatus::Met { at: utc("2026-11-17T08:00:00Z"), on_time: true }
    );
    assert_eq!(v.alternative_accommodation.offered_at, Some(utc("2026-11-19T09:00:00Z")));
    assert_eq!(v.calendar_version, "ew-2026-11");
    assert_eq!(v.rules_version, "awaab-2026-11");
}

#[test]
fn statuses_move_from_on_track_to_due_soon_to_overdue() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    let status = |now: &str, policy: &StatusPolicy| {
        let v = case.view(utc(now), &calendar(), &rules(), policy).expect("view");
        step(&v, StepName::Investigate).status.clone()
    };
    let default = StatusPolicy::default();
    assert_eq!(status("2026-11-10T12:00:00Z", &default), StepStatus::OnTrack);
    // A quarter of the period (about 88 hours) is left from Friday 13 morning.
    assert_eq!(status("2026-11-13T10:00:00Z", &default), StepStatus::DueSoon);
    assert_eq!(status("2026-11-16T23:59:59Z", &default), StepStatus::DueSoon);
    assert_eq!(status("2026-11-17T00:00:00Z", &default), StepStatus::Overdue);

    // Working days alone: due soon only when one working day (the last) is left.
    let by_days =
        StatusPolicy { due_soon_fraction: 0.0, due_soon_working_days: 1, ..StatusPolicy::default() };
    assert_eq!(status("2026-11-13T10:00:00Z", &by_days), StepStatus::OnTrack, "Fri 13 and Mon 16 left");
    assert_eq!(status("2026-11-14T10:00:00Z", &by_days), StepStatus::DueSoon, "only Mon 16 left");
    assert_eq!(status("2026-11-16T10:00:00Z", &by_days), StepStatus::DueSoon);
}

/// The rule of [`StatusPolicy`] stated directly: due soon when at most the fraction of the
/// period is left, or at most so many working days counting today; overdue from the end.
fn status_by_rule(
    now: DateTime<Utc>,
    start: DateTime<Utc>,
    ends: DateTime<Utc>,
    last: chrono::NaiveDate,
    policy: &StatusPolicy,
) -> StepStatus {
    if now >= ends {
        return StepStatus::Overdue;
    }
    let total = (ends - start).num_seconds() as f64;
    let left = (ends - now).num_seconds() as f64;
    let today = dampwatch_clock::london::local_date(now);
    let days_left = calendar().working_days_after(today.pred_opt().unwrap(), last);
    if left <= total * policy.due_soon_fraction || days_left <= policy.due_soon_working_days {
        StepStatus::DueSoon
    } else {
        StepStatus::OnTrack
    }
}

#[test]
fn the_instant_a_step_becomes_due_soon_gives_its_status_at_every_later_instant() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    let policies = [
        StatusPolicy::default(),
        StatusPolicy { due_soon_fraction: 0.0, due_soon_working_days: 1, ..StatusPolicy::default() },
        StatusPolicy { due_soon_fraction: 0.05, due_soon_working_days: 3, ..StatusPolicy::default() },
        StatusPolicy { due_soon_fraction: 0.0, due_soon_working_days: 0, ..StatusPolicy::default() },
    ];
    for policy in policies {
        let v = case.view(utc("2026-11-02T12:00:00Z"), &calendar(), &rules(), &policy).expect("view");
        let investigate = step(&v, StepName::Investigate);
        let deadline = investigate.deadline.clone().expect("running");
        let soon = investigate.due_soon_from.expect("a running step says when it becomes due soon");
        let Due::Date(last) = deadline.due else { panic!("a working-day step") };
        // Every half hour from the start of the period to a day past its end.
        let mut now = deadline.counted_from.at;
        while now < deadline.ends_at + chrono::Duration::days(1) {
            let expected = status_by_rule(now, deadline.counted_from.at, deadline.ends_at, last, &policy);
            assert_eq!(
                dampwatch_clock::running_status(now, deadline.ends_at, soon),
                expected,
                "{now} {policy:?}"
            );
            let viewed = case.view(now, &calendar(), &rules(), &policy).expect("view");
            assert_eq!(step(&viewed, StepName::Investigate).status, expected, "{now} {policy:?}");
            now += chrono::Duration::minutes(30);
        }
    }
    // Only Monday 16 left from the start of Saturday 14 (London midnight, GMT in November).
    let by_days =
        StatusPolicy { due_soon_fraction: 0.0, due_soon_working_days: 1, ..StatusPolicy::default() };
    let v = case.view(utc("2026-11-02T12:00:00Z"), &calendar(), &rules(), &by_days).expect("view");
    assert_eq!(step(&v, StepName::Investigate).due_soon_from, Some(utc("2026-11-14T00:00:00Z")));
    // A met step has none.
    let mut met = case.clone();
    apply(&mut met, "2026-11-05T10:00:00Z", concluded(InvestigationOutcome::HazardFound));
    let v = met.view(utc("2026-11-06T12:00:00Z"), &calendar(), &rules(), &by_days).expect("view");
    assert_eq!(step(&v, StepName::Investigate).due_soon_from, None);
}

#[test]
fn an_untriaged_issue_goes_overdue_for_review() {
    let case = Case::open(Hazard::ExcessCold, utc(NOTICED), AwarenessPolicy::AtDetection);
    assert_eq!(view_at(&case, "2026-11-02T12:30:00Z").triage.status, StepStatus::DueSoon);
    assert_eq!(view_at(&case, "2026-11-02T13:00:00Z").triage.status, StepStatus::Overdue);
}

#[test]
fn the_awareness_policy_at_triage_starts_the_clock_at_the_decision() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtTriage);
    assert_eq!(case.awareness(), None);
    apply(&mut case, "2026-11-03T10:00:00Z", triage(TriageCategory::Significant));
    assert_eq!(case.awareness(), Some(utc("2026-11-03T10:00:00Z")));
    let v = view_at(&case, "2026-11-03T12:00:00Z");
    assert_eq!(due(&v, StepName::Investigate), Due::Date(d(2026, 11, 17)));
}

#[test]
fn an_emergency_made_safe_on_the_investigating_visit() {
    let mut case =
        Case::open(Hazard::ElectricalHazards, utc("2026-11-20T22:00:00Z"), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-20T22:30:00Z", triage(TriageCategory::Emergency));
    apply(&mut case, "2026-11-20T23:30:00Z", CaseEvent::SafetyWorkDone);
    apply(&mut case, "2026-11-21T01:00:00Z", concluded(InvestigationOutcome::HazardFound));
    let v = view_at(&case, "2026-11-21T02:00:00Z");
    let names: Vec<&str> = v.steps.iter().map(|s| s.step.as_str()).collect();
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
    assert_eq!(due(&v, StepName::EmergencyInvestigate), Due::Instant(utc("2026-11-21T22:00:00Z")));
    assert_eq!(
        step(&v, StepName::EmergencyInvestigate).status,
        StepStatus::Met { at: utc("2026-11-21T01:00:00Z"), on_time: true }
    );
    assert_eq!(
        step(&v, StepName::EmergencyMakeSafe).status,
        StepStatus::Met { at: utc("2026-11-20T23:30:00Z"), on_time: true }
    );
    // Concluded on Saturday 21 November (London): Mon 23, Tue 24, Wed 25.
    assert_eq!(due(&v, StepName::WrittenSummary), Due::Date(d(2026, 11, 25)));
}

#[test]
fn not_reasonably_practicable_switches_to_the_twelve_week_backstop() {
    let mut case = significant_case_with_hazard();
    apply(
        &mut case,
        "2026-11-12T10:00:00Z",
        CaseEvent::PreventativeNotReasonablyPracticable { reason: "scaffold licence needed".into() },
    );
    let v = view_at(&case, "2026-11-20T10:00:00Z");
    match &step(&v, StepName::PreventativeStart).status {
        StepStatus::NotRequired { reason } => assert!(reason.contains("scaffold licence needed"), "{reason}"),
        other => panic!("preventative_start should be replaced by the backstop, got {other:?}"),
    }
    // 11 November 2026 + 12 weeks.
    assert_eq!(due(&v, StepName::PreventativeBackstop), Due::Date(d(2027, 2, 3)));
    assert_eq!(step(&v, StepName::PreventativeBackstop).status, StepStatus::OnTrack);
    apply(&mut case, "2027-01-10T10:00:00Z", CaseEvent::PreventativeWorkStarted);
    let v = view_at(&case, "2027-01-11T10:00:00Z");
    assert_eq!(
        step(&v, StepName::PreventativeBackstop).status,
        StepStatus::Met { at: utc("2027-01-10T10:00:00Z"), on_time: true }
    );
}

#[test]
fn no_written_summary_is_needed_when_all_work_is_done_within_its_period() {
    let mut case = significant_case_with_hazard();
    apply(&mut case, "2026-11-12T10:00:00Z", CaseEvent::SafetyWorkDone);
    apply(&mut case, "2026-11-12T11:00:00Z", CaseEvent::PreventativeWorkStarted);
    apply(&mut case, "2026-11-13T15:00:00Z", CaseEvent::PreventativeWorkCompleted);
    let v = view_at(&case, "2026-11-13T16:00:00Z");
    assert!(matches!(step(&v, StepName::WrittenSummary).status, StepStatus::NotRequired { .. }));
    apply(&mut case, "2026-11-13T16:00:00Z", CaseEvent::Closed);
    assert_eq!(case.state(), CaseState::Closed);
}

#[test]
fn a_stop_event_stops_every_open_clock() {
    let mut case = significant_case_with_hazard();
    apply(&mut case, "2026-11-12T10:00:00Z", CaseEvent::AccessAttempt { outcome: AccessOutcome::Refused });
    apply(&mut case, "2026-11-13T10:00:00Z", CaseEvent::Stop { reason: StopReason::HouseholdMovedOut });
    assert_eq!(case.state(), CaseState::Stopped);
    assert_eq!(case.access_attempts().len(), 1);
    let v = view_at(&case, "2026-12-20T10:00:00Z");
    let stopped =
        StepStatus::Stopped { at: utc("2026-11-13T10:00:00Z"), reason: StopReason::HouseholdMovedOut };
    assert_eq!(step(&v, StepName::SafetyWork).status, stopped);
    assert_eq!(step(&v, StepName::WrittenSummary).status, stopped);
    assert!(matches!(step(&v, StepName::Investigate).status, StepStatus::Met { .. }));
    assert_eq!(case.allowed_events(), vec![EventKind::WrittenSummarySent, EventKind::Closed]);
}

#[test]
fn an_investigation_finding_no_hazard_still_owes_the_written_summary() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    apply(&mut case, "2026-11-05T11:00:00Z", concluded(InvestigationOutcome::NoHazard));
    assert_eq!(case.state(), CaseState::NoHazardFound);
    let v = view_at(&case, "2026-11-06T11:00:00Z");
    assert!(matches!(step(&v, StepName::SafetyWork).status, StepStatus::NotRequired { .. }));
    assert_eq!(step(&v, StepName::WrittenSummary).status, StepStatus::OnTrack);
    let err = case.apply(utc("2026-11-06T11:00:00Z"), &CaseEvent::Closed).unwrap_err();
    assert!(matches!(err, TransitionError::OutstandingWork { .. }), "{err}");
    apply(&mut case, "2026-11-06T11:00:00Z", CaseEvent::WrittenSummarySent);
    apply(&mut case, "2026-11-06T12:00:00Z", CaseEvent::Closed);
}

#[test]
fn triage_finding_no_hazard_can_be_closed_at_once() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-02T10:00:00Z", triage(TriageCategory::NoHazard));
    assert_eq!(case.state(), CaseState::NoHazardFound);
    assert!(view_at(&case, "2026-11-02T10:30:00Z").steps.is_empty());
    apply(&mut case, "2026-11-02T10:30:00Z", CaseEvent::Closed);
}

#[test]
fn refused_transitions_say_what_is_allowed() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    let err = case.apply(utc("2026-11-02T10:00:00Z"), &CaseEvent::SafetyWorkDone).unwrap_err();
    assert_eq!(
        err.to_string(),
        "safety_work_done is not allowed while the case is awaiting_triage; \
         allowed now: triage_decided, stop, access_attempt"
    );
    assert!(matches!(
        err,
        TransitionError::NotAllowed {
            state: CaseState::AwaitingTriage,
            event: EventKind::SafetyWorkDone,
            ..
        }
    ));

    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    // Making safe during the investigation is only for emergencies.
    let err = case.apply(utc("2026-11-03T10:00:00Z"), &CaseEvent::SafetyWorkDone).unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { state: CaseState::Investigating, .. }), "{err}");
    let err = case.apply(utc("2026-11-03T10:00:00Z"), &triage(TriageCategory::Emergency)).unwrap_err();
    assert!(matches!(err, TransitionError::AlreadyRecorded { event: EventKind::TriageDecided, .. }), "{err}");

    apply(&mut case, "2026-11-11T14:00:00Z", concluded(InvestigationOutcome::HazardFound));
    let err = case.apply(utc("2026-11-12T10:00:00Z"), &CaseEvent::PreventativeWorkCompleted).unwrap_err();
    assert!(err.to_string().contains("preventative_work_started"), "{err}");
    let err = case.apply(utc("2026-11-12T10:00:00Z"), &CaseEvent::Closed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the case cannot be closed yet: record safety_work_done, preventative_work_started, \
         preventative_work_completed first (or a stop event)"
    );

    apply(&mut case, "2026-11-12T10:00:00Z", CaseEvent::SafetyWorkDone);
    let err = case.apply(utc("2026-11-12T11:00:00Z"), &CaseEvent::SafetyWorkDone).unwrap_err();
    assert!(
        matches!(err, TransitionError::AlreadyRecorded { event: EventKind::SafetyWorkDone, .. }),
        "{err}"
    );
    apply(&mut case, "2026-11-12T12:00:00Z", CaseEvent::PreventativeWorkStarted);
    let nrp = CaseEvent::PreventativeNotReasonablyPracticable { reason: "late".into() };
    let err = case.apply(utc("2026-11-12T13:00:00Z"), &nrp).unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err}");
    apply(&mut case, "2026-11-20T12:00:00Z", CaseEvent::PreventativeWorkCompleted);
    apply(&mut case, "2026-11-20T13:00:00Z", CaseEvent::Closed);

    let err = case
        .apply(utc("2026-11-21T10:00:00Z"), &CaseEvent::AccessAttempt { outcome: AccessOutcome::Granted })
        .unwrap_err();
    assert!(err.to_string().ends_with("allowed now: none"), "{err}");
}

#[test]
fn events_cannot_predate_what_they_follow_and_a_refusal_changes_nothing() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    let before = case.clone();
    let err = case.apply(utc("2026-11-01T09:00:00Z"), &triage(TriageCategory::Significant)).unwrap_err();
    assert!(matches!(err, TransitionError::TooEarly { .. }), "{err}");
    assert_eq!(case, before);

    apply(&mut case, "2026-11-02T11:00:00Z", triage(TriageCategory::Significant));
    let err =
        case.apply(utc("2026-11-02T10:00:00Z"), &concluded(InvestigationOutcome::HazardFound)).unwrap_err();
    assert!(matches!(err, TransitionError::TooEarly { after: "triage", .. }), "{err}");
    assert_eq!(case.state(), CaseState::Investigating);
}

#[test]
fn a_case_replays_from_its_stored_events() {
    let stored: Vec<(DateTime<Utc>, CaseEvent)> = [
        ("2026-11-02T11:00:00Z", r#"{"type":"triage_decided","category":"significant"}"#),
        ("2026-11-11T14:00:00Z", r#"{"type":"investigation_concluded","outcome":"hazard_found"}"#),
        ("2026-11-12T10:00:00Z", r#"{"type":"access_attempt","outcome":"no_access"}"#),
        ("2026-11-13T10:00:00Z", r#"{"type":"written_summary_sent"}"#),
    ]
    .into_iter()
    .map(|(at, json)| (utc(at), serde_json::from_str(json).expect("stored event")))
    .collect();
    let replayed = Case::replay(
        Hazard::DampAndMouldGrowth,
        utc(NOTICED),
        AwarenessPolicy::AtDetection,
        stored.iter().map(|(at, e)| (*at, e)),
    )
    .expect("valid history");
    let mut expected = significant_case_with_hazard();
    apply(
        &mut expected,
        "2026-11-12T10:00:00Z",
        CaseEvent::AccessAttempt { outcome: AccessOutcome::NoAccess },
    );
    apply(&mut expected, "2026-11-13T10:00:00Z", CaseEvent::WrittenSummarySent);
    assert_eq!(replayed, expected);
}

#[test]
fn triage_may_correct_the_hazard() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(
        &mut case,
        "2026-11-02T10:00:00Z",
        CaseEvent::TriageDecided {
            category: TriageCategory::Emergency,
            hazard: Some(Hazard::UncombustedFuelGas),
        },
    );
    assert_eq!(case.hazard(), Hazard::UncombustedFuelGas);
}

#[test]
fn a_step_dated_before_the_event_that_made_it_due_is_refused() {
    // Investigation concluded Wed 11 Nov 14:00: work and the summary cannot predate it, or a
    // late step would show as on time.
    let mut case = significant_case_with_hazard();
    for event in [
        CaseEvent::SafetyWorkDone,
        CaseEvent::WrittenSummarySent,
        CaseEvent::PreventativeWorkStarted,
        CaseEvent::PreventativeNotReasonablyPracticable { reason: "listed building".into() },
    ] {
        let err = case.apply(utc("2026-11-10T09:00:00Z"), &event).expect_err("dated before the conclusion");
        assert!(
            matches!(err, TransitionError::TooEarly { after: "the investigation's conclusion", .. }),
            "{event:?}: {err}"
        );
    }
    apply(&mut case, "2026-11-12T09:00:00Z", CaseEvent::PreventativeWorkStarted);
    let err = case
        .apply(utc("2026-11-11T15:00:00Z"), &CaseEvent::PreventativeWorkCompleted)
        .expect_err("completed before started");
    assert!(matches!(err, TransitionError::TooEarly { after: "the preventative work's start", .. }), "{err}");
    apply(&mut case, "2026-11-12T10:00:00Z", CaseEvent::SafetyWorkDone);
    apply(&mut case, "2026-11-12T11:00:00Z", CaseEvent::WrittenSummarySent);
    apply(&mut case, "2026-11-20T11:00:00Z", CaseEvent::PreventativeWorkCompleted);
    // Closing, or stopping, cannot predate what is already on record.
    let err =
        case.apply(utc("2026-11-19T11:00:00Z"), &CaseEvent::Closed).expect_err("closed before the work");
    assert!(matches!(err, TransitionError::TooEarly { after: "the last event recorded", .. }), "{err}");
    let stop = CaseEvent::Stop { reason: StopReason::HouseholdMovedOut };
    let err = case.apply(utc("2026-11-19T11:00:00Z"), &stop).expect_err("stopped before the work");
    assert!(matches!(err, TransitionError::TooEarly { after: "the last event recorded", .. }), "{err}");
    apply(&mut case, "2026-11-20T12:00:00Z", CaseEvent::Closed);
    assert_eq!(case.state(), CaseState::Closed);
}

#[test]
fn an_emergency_can_be_made_safe_on_the_investigating_visit() {
    let mut case = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut case, "2026-11-02T10:00:00Z", triage(TriageCategory::Emergency));
    apply(&mut case, "2026-11-02T16:00:00Z", concluded(InvestigationOutcome::HazardFound));
    // Recorded after the conclusion, but done on the visit before it: allowed, after triage.
    apply(&mut case, "2026-11-02T15:00:00Z", CaseEvent::SafetyWorkDone);
    let mut late = Case::open(Hazard::DampAndMouldGrowth, utc(NOTICED), AwarenessPolicy::AtDetection);
    apply(&mut late, "2026-11-02T10:00:00Z", triage(TriageCategory::Emergency));
    apply(&mut late, "2026-11-02T16:00:00Z", concluded(InvestigationOutcome::HazardFound));
    let err = late.apply(utc("2026-11-02T09:30:00Z"), &CaseEvent::SafetyWorkDone).expect_err("before triage");
    assert!(matches!(err, TransitionError::TooEarly { after: "triage", .. }), "{err}");
}
