//! What can happen to a case. Events are appended with their instant and never edited; the
//! case's state is the result of applying them in order.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::hazard::Hazard;
use crate::law::StepName;

/// A person's triage decision on a potential issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageCategory {
    /// A potential emergency hazard: the 24-hour track.
    Emergency,
    /// A potential significant hazard: the working-day track.
    Significant,
    /// Not a potential hazard.
    NoHazard,
}

/// What the investigation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvestigationOutcome {
    /// A hazard that needs work.
    HazardFound,
    /// No hazard, or no work needed.
    NoHazard,
}

/// Why a case's clocks stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The household moved out.
    HouseholdMovedOut,
    /// A third party's consent was withheld after reasonable steps to obtain it.
    ThirdPartyConsentWithheld,
    /// Further investigation found no hazard or no work needed.
    NoHazardFound,
}

impl StopReason {
    /// The identifier used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::HouseholdMovedOut => "household_moved_out",
            StopReason::ThirdPartyConsentWithheld => "third_party_consent_withheld",
            StopReason::NoHazardFound => "no_hazard_found",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of an attempt to get into the home (evidence of reasonable endeavours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessOutcome {
    /// Nobody answered or the appointment was missed.
    NoAccess,
    /// The occupier refused access.
    Refused,
    /// Access was given.
    Granted,
}

/// When a landlord that cannot comply with a step expects to: by a date, or within a number
/// of working days (of the law's calendar, counted from the day after the notice's
/// Europe/London date). Stored as `{"by": "2026-12-18"}` or `{"working_days": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedCompliance {
    /// By the end of this Europe/London day.
    By(NaiveDate),
    /// Within this many working days.
    WorkingDays(u32),
}

/// Something that happened to a case (the "what"; who, when and evidence are stored with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CaseEvent {
    /// A person decided the category (and may correct the hazard).
    TriageDecided {
        /// The decision.
        category: TriageCategory,
        /// The hazard, when triage names a different one from the potential issue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hazard: Option<Hazard>,
    },
    /// The investigation concluded.
    InvestigationConcluded {
        /// What it found.
        outcome: InvestigationOutcome,
    },
    /// The written summary of the investigation went to the tenant.
    WrittenSummarySent,
    /// The safety work (for an emergency: making safe) was done.
    SafetyWorkDone,
    /// Supplementary preventative work began.
    PreventativeWorkStarted,
    /// Supplementary preventative work was completed.
    PreventativeWorkCompleted,
    /// Beginning preventative work within its period is not reasonably practicable; the
    /// 12-week backstop applies instead.
    PreventativeNotReasonablyPracticable {
        /// The recorded reason.
        reason: String,
    },
    /// The clocks stop.
    Stop {
        /// Why.
        reason: StopReason,
    },
    /// An attempt to get into the home (evidence; changes no clock).
    AccessAttempt {
        /// What happened.
        outcome: AccessOutcome,
    },
    /// Alternative accommodation was offered.
    AlternativeAccommodationOffered,
    /// Alternative accommodation was provided.
    AlternativeAccommodationProvided,
    /// The case is closed.
    Closed,
    /// Relevant safety work began (Scotland: the step that must start within its period).
    SafetyWorkCommenced,
    /// Scotland: circumstances outwith the landlord's control prevent it from completing a
    /// step in time; the tenant was notified that it cannot comply, why, and when it expects
    /// to. May be recorded again with a new expectation. The statutory deadline stays as it
    /// is; the step shows the notice beside it.
    UnableToComply {
        /// The step it cannot complete in time (`investigate` or `safety_work_commenced`).
        step: StepName,
        /// The reason given to the tenant.
        reason: String,
        /// When the landlord expects to comply.
        expected: ExpectedCompliance,
    },
}

/// The kind of a [`CaseEvent`], without its details (used to say what is allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// [`CaseEvent::TriageDecided`]
    TriageDecided,
    /// [`CaseEvent::InvestigationConcluded`]
    InvestigationConcluded,
    /// [`CaseEvent::WrittenSummarySent`]
    WrittenSummarySent,
    /// [`CaseEvent::SafetyWorkDone`]
    SafetyWorkDone,
    /// [`CaseEvent::PreventativeWorkStarted`]
    PreventativeWorkStarted,
    /// [`CaseEvent::PreventativeWorkCompleted`]
    PreventativeWorkCompleted,
    /// [`CaseEvent::PreventativeNotReasonablyPracticable`]
    PreventativeNotReasonablyPracticable,
    /// [`CaseEvent::Stop`]
    Stop,
    /// [`CaseEvent::AccessAttempt`]
    AccessAttempt,
    /// [`CaseEvent::AlternativeAccommodationOffered`]
    AlternativeAccommodationOffered,
    /// [`CaseEvent::AlternativeAccommodationProvided`]
    AlternativeAccommodationProvided,
    /// [`CaseEvent::Closed`]
    Closed,
    /// [`CaseEvent::SafetyWorkCommenced`]
    SafetyWorkCommenced,
    /// [`CaseEvent::UnableToComply`]
    UnableToComply,
}

