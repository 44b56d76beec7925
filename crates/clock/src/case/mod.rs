//! The case: from a potential issue, through a person's triage and the investigation, to
//! closure. The case is rebuilt by applying its stored events in order; an event the current
//! state does not accept is refused with a [`TransitionError`] that lists what is accepted.
//!
//! A case runs under the law of its home's jurisdiction and tenure ([`Tenancy`]). Cases in
//! England (and Wales, which has no statutory clock) follow Awaab's Law's steps: safety work
//! done, preventative work started and completed (or not reasonably practicable). Cases in
//! Scotland follow the Scottish steps instead: safety work commenced, then done, and, while
//! the investigation or the commencement is outstanding, `unable_to_comply` notices.
//!
//! ```text
//! awaiting_triage --triage emergency|significant--> investigating
//!                 --triage no_hazard--------------> no_hazard_found
//! investigating   --investigation hazard_found----> work_required
//!                 --investigation no_hazard-------> no_hazard_found
//! awaiting_triage | investigating | work_required --stop--> stopped
//! work_required (safety work done, preventative completed) | no_hazard_found | stopped
//!                 --closed------------------------> closed
//! ```
//!
//! In Scotland `work_required` closes once the safety work is done (commenced first, within
//! its period).

mod error;
mod event;
mod view;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::hazard::Hazard;
use crate::jurisdiction::{Jurisdiction, Tenancy};
use crate::law::{StepName, Track};

pub use error::{AllowedEvents, TransitionError};
pub use event::{
    AccessOutcome, CaseEvent, EventKind, ExpectedCompliance, InvestigationOutcome, StopReason, TriageCategory,
};
pub use view::{
    due_soon_from, running_status, AlternativeAccommodationView, CaseView, RecordedLate, StatusPolicy,
    StepStatus, StepView, TriageView, UnableToComplyView,
};

/// When the statutory clock starts for a potential issue raised by a sensor alert (a
/// per-landlord setting). A report by a person is awareness at once: open it with
/// [`AwarenessPolicy::AtDetection`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwarenessPolicy {
    /// The clock starts when the potential issue is recorded (conservative default: whether a
    /// sensor alert reaching a dashboard is awareness is not settled).
    #[default]
    AtDetection,
    /// The clock starts when a person triages the issue as a hazard.
    AtTriage,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// A potential issue waiting for a person to decide its category.
    AwaitingTriage,
    /// Triaged as emergency or significant; the investigation is open.
    Investigating,
    /// The investigation found a hazard; safety and preventative work are due.
    WorkRequired,
    /// Triage or the investigation found no hazard (a written summary may still be due).
    NoHazardFound,
    /// A stop event ended the clocks.
    Stopped,
    /// Closed.
    Closed,
}

impl CaseState {
    /// The identifier used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::AwaitingTriage => "awaiting_triage",
            CaseState::Investigating => "investigating",
            CaseState::WorkRequired => "work_required",
            CaseState::NoHazardFound => "no_hazard_found",
            CaseState::Stopped => "stopped",
            CaseState::Closed => "closed",
        }
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The investigation's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Investigation {
    /// When it concluded.
    pub at: DateTime<Utc>,
    /// What it found.
    pub outcome: InvestigationOutcome,
}

/// A recorded notice that the landlord cannot comply with a step in time (Scotland).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnableToComplyNotice {
    /// When the tenant was notified.
    pub at: DateTime<Utc>,
    /// The step concerned.
    pub step: StepName,
    /// The reason given.
    pub reason: String,
    /// When the landlord expects to comply.
    pub expected: ExpectedCompliance,
}

