//! Which hazards Awaab's Law covers, by phase and date of effect.

mod support;

use dampwatch_clock::case::TriageCategory;
use dampwatch_clock::hazard::TAXONOMY_VERSION;
use dampwatch_clock::london::parse_instant;
use dampwatch_clock::{
    AwarenessPolicy, Case, CaseEvent, Hazard, RulesOverrides, Scope, StatusPolicy, StepName, StepStatus,
    Track,
};
use support::{calendar, d, rules};

#[test]
fn phase_1_covers_damp_and_mould_as_significant_and_every_emergency_but_crowding() {
    let rules = rules();
    let day = d(2025, 10, 27);
    assert_eq!(
        rules.hazards_in_scope(Track::Significant, day).into_iter().collect::<Vec<_>>(),
        [Hazard::DampAndMouldGrowth]
    );
    let emergency = rules.hazards_in_scope(Track::Emergency, day);
    assert_eq!(emergency.len(), 28);
    assert!(!emergency.contains(&Hazard::CrowdingAndSpace));
    // The day before phase 1 nothing is covered.
    assert!(rules.hazards_in_scope(Track::Emergency, d(2025, 10, 26)).is_empty());
    assert!(!rules.scope(Track::Significant, Hazard::DampAndMouldGrowth, d(2025, 10, 26)).applies());
    assert!(TAXONOMY_VERSION.starts_with("hhsrs-"));
}

#[test]
fn excess_cold_on_the_significant_track_starts_with_phase_2_and_is_labelled_unverified() {
    let rules = rules();
    match rules.scope(Track::Significant, Hazard::ExcessCold, d(2026, 11, 29)) {
        Scope::OutOfScope { reason } => {
            assert!(reason.contains("phase_2"), "{reason}");
            assert!(reason.contains("2026-11-30 (UNVERIFIED)"), "{reason}");
        }
        other => panic!("excess cold is not yet covered on 29 Nov 2026: {other:?}"),
    }
    assert_eq!(
        rules.scope(Track::Significant, Hazard::ExcessCold, d(2026, 11, 30)),
        Scope::InScope {
            phase: "phase_2".into(),
            effective: "2026-11-30 (UNVERIFIED)".into(),
            verified: false,
        }
    );
    // Excess cold as an emergency has been covered since phase 1.
    assert!(rules.scope(Track::Emergency, Hazard::ExcessCold, d(2026, 1, 1)).applies());
    assert_eq!(rules.hazards_in_scope(Track::Significant, d(2026, 11, 30)).len(), 14);
    // Crowding and space is outside every phase.
    assert!(!rules.scope(Track::Emergency, Hazard::CrowdingAndSpace, d(2030, 1, 1)).applies());
}

#[test]
fn a_significant_excess_cold_case_has_no_statutory_steps_before_phase_2() {
    let view_for = |aware: &str| {
        let aware = parse_instant(aware).expect("time");
        let mut case = Case::open(Hazard::ExcessCold, aware, AwarenessPolicy::AtDetection);
        case.apply(aware, &CaseEvent::TriageDecided { category: TriageCategory::Significant, hazard: None })
            .expect("triage");
        case.view(aware, &calendar(), &rules(), &StatusPolicy::default()).expect("view")
    };
    // 23:30 GMT on Sunday 29 November 2026: still the day before phase 2 in London.
    let before = view_for("2026-11-29T23:30");
    assert!(!before.scope.as_ref().is_some_and(Scope::applies));
    let investigate = before.step(StepName::Investigate).expect("listed");
    assert!(investigate.deadline.is_none());
    assert!(matches!(&investigate.status, StepStatus::NotRequired { reason } if reason.contains("phase_2")));

    let after = view_for("2026-11-30T00:30");
    assert!(after.scope.as_ref().is_some_and(Scope::applies));
    let investigate = after.step(StepName::Investigate).expect("listed");
    assert!(investigate.deadline.is_some());
    assert_eq!(investigate.status, StepStatus::OnTrack);
}

#[test]
fn phase_3_needs_a_configured_date() {
    let rules = rules();
    let phase_3 = rules.phases().iter().find(|p| p.id == "phase_3").expect("phase 3 represented");
    assert_eq!(phase_3.effective, None);
    assert_eq!(phase_3.date_label(), "date to be set");
    assert!(!rules.scope(Track::Significant, Hazard::Lighting, d(2040, 1, 1)).applies());

    let configured = rules
        .with_overrides(&RulesOverrides { phase_effective: [("phase_3".to_owned(), d(2027, 10, 1))].into() })
        .expect("known phase");
    assert!(configured.scope(Track::Significant, Hazard::Lighting, d(2027, 10, 1)).applies());
    assert!(!configured.scope(Track::Significant, Hazard::Lighting, d(2027, 9, 30)).applies());
    assert_eq!(configured.hazards_in_scope(Track::Significant, d(2027, 10, 1)).len(), 28);
    // The configured version is what deadlines then record.
    assert_eq!(configured.version(), "awaab-2026-11+phase_3@2027-10-01");
}