impl EventKind {
    /// The identifier used in data and APIs (the `type` of a [`CaseEvent`]).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TriageDecided => "triage_decided",
            EventKind::InvestigationConcluded => "investigation_concluded",
            EventKind::WrittenSummarySent => "written_summary_sent",
            EventKind::SafetyWorkDone => "safety_work_done",
            EventKind::PreventativeWorkStarted => "preventative_work_started",
            EventKind::PreventativeWorkCompleted => "preventative_work_completed",
            EventKind::PreventativeNotReasonablyPracticable => "preventative_not_reasonably_practicable",
            EventKind::Stop => "stop",
            EventKind::AccessAttempt => "access_attempt",
            EventKind::AlternativeAccommodationOffered => "alternative_accommodation_offered",
            EventKind::AlternativeAccommodationProvided => "alternative_accommodation_provided",
            EventKind::Closed => "closed",
            EventKind::SafetyWorkCommenced => "safety_work_commenced",
            EventKind::UnableToComply => "unable_to_comply",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CaseEvent {
    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            CaseEvent::TriageDecided { .. } => EventKind::TriageDecided,
            CaseEvent::InvestigationConcluded { .. } => EventKind::InvestigationConcluded,
            CaseEvent::WrittenSummarySent => EventKind::WrittenSummarySent,
            CaseEvent::SafetyWorkDone => EventKind::SafetyWorkDone,
            CaseEvent::PreventativeWorkStarted => EventKind::PreventativeWorkStarted,
            CaseEvent::PreventativeWorkCompleted => EventKind::PreventativeWorkCompleted,
            CaseEvent::PreventativeNotReasonablyPracticable { .. } => {
                EventKind::PreventativeNotReasonablyPracticable
            }
            CaseEvent::Stop { .. } => EventKind::Stop,
            CaseEvent::AccessAttempt { .. } => EventKind::AccessAttempt,
            CaseEvent::AlternativeAccommodationOffered => EventKind::AlternativeAccommodationOffered,
            CaseEvent::AlternativeAccommodationProvided => EventKind::AlternativeAccommodationProvided,
            CaseEvent::Closed => EventKind::Closed,
            CaseEvent::SafetyWorkCommenced => EventKind::SafetyWorkCommenced,
            CaseEvent::UnableToComply { .. } => EventKind::UnableToComply,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_kind_as_type() {
        let e = CaseEvent::Stop { reason: StopReason::HouseholdMovedOut };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"type":"stop","reason":"household_moved_out"}"#);
        assert_eq!(serde_json::from_str::<CaseEvent>(&json).unwrap(), e);
        let triage: CaseEvent =
            serde_json::from_str(r#"{"type":"triage_decided","category":"significant"}"#).unwrap();
        assert_eq!(triage.kind().as_str(), "triage_decided");
    }

    #[test]
    fn scottish_events_serialize_like_the_others() {
        let e = CaseEvent::UnableToComply {
            step: StepName::SafetyWorkCommenced,
            reason: "scaffold licence refused by the council".into(),
            expected: ExpectedCompliance::By(NaiveDate::from_ymd_opt(2026, 12, 18).unwrap()),
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"type":"unable_to_comply","step":"safety_work_commenced","reason":"scaffold licence refused by the council","expected":{"by":"2026-12-18"}}"#
        );
        assert_eq!(serde_json::from_str::<CaseEvent>(&json).unwrap(), e);
        let days: CaseEvent = serde_json::from_str(
            r#"{"type":"unable_to_comply","step":"investigate","reason":"no access","expected":{"working_days":10}}"#,
        )
        .unwrap();
        assert!(matches!(
            days,
            CaseEvent::UnableToComply { expected: ExpectedCompliance::WorkingDays(10), .. }
        ));
        assert_eq!(days.kind().as_str(), "unable_to_comply");
        let commenced = serde_json::to_string(&CaseEvent::SafetyWorkCommenced).unwrap();
        assert_eq!(commenced, r#"{"type":"safety_work_commenced"}"#);
        for kind in [EventKind::SafetyWorkCommenced, EventKind::UnableToComply] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