/// A case and everything recorded on it so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    tenancy: Tenancy,
    hazard: Hazard,
    opened_at: DateTime<Utc>,
    awareness_policy: AwarenessPolicy,
    state: CaseState,
    track: Option<Track>,
    triaged_at: Option<DateTime<Utc>>,
    awareness: Option<DateTime<Utc>>,
    investigation: Option<Investigation>,
    written_summary_sent: Option<DateTime<Utc>>,
    safety_work_done: Option<DateTime<Utc>>,
    preventative_started: Option<DateTime<Utc>>,
    preventative_completed: Option<DateTime<Utc>>,
    not_reasonably_practicable: Option<(DateTime<Utc>, String)>,
    alternative_accommodation_offered: Option<DateTime<Utc>>,
    alternative_accommodation_provided: Option<DateTime<Utc>>,
    stopped: Option<(DateTime<Utc>, StopReason)>,
    closed_at: Option<DateTime<Utc>>,
    access_attempts: Vec<(DateTime<Utc>, AccessOutcome)>,
    safety_work_commenced: Option<DateTime<Utc>>,
    unable_to_comply: Vec<UnableToComplyNotice>,
}

impl Case {
    /// A potential issue of concern about `hazard` in a social home in England, recorded at
    /// `noticed_at` (a sensor alert, a call, an e-mail, a visit, a survey).
    pub fn open(hazard: Hazard, noticed_at: DateTime<Utc>, awareness_policy: AwarenessPolicy) -> Self {
        Self::open_in(Tenancy::ENGLAND_SOCIAL, hazard, noticed_at, awareness_policy)
    }

    /// A potential issue of concern about `hazard` in a home of `tenancy` (its jurisdiction
    /// and tenure decide which law's steps the case follows), recorded at `noticed_at`.
    pub fn open_in(
        tenancy: Tenancy,
        hazard: Hazard,
        noticed_at: DateTime<Utc>,
        awareness_policy: AwarenessPolicy,
    ) -> Self {
        let awareness = match awareness_policy {
            AwarenessPolicy::AtDetection => Some(noticed_at),
            AwarenessPolicy::AtTriage => None,
        };
        Case {
            tenancy,
            hazard,
            opened_at: noticed_at,
            awareness_policy,
            state: CaseState::AwaitingTriage,
            track: None,
            triaged_at: None,
            awareness,
            investigation: None,
            written_summary_sent: None,
            safety_work_done: None,
            preventative_started: None,
            preventative_completed: None,
            not_reasonably_practicable: None,
            alternative_accommodation_offered: None,
            alternative_accommodation_provided: None,
            stopped: None,
            closed_at: None,
            access_attempts: Vec::new(),
            safety_work_commenced: None,
            unable_to_comply: Vec::new(),
        }
    }

    /// Rebuild a case of a social home in England from its stored events, in order.
    pub fn replay<'a>(
        hazard: Hazard,
        noticed_at: DateTime<Utc>,
        awareness_policy: AwarenessPolicy,
        events: impl IntoIterator<Item = (DateTime<Utc>, &'a CaseEvent)>,
    ) -> Result<Self, TransitionError> {
        Self::replay_in(Tenancy::ENGLAND_SOCIAL, hazard, noticed_at, awareness_policy, events)
    }

    /// Rebuild a case of a home of `tenancy` from its stored events, in order.
    pub fn replay_in<'a>(
        tenancy: Tenancy,
        hazard: Hazard,
        noticed_at: DateTime<Utc>,
        awareness_policy: AwarenessPolicy,
        events: impl IntoIterator<Item = (DateTime<Utc>, &'a CaseEvent)>,
    ) -> Result<Self, TransitionError> {
        let mut case = Case::open_in(tenancy, hazard, noticed_at, awareness_policy);
        for (at, event) in events {
            case.apply(at, event)?;
        }
        Ok(case)
    }

    /// The jurisdiction and tenure of the home: which law's steps the case follows.
    pub fn tenancy(&self) -> Tenancy {
        self.tenancy
    }

    /// Does the case follow Scotland's steps?
    fn scottish(&self) -> bool {
        self.tenancy.jurisdiction == Jurisdiction::Scotland
    }

    /// The hazard (as corrected by triage, if it was).
    pub fn hazard(&self) -> Hazard {
        self.hazard
    }

    /// When the potential issue was recorded.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }

    /// The awareness policy the case was opened under.
    pub fn awareness_policy(&self) -> AwarenessPolicy {
        self.awareness_policy
    }

    /// Where the case stands.
    pub fn state(&self) -> CaseState {
        self.state
    }

    /// The track, once triaged as emergency or significant.
    pub fn track(&self) -> Option<Track> {
        self.track
    }

    /// When the statutory clock started, once it has.
    pub fn awareness(&self) -> Option<DateTime<Utc>> {
        self.awareness
    }

    /// When the case was triaged.
    pub fn triaged_at(&self) -> Option<DateTime<Utc>> {
        self.triaged_at
    }

    /// The investigation's conclusion, once recorded.
    pub fn investigation(&self) -> Option<Investigation> {
        self.investigation
    }

    /// When and why the clocks stopped.
    pub fn stopped(&self) -> Option<(DateTime<Utc>, StopReason)> {
        self.stopped
    }

    /// When the case was closed.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }

    /// Recorded access attempts (evidence of reasonable endeavours).
    pub fn access_attempts(&self) -> &[(DateTime<Utc>, AccessOutcome)] {
        &self.access_attempts
    }

    /// When relevant safety work began (Scotland), if recorded.
    pub fn safety_work_commenced(&self) -> Option<DateTime<Utc>> {
        self.safety_work_commenced
    }

    /// Every notice that the landlord cannot comply with a step in time, in order.
    pub fn unable_to_comply_notices(&self) -> &[UnableToComplyNotice] {
        &self.unable_to_comply
    }

    /// Can an `unable_to_comply` notice be given for `step` now? Only for a Scottish step
    /// still running: the investigation until it concludes (its clock may run before triage
    /// under the awareness-at-detection policy), the safety work until it has begun.
    fn notice_open_for(&self, step: StepName) -> bool {
        if !self.scottish() {
            return false;
        }
        match (step, self.state) {
            (StepName::Investigate, CaseState::AwaitingTriage) => self.awareness.is_some(),
            (StepName::Investigate, CaseState::Investigating) => true,
            (StepName::SafetyWorkCommenced, CaseState::WorkRequired) => {
                self.safety_work_commenced.is_none() && self.safety_work_done.is_none()
            }
            _ => false,
        }
    }

    /// The events the case accepts now.
    pub fn allowed_events(&self) -> Vec<EventKind> {
        if self.scottish() {
            return self.allowed_events_scotland();
        }
        use EventKind as K;
        let investigated = self.investigation.is_some();
        let summary_owed = investigated && self.written_summary_sent.is_none();
        let mut allowed = Vec::new();
        let mut push = |kind, ok: bool| {
            if ok {
                allowed.push(kind);
            }
        };
        match self.state {
            CaseState::AwaitingTriage => {
                push(K::TriageDecided, true);
                push(K::Stop, true);
                push(K::AccessAttempt, true);
            }
            CaseState::Investigating => {
                push(K::InvestigationConcluded, true);
                // Making an emergency safe often happens on the investigating visit.
                push(
                    K::SafetyWorkDone,
                    self.track == Some(Track::Emergency) && self.safety_work_done.is_none(),
                );
                push(K::Stop, true);
                push(K::AccessAttempt, true);
                push(K::AlternativeAccommodationOffered, self.alternative_accommodation_offered.is_none());
                push(K::AlternativeAccommodationProvided, self.alternative_accommodation_provided.is_none());
            }
            CaseState::WorkRequired => {
                let started = self.preventative_started.is_some();
                push(K::WrittenSummarySent, summary_owed);
                push(K::SafetyWorkDone, self.safety_work_done.is_none());
                push(K::PreventativeWorkStarted, !started);
                push(K::PreventativeWorkCompleted, started && self.preventative_completed.is_none());
                push(
                    K::PreventativeNotReasonablyPracticable,
                    !started && self.not_reasonably_practicable.is_none(),
                );
                push(K::Stop, true);
                push(K::AccessAttempt, true);
                push(K::AlternativeAccommodationOffered, self.alternative_accommodation_offered.is_none());
                push(K::AlternativeAccommodationProvided, self.alternative_accommodation_provided.is_none());
                push(K::Closed, self.outstanding_work().is_empty());
            }
            CaseState::NoHazardFound => {
                push(K::WrittenSummarySent, summary_owed);
                push(K::Closed, !summary_owed);
            }
            CaseState::Stopped => {
                // The tenant is still owed the investigation's findings.
                push(K::WrittenSummarySent, summary_owed);
                push(K::Closed, true);
            }
            CaseState::Closed => {}
        }
        allowed
    }

    /// The events a Scottish case accepts now.
    fn allowed_events_scotland(&self) -> Vec<EventKind> {
        use EventKind as K;
        let summary_owed = self.investigation.is_some() && self.written_summary_sent.is_none();
        let notice = self.notice_open_for(StepName::Investigate)
            || self.notice_open_for(StepName::SafetyWorkCommenced);
        let mut allowed = Vec::new();
        let mut push = |kind, ok: bool| {
            if ok {
                allowed.push(kind);
            }
        };
        match self.state {
            CaseState::AwaitingTriage => {
                push(K::TriageDecided, true);
                push(K::UnableToComply, notice);
                push(K::Stop, true);
                push(K::AccessAttempt, true);
            }
            CaseState::Investigating => {
                push(K::InvestigationConcluded, true);
                push(
                    K::SafetyWorkDone,
                    self.track == Some(Track::Emergency) && self.safety_work_done.is_none(),
                );
                push(K::UnableToComply, notice);
                push(K::Stop, true);
                push(K::AccessAttempt, true);
                push(K::AlternativeAccommodationOffered, self.alternative_accommodation_offered.is_none());
                push(K::AlternativeAccommodationProvided, self.alternative_accommodation_provided.is_none());
            }
            CaseState::WorkRequired => {
                let done = self.safety_work_done.is_some();
                push(K::WrittenSummarySent, summary_owed);
                push(K::SafetyWorkCommenced, self.safety_work_commenced.is_none() && !done);
                push(K::SafetyWorkDone, !done);
                push(K::UnableToComply, notice);
                push(K::Stop, true);
                push(K::AccessAttempt, true);
                push(K::AlternativeAccommodationOffered, self.alternative_accommodation_offered.is_none());
                push(K::AlternativeAccommodationProvided, self.alternative_accommodation_provided.is_none());
                push(K::Closed, self.outstanding_work().is_empty());
            }
            CaseState::NoHazardFound => {
                push(K::WrittenSummarySent, summary_owed);
                push(K::Closed, !summary_owed);
            }
            CaseState::Stopped => {
                push(K::WrittenSummarySent, summary_owed);
                push(K::Closed, true);
            }
            CaseState::Closed => {}
        }
        allowed
    }

    /// What must be recorded before a case with a hazard found can be closed.
    fn outstanding_work(&self) -> Vec<EventKind> {
        if self.scottish() {
            // The safety work done implies it began; the commencement's own deadline is
            // judged on whichever was recorded first.
            return if self.safety_work_done.is_none() {
                vec![EventKind::SafetyWorkDone]
            } else {
                Vec::new()
            };
        }
        let mut missing = Vec::new();
        if self.safety_work_done.is_none() {
            missing.push(EventKind::SafetyWorkDone);
        }
        if self.preventative_started.is_none() {
            missing.push(EventKind::PreventativeWorkStarted);
        }
        if self.preventative_completed.is_none() {
            missing.push(EventKind::PreventativeWorkCompleted);
        }
        missing
    }

    /// When an event that can happen only once was recorded, if it was.
    fn recorded_at(&self, kind: EventKind) -> Option<DateTime<Utc>> {
        match kind {
            EventKind::TriageDecided => self.triaged_at,
            EventKind::InvestigationConcluded => self.investigation.map(|i| i.at),
            EventKind::WrittenSummarySent => self.written_summary_sent,
            EventKind::SafetyWorkDone => self.safety_work_done,
            EventKind::PreventativeWorkStarted => self.preventative_started,
            EventKind::PreventativeWorkCompleted => self.preventative_completed,
            EventKind::PreventativeNotReasonablyPracticable => {
                self.not_reasonably_practicable.as_ref().map(|(at, _)| *at)
            }
            EventKind::Stop => self.stopped.map(|(at, _)| at),
            EventKind::AlternativeAccommodationOffered => self.alternative_accommodation_offered,
            EventKind::AlternativeAccommodationProvided => self.alternative_accommodation_provided,
            EventKind::Closed => self.closed_at,
            EventKind::SafetyWorkCommenced => self.safety_work_commenced,
            EventKind::AccessAttempt | EventKind::UnableToComply => None,
        }
    }

    /// Apply an event that happened at `at`. On error the case is unchanged.
    pub fn apply(&mut self, at: DateTime<Utc>, event: &CaseEvent) -> Result<(), TransitionError> {
        let kind = event.kind();
        let allowed = self.allowed_events();
        if !allowed.contains(&kind) {
            if let Some(earlier) = self.recorded_at(kind) {
                return Err(TransitionError::AlreadyRecorded {
                    event: kind,
                    at: earlier,
                    allowed: AllowedEvents(allowed),
                });
            }
            if kind == EventKind::Closed && self.state == CaseState::WorkRequired {
                return Err(TransitionError::OutstandingWork {
                    missing: AllowedEvents(self.outstanding_work()),
                });
            }
            if kind == EventKind::Closed && self.state == CaseState::NoHazardFound {
                return Err(TransitionError::OutstandingWork {
                    missing: AllowedEvents(vec![EventKind::WrittenSummarySent]),
                });
            }
            return Err(TransitionError::NotAllowed {
                state: self.state,
                event: kind,
                allowed: AllowedEvents(allowed),
            });
        }
        if let CaseEvent::UnableToComply { step, .. } = event {
            // Accepted for a step only while that step is running (see `notice_open_for`).
            if !self.notice_open_for(*step) {
                return Err(TransitionError::NotAllowed {
                    state: self.state,
                    event: kind,
                    allowed: AllowedEvents(allowed),
                });
            }
        }
        for (after, limit) in self.must_follow(event) {
            if at < limit {
                return Err(TransitionError::TooEarly { event: kind, at, after, limit });
            }
        }
        self.record(at, event);
        Ok(())
    }

    /// What an event may not be dated before: the potential issue, and the recorded events it
    /// follows. Deadlines are judged on the dates people state, so a step dated before the
    /// event that made it due would show a late step as on time.
    fn must_follow(&self, event: &CaseEvent) -> Vec<(&'static str, DateTime<Utc>)> {
        use EventKind as K;
        let mut limits = vec![("the potential issue being recorded", self.opened_at)];
        let triage = self.triaged_at.map(|t| ("triage", t));
        let investigation = self.investigation.map(|i| ("the investigation's conclusion", i.at));
        let kind = event.kind();
        if kind == K::SafetyWorkDone {
            // Work cannot be finished before it began.
            limits.extend(self.safety_work_commenced.map(|t| ("the safety work's start", t)));
        }
        match kind {
            K::TriageDecided
            | K::AccessAttempt
            | K::AlternativeAccommodationOffered
            | K::AlternativeAccommodationProvided => {}
            K::InvestigationConcluded => limits.extend(triage),
            // Making an emergency safe may happen on the investigating visit itself.
            K::SafetyWorkDone if self.track == Some(Track::Emergency) => limits.extend(triage),
            K::WrittenSummarySent
            | K::SafetyWorkDone
            | K::SafetyWorkCommenced
            | K::PreventativeWorkStarted
            | K::PreventativeNotReasonablyPracticable => limits.extend(investigation.or(triage)),
            // A notice about the safety work follows the investigation that made it due.
            K::UnableToComply => {
                if let CaseEvent::UnableToComply { step: StepName::SafetyWorkCommenced, .. } = event {
                    limits.extend(investigation);
                }
            }
            K::PreventativeWorkCompleted => {
                limits.extend(self.preventative_started.map(|t| ("the preventative work's start", t)));
            }
            // A case cannot stop or close before anything already recorded on it.
            K::Stop | K::Closed => {
                limits.extend(self.last_recorded().map(|t| ("the last event recorded", t)))
            }
        }
        limits
    }

    /// The latest instant of any event recorded so far.
    fn last_recorded(&self) -> Option<DateTime<Utc>> {
        let kinds = [
            EventKind::TriageDecided,
            EventKind::InvestigationConcluded,
            EventKind::WrittenSummarySent,
            EventKind::SafetyWorkCommenced,
            EventKind::SafetyWorkDone,
            EventKind::PreventativeWorkStarted,
            EventKind::PreventativeWorkCompleted,
            EventKind::PreventativeNotReasonablyPracticable,
            EventKind::AlternativeAccommodationOffered,
            EventKind::AlternativeAccommodationProvided,
        ];
        let attempts = self.access_attempts.iter().map(|(at, _)| *at);
        let notices = self.unable_to_comply.iter().map(|n| n.at);
        kinds.into_iter().filter_map(|k| self.recorded_at(k)).chain(attempts).chain(notices).max()
    }

    /// Change the case for an event already checked by [`Case::apply`].
    fn record(&mut self, at: DateTime<Utc>, event: &CaseEvent) {
        match event {
            CaseEvent::TriageDecided { category, hazard } => {
                self.triaged_at = Some(at);
                if let Some(hazard) = hazard {
                    self.hazard = *hazard;
                }
                let track = match category {
                    TriageCategory::Emergency => Some(Track::Emergency),
                    TriageCategory::Significant => Some(Track::Significant),
                    TriageCategory::NoHazard => None,
                };
                self.track = track;
                match track {
                    Some(_) => {
                        self.awareness.get_or_insert(at);
                        self.state = CaseState::Investigating;
                    }
                    None => self.state = CaseState::NoHazardFound,
                }
            }
            CaseEvent::InvestigationConcluded { outcome } => {
                self.investigation = Some(Investigation { at, outcome: *outcome });
                self.state = match outcome {
                    InvestigationOutcome::HazardFound => CaseState::WorkRequired,
                    InvestigationOutcome::NoHazard => CaseState::NoHazardFound,
                };
            }
            CaseEvent::WrittenSummarySent => self.written_summary_sent = Some(at),
            CaseEvent::SafetyWorkDone => self.safety_work_done = Some(at),
            CaseEvent::PreventativeWorkStarted => self.preventative_started = Some(at),
            CaseEvent::PreventativeWorkCompleted => self.preventative_completed = Some(at),
            CaseEvent::PreventativeNotReasonablyPracticable { reason } => {
                self.not_reasonably_practicable = Some((at, reason.clone()));
            }
            CaseEvent::Stop { reason } => {
                self.stopped = Some((at, *reason));
                self.state = CaseState::Stopped;
            }
            CaseEvent::AccessAttempt { outcome } => self.access_attempts.push((at, *outcome)),
            CaseEvent::AlternativeAccommodationOffered => self.alternative_accommodation_offered = Some(at),
            CaseEvent::AlternativeAccommodationProvided => self.alternative_accommodation_provided = Some(at),
            CaseEvent::Closed => {
                self.closed_at = Some(at);
                self.state = CaseState::Closed;
            }
            CaseEvent::SafetyWorkCommenced => self.safety_work_commenced = Some(at),
            CaseEvent::UnableToComply { step, reason, expected } => {
                self.unable_to_comply.push(UnableToComplyNotice {
                    at,
                    step: *step,
                    reason: reason.clone(),
                    expected: *expected,
                });
            }
        }
    }
}
